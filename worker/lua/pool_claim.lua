-- Claim one member for a call, if it can take one now (worker.pools.router).
--
-- KEYS: the member's cool, fails, probe, out and busy keys. ARGV: the call's token,
-- how long it may take (ms), how long a probe holds the member (ms). A member out of
-- service or cooling down takes nothing. One that has failed and cooled down since is
-- half-open: one call at a time (the probe, shared by every worker) finds out whether
-- it serves again. Returns 0 (not claimed), 1 (claimed) or 2 (claimed as the probe).
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local claimed = 1
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  if not redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[3]) then
    return 0
  end
  claimed = 2
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[2]) + 60000)
return claimed
