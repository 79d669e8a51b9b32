-- Cancel a job that has not started running, in one step (worker.results.store).
--
-- KEYS: the record hash, the failed-jobs index, the events stream. ARGV: the cancelled
-- record's error (JSON), now (ISO), now (epoch s), the TTL, the events stream's length
-- cap, the job's ended channel. A queued, retrying or waiting job ends failed with that
-- error (an event, and a message on its channel); a batched one is flagged (it fails
-- when its batch's answers are read). Returns the status found ("" without a record):
-- the caller tells which.
local status = redis.call('HGET', KEYS[1], 'status')
local raw = redis.call('HGET', KEYS[1], 'record')
if not raw then return '' end
if status ~= 'queued' and status ~= 'retrying' and status ~= 'waiting' and status ~= 'batched' then
  return status
end
local record = cjson.decode(raw)
if status == 'batched' then
  if type(record['batch']) ~= 'table' then record['batch'] = {} end
  record['batch']['cancelled'] = true
else
  record['status'] = 'failed'
  record['success'] = false
  record['error'] = cjson.decode(ARGV[1])
  record['finished_at'] = ARGV[2]
  record['retry_at'] = cjson.null
  redis.call('ZADD', KEYS[2], ARGV[3], record['job_id'])
end
local text = cjson.encode(record)
redis.call('HSET', KEYS[1], 'status', record['status'], 'record', text, 'summary', text)
redis.call('EXPIRE', KEYS[1], ARGV[4])
if status ~= 'batched' then
  local configuration = record['configuration']
  if type(configuration) ~= 'string' then configuration = '' end
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'job', record['job_id'],
    'status', 'failed', 'operation', record['operation'], 'configuration', configuration)
  redis.call('PUBLISH', ARGV[6], 'failed')
end
return status
