-- Write a job's record unless a final one is stored (worker.results.store).
--
-- KEYS: the record hash, the failed-jobs index, the events stream, with a delivery to
-- acknowledge its broker's set of unacknowledged ids and hash of messages, then the parts
-- of a large output (if any). ARGV: status, record JSON, TTL, force, job id, now
-- (seconds), the parts' marker ('' for none), the record without its output (the summary
-- lists read), the events stream's length cap, the job's ended channel, operation,
-- configuration ('' for none), the delivery's message id ('' for none: nothing to
-- acknowledge; only a final record names one), '1' to publish the record with its final
-- status ('' for the status alone). The delivery is acknowledged (as the
-- broker's own ack does) whether or not a final record was there already: either way
-- the job is final. Failed jobs are indexed by time; entries older than the TTL (their
-- records have expired) are trimmed whenever one is added. A refused write
-- deletes its own parts; an accepted one gives them the record's TTL and returns the
-- marker of the parts it replaced, for the caller to delete. A change of status is
-- added to the events stream, and a final one published on the job's channel: the status,
-- or (ARGV[14]) the status, a newline, the hash's webhook state ('' for none), a newline
-- and the record, which is what a waiter would read next.
local first_part = 4
if ARGV[13] ~= '' then first_part = 6 end
-- Last, once the record is final: a message is never acknowledged without it.
local function acknowledge()
  if ARGV[13] ~= '' and redis.call('SREM', KEYS[4], ARGV[13]) > 0 then
    redis.call('HDEL', KEYS[5], ARGV[13])
  end
end
local status = redis.call('HGET', KEYS[1], 'status')
if status and (status == 'succeeded' or status == 'failed') and ARGV[4] ~= '1' then
  for i = first_part, #KEYS do redis.call('DEL', KEYS[i]) end
  acknowledge()
  return {0, ''}
end
local replaced = redis.call('HGET', KEYS[1], 'parts') or ''
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'record', ARGV[2], 'parts', ARGV[7],
  'summary', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[3])
for i = first_part, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
if ARGV[1] == 'failed' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[3]))
else
  redis.call('ZREM', KEYS[2], ARGV[5])
end
if status ~= ARGV[1] then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', 'job', ARGV[5], 'status', ARGV[1],
    'operation', ARGV[11], 'configuration', ARGV[12])
  if ARGV[1] == 'succeeded' or ARGV[1] == 'failed' then
    local message = ARGV[1]
    if ARGV[14] == '1' then
      message = message .. '\n' .. (redis.call('HGET', KEYS[1], 'webhook') or '') .. '\n'
        .. ARGV[2]
    end
    redis.call('PUBLISH', ARGV[10], message)
  end
end
acknowledge()
return {1, replaced}
