-- Let one step message drive a sealed group (worker.batches.groups).
--
-- KEYS: the group's hash. ARGV: the message's token. The first token to claim the
-- group owns it; the same token claims it again (the same message, redelivered after
-- its worker died, or put back to wait). Returns 1 when the token owns the group.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local chain = redis.call('HGET', KEYS[1], 'chain')
if chain and chain ~= '' and chain ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'chain', ARGV[1])
return 1
