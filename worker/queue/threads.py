"""Preparing a worker process for its thread count, before Dramatiq starts the threads.

A process may run a thousand threads, each waiting seconds to minutes on a provider:
their stacks, the pools they share, how often idle ones wake and how many run a job's
own code at once are chosen here, in ``before_worker_boot``, the one moment the process
knows how many threads it starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
import dramatiq.worker

from worker.queue.wake import WakingRedisBroker
from worker.settings import Settings
from worker.turns import TURNS

#: How often, in ms, an idle worker thread wakes to check whether it should stop
#: (Dramatiq's default); a message wakes it at once.
THREAD_WAKE_MS = 1000
#: Above this many threads per process, and unless ``OPENAI_WORKER_THREAD_STACK_KIB`` says
#: otherwise, worker threads get ``MANY_THREADS_STACK_KIB`` of stack, not the platform's
#: 8 MiB: 2,048 threads then reserve 2 GiB of address space instead of 16 GiB. Resident
#: memory is the same either way (only touched pages count), but strict overcommit
#: (``vm.overcommit_memory=2``) or ``ulimit -v`` refuse the larger reservation.
MANY_THREADS = 256
MANY_THREADS_STACK_KIB = 1024
#: Past this many threads a process, and unless ``OPENAI_WORKER_TURNS`` says otherwise,
#: ``DEFAULT_TURNS`` of them run a job's own code at once (``worker.turns``). Measured
#: with 10 s and 5 s calls (``bench/run.py --only in_flight``): at 2 × 1,024 and 2 × 256
#: threads, 0.4–0.7 ms less CPU a job and every slot busy between waves; 4, 8 or 16 turns
#: alike; at 2 × 16 and 2 × 64, no difference beyond the noise.
TURNS_PAST_THREADS = 64
DEFAULT_TURNS = 8
#: Past this many threads a process (threads that many wait on long calls), and unless
#: ``dramatiq_queue_prefetch`` says otherwise, a process holds no more messages than it
#: has threads (``WorkerThreads``). With fewer, Dramatiq's twice as many keep short jobs
#: fed: at 2 x 8 threads with a 0 ms provider, one per thread cost 10-20 % of the
#: throughput and 5-20 % more CPU a job (``bench/run.py --only overhead``).
ONE_MESSAGE_PER_THREAD_PAST = 64


def thread_stack_kib(settings: Settings, threads: int) -> int | None:
    """The stack size worker threads get, in KiB; None: the platform's default."""
    if settings.thread_stack_kib is not None:
        return settings.thread_stack_kib
    return MANY_THREADS_STACK_KIB if threads > MANY_THREADS else None


def turns(settings: Settings, threads: int) -> int | None:
    """How many threads may run a job's own code at once; None: all of them."""
    size = DEFAULT_TURNS if threads > TURNS_PAST_THREADS else 0
    if settings.turns is not None:
        size = settings.turns
    return size if 0 < size < threads else None


class WorkerThreads(dramatiq.Middleware):
    """Prepare a worker process for the threads Dramatiq is about to start: their stack
    size, pools with a connection per thread, idle threads that wake once a second, not
    at every idle poll of the consumers, and turns (``worker.turns``): a thread takes one
    with a message and gives it back when done with it.

    Past ``ONE_MESSAGE_PER_THREAD_PAST`` threads a process holds no more messages than it
    has threads (Dramatiq holds twice as many), so the jobs its threads cannot start yet
    stay in Redis for any other worker: with Dramatiq's default, the first of two idle
    processes to fetch took a burst of 2,048 ten-second jobs whole, and the half its
    1,024 threads could not start waited a call's length while the other process's
    threads stood idle (the last of the burst started after 11.3-12.1 s, against 1.1-1.9
    s now). Its consumer fetches again as soon as a job ends (``wake.WakingConsumer``).

    ``expect_threads`` is told the thread count: the process's services size their pools
    by it. Dramatiq gives its worker threads and its consumers one timeout, the idle poll
    we lower to 100 ms (``launch.IDLE_POLL_MS``). Consumers need it; a worker thread only
    uses it to notice a stop, and 2,048 threads waking 10 times a second kept 0.7 of a
    core busy in an idle worker (``bench/run.py --only in_flight``).
    """

    def __init__(self, settings: Settings, expect_threads: Callable[[int], None]) -> None:
        self.settings = settings
        self.expect_threads = expect_threads

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        threads = int(worker.worker_threads)
        stack_kib = thread_stack_kib(self.settings, threads)
        if stack_kib is not None:
            # Applies to threads started from now on: Dramatiq's consumers and workers.
            threading.stack_size(stack_kib * 1024)
        self.expect_threads(threads)
        TURNS.limit(turns(self.settings, threads))
        if threads > ONE_MESSAGE_PER_THREAD_PAST and not dramatiq.worker.QUEUE_PREFETCH:
            worker.queue_prefetch = threads  # not Dramatiq's 2 x threads
        if isinstance(broker, WakingRedisBroker):
            broker.idle_poll_ms = int(worker.worker_timeout)
            worker.worker_timeout = max(int(worker.worker_timeout), THREAD_WAKE_MS)

    def before_process_message(self, broker: Any, message: Any) -> None:
        TURNS.take()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        TURNS.give_back()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        TURNS.give_back()
