-- Begin an attempt at a job's webhook (worker.results.deliveries).
--
-- KEYS: the job's record hash. ARGV: the webhook id, now (ISO). The webhook must be the
-- one of the job's final record as it stands: 'msg_' and the first 32 hex digits of
-- SHA-1(job id, newline, finished_at), as worker.engine.webhooks.webhook_id derives it
-- (read from the record's summary, which holds no output). The state is the hash's
-- 'webhook' field (JSON), so it lives and expires with the record; a state of another
-- webhook id (an older end of a job an operator retried) starts over.
-- Returns {-1} when the record is gone, not final or of another webhook (the job was
-- retried since); {0, state} when this webhook has ended (delivered, gone, failed);
-- else {1, state}: the attempt counted, the status 'delivering'.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'succeeded' and status ~= 'failed' then return {-1} end
local summary = cjson.decode(redis.call('HGET', KEYS[1], 'summary')
  or redis.call('HGET', KEYS[1], 'record'))
local finished = summary['finished_at']
if type(finished) ~= 'string' then finished = '' end
local current = 'msg_' .. string.sub(redis.sha1hex(summary['job_id'] .. '\n' .. finished), 1, 32)
if current ~= ARGV[1] then return {-1} end
local raw = redis.call('HGET', KEYS[1], 'webhook')
local state = raw and cjson.decode(raw) or {}
if state['id'] == ARGV[1] then
  local ended = state['status']
  if ended == 'delivered' or ended == 'gone' or ended == 'failed' then return {0, raw} end
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
