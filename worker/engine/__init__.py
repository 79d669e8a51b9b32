"""Running jobs: the job runner (one delivery) and the services a worker process builds
once to run them (``services``). Free of Dramatiq; ``worker.queue.actors`` calls in."""
