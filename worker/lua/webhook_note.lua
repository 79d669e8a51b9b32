-- Note what became of a job's webhook (worker.results.deliveries).
--
-- KEYS: the job's record hash. ARGV: the webhook id, the fields to set (a JSON object;
-- null removes a field), and 'queued' or 'update'. 'queued' starts the state of a
-- webhook just put in the queue, unless one of that id exists (its delivery may have
-- begun already); 'update' changes only a state of that id. Nothing is written without a
-- record. Returns 1 when written, else 0.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[1], 'webhook')
local state = raw and cjson.decode(raw) or {}
if ARGV[3] == 'queued' then
  if state['id'] == ARGV[1] then return 0 end
  state = {id = ARGV[1], attempts = 0}
elseif state['id'] ~= ARGV[1] then
  return 0
end
for name, value in pairs(cjson.decode(ARGV[2])) do
  if value == cjson.null then state[name] = nil else state[name] = value end
end
redis.call('HSET', KEYS[1], 'webhook', cjson.encode(state))
return 1
