-- Read the routing state of a pool's members in one step (worker.pools.router).
--
-- KEYS: none. ARGV: the members' key prefix (…:member:), then member names. Each
-- member's keys are PREFIX..name..':cool' (set while it cools down, expiring when that
-- ends), ':fails' (consecutive failures), ':out' (a hash, set while it is out of
-- service), ':busy' (a sorted set of calls in flight, scored by when they time out)
-- and ':latency' (milliseconds, a moving average). Uses Redis' clock. Returns, per
-- member: {cooling ms left (0: none), fails, out (0/1), calls in flight, latency ms
-- (-1: none yet)}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local found = {}
for i = 2, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local cooling = redis.call('PTTL', key .. ':cool')
  if cooling < 0 then cooling = 0 end
  local fails = tonumber(redis.call('GET', key .. ':fails') or '0')
  local out = redis.call('EXISTS', key .. ':out')
  redis.call('ZREMRANGEBYSCORE', key .. ':busy', '-inf', now)
  local busy = redis.call('ZCARD', key .. ':busy')
  local latency = tonumber(redis.call('GET', key .. ':latency') or '-1')
  found[#found + 1] = {cooling, fails, out, busy, math.floor(latency)}
end
return found
