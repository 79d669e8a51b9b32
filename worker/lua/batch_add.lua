-- Put one job's requests into the open group of its route, in one step
-- (worker.batches.groups). A job is added once: a redelivery finds its membership.
--
-- KEYS: the route's open-group pointer, the job's membership key, the groups index.
-- ARGV: job id, a new group's id, now (epoch s), max requests, max bytes, TTL, the
-- group keys' prefix, configuration, endpoint, model, then the job's request lines.
-- Returns {group, created (0/1), sealed group or ""}: a group sealed by this call (the
-- open one when this job would overflow it, or the job's own when this job fills it)
-- should be stepped by the caller at once.
local prefix = ARGV[7]
local member = redis.call('GET', KEYS[2])
if member then return {member, 0, ''} end
local n = #ARGV - 10
local size = 0
for i = 11, #ARGV do size = size + #ARGV[i] + 1 end
local max_requests, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])

local function seal(group)
  redis.call('HSET', prefix .. 'group:' .. group, 'state', 'sealed', 'sealed_at', ARGV[3])
  redis.call('DEL', KEYS[1])
end

local sealed = ''
local group = redis.call('GET', KEYS[1])
if group then
  local hash = prefix .. 'group:' .. group
  local fields = redis.call('HMGET', hash, 'state', 'requests', 'bytes')
  if fields[1] ~= 'open' then
    redis.call('DEL', KEYS[1])
    group = false
  elseif tonumber(fields[2]) + n > max_requests or tonumber(fields[3]) + size > max_bytes then
    seal(group)
    sealed = group
    group = false
  end
end
local created = 0
if not group then
  group = ARGV[2]
  created = 1
  redis.call('HSET', prefix .. 'group:' .. group, 'configuration', ARGV[8], 'endpoint', ARGV[9],
    'model', ARGV[10], 'state', 'open', 'created_at', ARGV[3], 'requests', 0, 'bytes', 0,
    'jobs', 0)
  redis.call('SET', KEYS[1], group)
  redis.call('ZADD', KEYS[3], ARGV[3], group)
end
local hash = prefix .. 'group:' .. group
for i = 11, #ARGV, 1000 do  -- unpack's stack is bounded: push a thousand at a time
  redis.call('RPUSH', prefix .. 'lines:' .. group, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('RPUSH', prefix .. 'jobs:' .. group, ARGV[1])
redis.call('HINCRBY', hash, 'jobs', 1)
local requests = redis.call('HINCRBY', hash, 'requests', n)
local bytes = redis.call('HINCRBY', hash, 'bytes', size)
redis.call('SET', KEYS[2], group, 'EX', ARGV[6])
if sealed == '' and (requests >= max_requests or bytes >= max_bytes) then
  seal(group)
  sealed = group
end
return {group, created, sealed}
