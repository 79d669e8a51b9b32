-- Take back a submission whose message could not be enqueued (worker.results.store).
--
-- KEYS: the idempotency key (the payload key again when there is none), the record
-- hash, the payload, the index of recent jobs, the events stream. ARGV: job id, '1' when
-- the job has an idempotency key, the events stream's length cap. The key is released
-- only while it still names this job. The events stream hears the job was withdrawn.
if ARGV[2] == '1' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
local raw = redis.call('HGET', KEYS[2], 'record')
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
if raw then
  local record = cjson.decode(raw)
  local configuration = record['configuration']
  if type(configuration) ~= 'string' then configuration = '' end
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[3], '*', 'job', ARGV[1],
    'status', 'withdrawn', 'operation', record['operation'], 'configuration', configuration)
end
return 1
