-- Submit a job: its idempotency key, queued record and payload, its place in the
-- newest-first index, its first event and, when the broker is Redis, its message on the
-- jobs queue, all in one step (worker.results.store).
--
-- KEYS: the idempotency key (the payload key again when there is none), the record
-- hash, the payload, the index of recent jobs, the events stream; then, to enqueue, the
-- broker's list of ready messages and its hash of messages (Dramatiq's Redis layout).
-- ARGV: job id, record JSON, payload JSON, TTL, '1' when the job has an idempotency key,
-- now (seconds), the events stream's length cap, operation, configuration ('' for
-- none); then, to enqueue, the message's id, its encoded data, the wake channel and the
-- queue's name. Returns the job id the key already names (nothing is written), else
-- this job's id. Index entries older than the TTL (their records have expired) are
-- trimmed whenever one is added. The message and the record are written together, so a
-- job is never queued without its record, nor its key taken without its message.
if ARGV[5] == '1' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return existing end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
end
redis.call('HSET', KEYS[2], 'status', 'queued', 'record', ARGV[2], 'parts', '',
  'summary', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'job', ARGV[1], 'status', 'queued',
  'operation', ARGV[8], 'configuration', ARGV[9])
if KEYS[6] then
  -- What Dramatiq's enqueue command writes; then wake idle consumers (lua/wake.lua)
  -- when this message is the one that ends an empty queue.
  redis.call('HSET', KEYS[7], ARGV[10], ARGV[11])
  if redis.call('RPUSH', KEYS[6], ARGV[10]) == 1 then
    redis.call('PUBLISH', ARGV[12], ARGV[13])
  end
end
return ARGV[1]
