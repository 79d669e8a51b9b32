-- Admit one request under a configuration's shared limits (worker.ratelimit).
--
-- KEYS: requests hash, tokens hash. ARGV: window (in tenths of a second), rpm, tpm
-- (0: none). Counts are kept per tenth of a second of Redis' own clock, so workers whose
-- clocks disagree still share one window. Returns {1, 0} when the request may go, else
-- {0, tenths to wait}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 10 + math.floor(tonumber(time[2]) / 100000)
local window = tonumber(ARGV[1])
local function window_sum(key)
  local total, oldest = 0, now
  local data = redis.call('HGETALL', key)
  for i = 1, #data, 2 do
    local tenth = tonumber(data[i])
    if tenth <= now - window then
      redis.call('HDEL', key, data[i])
    else
      total = total + tonumber(data[i + 1])
      if tenth < oldest then oldest = tenth end
    end
  end
  return total, oldest
end
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
for i = 1, 2 do
  if limits[i] > 0 then
    local used, oldest = window_sum(KEYS[i])
    if used >= limits[i] then
      return {0, oldest + window - now}
    end
  end
end
redis.call('HINCRBY', KEYS[1], now, 1)
redis.call('EXPIRE', KEYS[1], math.ceil(window / 5))
return {1, 0}
