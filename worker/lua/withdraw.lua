-- Take back a submission whose message could not be enqueued (worker.results.store).
--
-- KEYS: the idempotency key (the payload key again when there is none), the record
-- hash, the payload, the index of recent jobs. ARGV: job id, '1' when the job has an
-- idempotency key. The key is released only while it still names this job.
if ARGV[2] == '1' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
