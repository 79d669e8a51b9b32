-- Put a failed job back in line, only if it is still failed (worker.results.store).
--
-- KEYS: the record hash, the failed-jobs index, the job's ledger, the events stream.
-- ARGV: the fresh queued record JSON, TTL, job id, the events stream's length cap,
-- operation, configuration ('' for none). Returns '' when requeued, else the status
-- found ('missing' without a record), so of two callers retrying at once only one wins.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'failed' then return status or 'missing' end
redis.call('HSET', KEYS[1], 'status', 'queued', 'record', ARGV[1], 'parts', '',
  'summary', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'job', ARGV[3], 'status', 'queued',
  'operation', ARGV[5], 'configuration', ARGV[6])
return ''
