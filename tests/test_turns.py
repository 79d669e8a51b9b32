"""Turns: at most a few threads of a process run a job's own code at once; a thread
waiting on the outside world holds none."""

from __future__ import annotations

import threading
import time

from worker.turns import Turns


def hold_turns(turns: Turns, threads: int, work_s: float) -> int:
    """Start ``threads`` threads that each take a turn, work a while and give it back;
    how many held a turn at the same time, at most."""
    lock = threading.Lock()
    holding = most = 0

    def work() -> None:
        nonlocal holding, most
        turns.take()
        with lock:
            holding += 1
            most = max(most, holding)
        time.sleep(work_s)
        with lock:
            holding -= 1
        turns.give_back()

    started = [threading.Thread(target=work) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(10)
    return most


def test_no_more_threads_than_the_limit_hold_a_turn_at_once() -> None:
    turns = Turns()
    turns.limit(2)

    assert hold_turns(turns, threads=8, work_s=0.02) == 2


def test_without_a_limit_every_thread_goes_at_once() -> None:
    turns = Turns()
    turns.limit(None)

    assert hold_turns(turns, threads=8, work_s=0.1) == 8
    assert turns.size is None


def test_a_thread_away_lets_another_take_its_turn_and_takes_one_again_after() -> None:
    turns = Turns()
    turns.limit(1)
    turns.take()
    other_took = threading.Event()

    def other() -> None:
        turns.take()
        other_took.set()
        time.sleep(0.05)
        turns.give_back()

    thread = threading.Thread(target=other)
    with turns.away():
        thread.start()
        # Given this thread is away (waiting on a provider), the only turn is free.
        assert other_took.wait(5)
    # Back from the wait, this thread holds the turn again, once the other gave it back.
    thread.join(5)
    assert not thread.is_alive()
    blocked = threading.Thread(target=turns.take, daemon=True)
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # the one turn is this thread's
    turns.give_back()
    blocked.join(5)
    assert not blocked.is_alive()


def test_taking_twice_holds_one_turn_and_giving_back_without_one_is_harmless() -> None:
    turns = Turns()
    turns.limit(2)
    turns.take()
    turns.take()  # the same thread: still one turn
    turns.give_back()
    turns.give_back()  # holds none: nothing to give

    assert hold_turns(turns, threads=4, work_s=0.02) == 2


def test_away_without_a_turn_takes_none_after() -> None:
    turns = Turns()
    turns.limit(1)

    with turns.away():
        pass

    # This thread never held a turn, so it still holds none: another thread takes it.
    assert hold_turns(turns, threads=1, work_s=0) == 1


def test_sleeping_holds_no_turn() -> None:
    turns = Turns()
    turns.limit(1)
    turns.take()
    took: list[float] = []

    def other() -> None:
        turns.take()
        took.append(time.monotonic())
        turns.give_back()

    thread = threading.Thread(target=other)
    started = time.monotonic()
    thread.start()
    turns.sleep(0.3)
    thread.join(5)
    turns.give_back()

    assert len(took) == 1
    assert took[0] - started < 0.25  # it ran while this thread slept
