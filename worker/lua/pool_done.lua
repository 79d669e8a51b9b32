-- A member's call ended (worker.pools.router).
--
-- KEYS: the member's cool, fails, probe, out, busy and latency keys. ARGV: the call's
-- token, the outcome ('ok', 'failed' or 'out'), the call's milliseconds, the base and
-- the longest cooldown (ms), the provider's Retry-After (ms, 0: none), a reason.
-- 'ok' clears the failures and moves the latency average; 'failed' starts a cooldown,
-- the provider's wish or doubling from the base with each consecutive failure; 'out'
-- takes the member out of service until its configuration is saved again. Returns the
-- cooldown in ms (0 for the others).
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if ARGV[2] == 'ok' then
  redis.call('DEL', KEYS[2])
  local sample = tonumber(ARGV[3])
  local average = tonumber(redis.call('GET', KEYS[6]) or '-1')
  if average >= 0 then sample = average * 0.8 + sample * 0.2 end
  redis.call('SET', KEYS[6], tostring(sample), 'EX', 3600)
  return 0
end
if ARGV[2] == 'out' then
  local time = redis.call('TIME')
  redis.call('HSET', KEYS[4], 'reason', ARGV[7], 'since', time[1])
  return 0
end
local fails = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 3600)
local cooldown = tonumber(ARGV[6])
if cooldown <= 0 then
  cooldown = math.min(tonumber(ARGV[4]) * 2 ^ math.min(fails - 1, 30), tonumber(ARGV[5]))
end
cooldown = math.max(math.floor(cooldown), 1)
redis.call('SET', KEYS[1], ARGV[7], 'PX', cooldown)
return cooldown
