-- Begin an attempt at a job's webhook (worker.results.deliveries).
--
-- KEYS: the job's record hash. ARGV: the webhook id, now (ISO). The state is the hash's
-- 'webhook' field (JSON), so it lives and expires with the record. A state of another
-- webhook id (the job was retried and ended again) starts over. Returns false without
-- a record; {0, state} when this webhook has ended already (delivered, gone, failed);
-- else {1, state} with the attempt counted and the status 'delivering'.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local raw = redis.call('HGET', KEYS[1], 'webhook')
local state = raw and cjson.decode(raw) or {}
if state['id'] == ARGV[1] then
  local status = state['status']
  if status == 'delivered' or status == 'gone' or status == 'failed' then return {0, raw} end
else
  state = {id = ARGV[1], attempts = 0}
end
state['status'] = 'delivering'
state['attempts'] = (tonumber(state['attempts']) or 0) + 1
if type(state['first_attempt_at']) ~= 'string' then state['first_attempt_at'] = ARGV[2] end
state['last_attempt_at'] = ARGV[2]
local text = cjson.encode(state)
redis.call('HSET', KEYS[1], 'webhook', text)
return {1, text}
