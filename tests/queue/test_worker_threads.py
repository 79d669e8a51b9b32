"""A worker process is prepared for its thread count before Dramatiq starts the threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import dramatiq.worker
import pytest
import redis

from worker.engine import services
from worker.keys import Keys
from worker.queue.threads import (
    DEFAULT_TURNS,
    MANY_THREADS_STACK_KIB,
    THREAD_WAKE_MS,
    WorkerThreads,
)
from worker.queue.wake import WakingRedisBroker
from worker.settings import Settings
from worker.turns import TURNS


@pytest.fixture(autouse=True)
def _reset_process_state() -> Iterator[None]:
    yield
    threading.stack_size(0)
    TURNS.limit(None)
    services.expect_threads(services.DEFAULT_THREADS)
    services._services = None


def boot(
    settings: Settings, broker: Any, threads: int, timeout_ms: int = 100, prefetch: int = 0
) -> Any:
    """Run the middleware's hook as Dramatiq's ``Worker.start`` does; the worker it saw
    (its prefetch as Dramatiq sets it: ``prefetch`` if given, else twice the threads)."""
    worker = SimpleNamespace(
        worker_threads=threads, worker_timeout=timeout_ms, queue_prefetch=prefetch or 2 * threads
    )
    WorkerThreads(settings, services.expect_threads).before_worker_boot(broker, worker)
    return worker


def waking_broker(namespace: str) -> WakingRedisBroker:
    keys = Keys(namespace)
    return WakingRedisBroker(
        wake_channel=keys.wake_channel,
        client=redis.Redis.from_url("redis://127.0.0.1:1"),  # never connected here
        namespace=keys.dramatiq_namespace,
    )


def test_many_threads_get_a_smaller_stack_than_the_platform_default() -> None:
    boot(Settings(), None, threads=1024)

    assert threading.stack_size() == MANY_THREADS_STACK_KIB * 1024


def test_a_few_threads_keep_the_platform_stack() -> None:
    boot(Settings(), None, threads=8)

    assert threading.stack_size() == 0


def test_the_stack_size_setting_wins_over_the_default() -> None:
    boot(Settings(thread_stack_kib=512), None, threads=1024)

    assert threading.stack_size() == 512 * 1024


def test_threads_started_after_boot_run_on_the_chosen_stack() -> None:
    boot(Settings(thread_stack_kib=256), None, threads=1024)
    depth: list[int] = []

    def recurse(n: int) -> int:
        return 0 if n == 0 else 1 + recurse(n - 1)

    # Given a small stack, When a thread recurses as deep as Python allows, Then it
    # still ends normally (Python's limit comes before the stack's end).
    thread = threading.Thread(target=lambda: depth.append(recurse(900)))
    thread.start()
    thread.join()
    assert depth == [900]


def test_the_process_keeps_an_http_connection_per_worker_thread(redis_url: str) -> None:
    boot(Settings(), None, threads=1024)

    built = services.services_for_process(Settings(), redis_url)

    assert built.runner.http.pool_size == 1024
    assert isinstance(built.redis.connection_pool, redis.BlockingConnectionPool)


def test_idle_worker_threads_wake_once_a_second_while_consumers_keep_their_poll() -> None:
    broker = waking_broker("threads-test")

    worker = boot(Settings(), broker, threads=1024, timeout_ms=100)

    assert worker.worker_timeout == THREAD_WAKE_MS
    assert broker.idle_poll_ms == 100


def test_a_slower_poll_than_a_second_is_kept_for_both() -> None:
    broker = waking_broker("threads-test")

    worker = boot(Settings(), broker, threads=8, timeout_ms=5000)

    assert worker.worker_timeout == 5000
    assert broker.idle_poll_ms == 5000


def test_consumers_back_off_by_the_poll_the_broker_was_given() -> None:
    broker = waking_broker("threads-test")
    broker.idle_poll_ms = 100

    consumer = broker.consume("jobs", prefetch=2, timeout=THREAD_WAKE_MS)

    assert consumer.idle_ms == 100


def test_past_many_threads_a_few_at_a_time_run_a_jobs_own_code() -> None:
    boot(Settings(), None, threads=1024)

    assert TURNS.size == DEFAULT_TURNS


def test_a_few_threads_all_run_at_once() -> None:
    boot(Settings(), None, threads=8)

    assert TURNS.size is None


@pytest.mark.parametrize(
    ("setting", "threads", "size"),
    [(16, 1024, 16), (0, 1024, None), (2, 8, 2), (8, 8, None), (32, 8, None)],
)
def test_the_turns_setting_wins_over_the_default(
    setting: int, threads: int, size: int | None
) -> None:
    boot(Settings(turns=setting), None, threads=threads)

    assert TURNS.size == size


@pytest.mark.parametrize("threads", [65, 1024])
def test_past_many_threads_a_process_prefetches_one_message_per_thread(threads: int) -> None:
    worker = boot(Settings(), None, threads=threads)

    assert worker.queue_prefetch == threads


@pytest.mark.parametrize("threads", [1, 8, 64])
def test_a_few_threads_keep_dramatiqs_prefetch_of_two_messages_each(threads: int) -> None:
    worker = boot(Settings(), None, threads=threads)

    assert worker.queue_prefetch == 2 * threads


def test_dramatiqs_own_prefetch_setting_still_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    # As `dramatiq_queue_prefetch=50` in the environment sets it when Dramatiq loads
    monkeypatch.setattr(dramatiq.worker, "QUEUE_PREFETCH", 50)

    worker = boot(Settings(), None, threads=1024, prefetch=50)

    assert worker.queue_prefetch == 50
