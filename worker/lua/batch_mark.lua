-- Merge fields into the ``batch`` object of many jobs' records, and move those still
-- queued (or batched) to a new status, in one step per chunk (worker.engine.batch_steps).
--
-- KEYS: the events stream, then the jobs' record hashes. ARGV: the fields (a JSON
-- object), the new status or "" to keep each status, the TTL, the events stream's
-- length cap. Returns each job's operation, or "" for a job that has ended (succeeded,
-- failed: cancelled meanwhile) or has no record: nothing was written. A job whose
-- status changed is added to the events stream.
local merge = cjson.decode(ARGV[1])
local found = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local status = redis.call('HGET', key, 'status')
  local raw = redis.call('HGET', key, 'record')
  if not raw or status == 'succeeded' or status == 'failed' then
    found[i - 1] = ''
  else
    local record = cjson.decode(raw)
    local batch = record['batch']
    if type(batch) ~= 'table' then batch = {} end
    for name, value in pairs(merge) do batch[name] = value end
    record['batch'] = batch
    local was = status
    if ARGV[2] ~= '' and (status == 'queued' or status == 'batched') then status = ARGV[2] end
    record['status'] = status
    local text = cjson.encode(record)
    redis.call('HSET', key, 'status', status, 'record', text, 'summary', text)
    redis.call('EXPIRE', key, ARGV[3])
    if status ~= was then
      local configuration = record['configuration']
      if type(configuration) ~= 'string' then configuration = '' end
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'job', record['job_id'],
        'status', status, 'operation', record['operation'], 'configuration', configuration)
    end
    found[i - 1] = record['operation']
  end
end
return found
