-- Submit a job: its idempotency key, queued record and payload in one step, its place
-- in the newest-first index and its first event (worker.results.store).
--
-- KEYS: the idempotency key (the payload key again when there is none), the record
-- hash, the payload, the index of recent jobs, the events stream. ARGV: job id, record
-- JSON, payload JSON, TTL, '1' when the job has an idempotency key, now (seconds), the
-- events stream's length cap, operation, configuration ('' for none). Returns the job
-- id the key already names (nothing is written), else this job's id. Index entries
-- older than the TTL (their records have expired) are trimmed whenever one is added.
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
return ARGV[1]
