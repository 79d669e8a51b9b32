-- Merge fields into the ``batch`` object of many jobs' records, and move those still
-- queued (or batched) to a new status, in one step per chunk (worker.engine.batch_steps).
--
-- KEYS: the jobs' record hashes. ARGV: the fields (a JSON object), the new status or ""
-- to keep each status, the TTL. Returns each job's operation, or "" for a job that has
-- ended (succeeded, failed: cancelled meanwhile) or has no record: nothing was written.
local merge = cjson.decode(ARGV[1])
local found = {}
for i, key in ipairs(KEYS) do
  local status = redis.call('HGET', key, 'status')
  local raw = redis.call('HGET', key, 'record')
  if not raw or status == 'succeeded' or status == 'failed' then
    found[i] = ''
  else
    local record = cjson.decode(raw)
    local batch = record['batch']
    if type(batch) ~= 'table' then batch = {} end
    for name, value in pairs(merge) do batch[name] = value end
    record['batch'] = batch
    if ARGV[2] ~= '' and (status == 'queued' or status == 'batched') then status = ARGV[2] end
    record['status'] = status
    local text = cjson.encode(record)
    redis.call('HSET', key, 'status', status, 'record', text, 'summary', text)
    redis.call('EXPIRE', key, ARGV[3])
    found[i] = record['operation']
  end
end
return found
