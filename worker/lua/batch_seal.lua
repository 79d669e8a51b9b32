-- Seal an open group whose window has passed, once (worker.batches.groups).
--
-- KEYS: the group's hash, its route's open-group pointer. ARGV: the group id, now
-- (epoch s), a new chain token. Returns the chain token that owns the group's steps:
-- the given one when this call sealed it, else the one stored when it was sealed.
if redis.call('HGET', KEYS[1], 'state') == 'open' then
  redis.call('HSET', KEYS[1], 'state', 'sealed', 'sealed_at', ARGV[2], 'chain', ARGV[3])
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
  return ARGV[3]
end
return redis.call('HGET', KEYS[1], 'chain') or ''
