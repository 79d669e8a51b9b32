-- Start a delivery in one step: read the job's record and, when it is freshly queued,
-- mark it running as its first attempt (worker.results.store).
--
-- KEYS: the record hash, the events stream. ARGV: now (the ISO time the job starts),
-- TTL, the events stream's length cap. Returns false without a record; {1, record} when
-- this call marked it running (and added that to the events stream); {0, record} for
-- any other record (final, running, retrying, waiting, or not in the fresh shape), which
-- the caller handles as before. Only a record of plain values is rewritten here.
local raw = redis.call('HGET', KEYS[1], 'record')
if not raw then return false end
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return {0, raw} end
local record = cjson.decode(raw)
if record['attempts'] ~= 0 or record['started_at'] ~= cjson.null then return {0, raw} end
for _, value in pairs(record) do
  if type(value) == 'table' then return {0, raw} end
end
record['status'] = 'running'
record['attempts'] = 1
record['started_at'] = ARGV[1]
local text = cjson.encode(record)
redis.call('HSET', KEYS[1], 'status', 'running', 'record', text, 'summary', text)
redis.call('EXPIRE', KEYS[1], ARGV[2])
local configuration = record['configuration']
if type(configuration) ~= 'string' then configuration = '' end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'job', record['job_id'],
  'status', 'running', 'operation', record['operation'], 'configuration', configuration)
return {1, text}
