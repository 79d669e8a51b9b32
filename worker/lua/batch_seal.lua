-- Seal an open group (its window has passed), once (worker.batches.groups).
--
-- KEYS: the group's hash, its route's open-group pointer. ARGV: the group id, now
-- (epoch s). Returns 1 when this call sealed it, 0 when it was not open.
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'sealed', 'sealed_at', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
