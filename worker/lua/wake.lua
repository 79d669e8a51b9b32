-- Wake idle consumers when an enqueue made the jobs queue non-empty (worker.queue.wake).
--
-- Runs right after Dramatiq's own enqueue, in the same MULTI/EXEC. KEYS: the queue's
-- list. ARGV: the wake channel, the queue's name. Consumers only idle on an empty
-- queue, so only the job that ends that is announced; a busy queue publishes nothing.
if redis.call('LLEN', KEYS[1]) == 1 then
  redis.call('PUBLISH', ARGV[1], ARGV[2])
end
return 0
