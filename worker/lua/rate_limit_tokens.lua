-- Count the tokens a call used against a configuration's limit (worker.ratelimit).
--
-- KEYS: tokens hash. ARGV: tokens, window (in tenths of a second). Counted at the
-- current tenth of a second of Redis' own clock, as rate_limit_acquire.lua reads it.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 10 + math.floor(tonumber(time[2]) / 100000)
redis.call('HINCRBY', KEYS[1], now, tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 5))
return 1
