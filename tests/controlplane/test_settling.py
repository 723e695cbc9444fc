"""The bounded wait for a pending message's outcome."""

from __future__ import annotations

import threading

from connector.controlplane import settling


def test_settle_returns_as_soon_as_nothing_is_awaited() -> None:
    answers = iter([True, True, False])
    naps: list[float] = []
    settling.settle(lambda: next(answers), sleep=naps.append)
    assert len(naps) == 2 and naps[1] == 2 * naps[0]


def test_settle_gives_up_after_its_polls() -> None:
    naps: list[float] = []
    settling.settle(lambda: True, polls=5, sleep=naps.append)
    assert len(naps) == 5 and max(naps) <= settling.SETTLE_INTERVAL


def test_no_more_than_max_waiting_wait_at_once() -> None:
    """A counterpart cannot tie up every DSP worker: beyond the bound a message is judged at
    once (no poll, no nap)."""
    release = threading.Event()
    inside = threading.Semaphore(0)

    def blocked() -> bool:
        inside.release()
        release.wait(10)
        return False

    waiters = [
        threading.Thread(target=settling.settle, args=(blocked,))
        for _ in range(settling.MAX_WAITING)
    ]
    for waiter in waiters:
        waiter.start()
    for _ in waiters:
        assert inside.acquire(timeout=10)
    polled: list[bool] = []
    settling.settle(lambda: polled.append(True) or True, sleep=lambda _s: None)
    assert polled == []
    release.set()
    for waiter in waiters:
        waiter.join(10)
    settling.settle(lambda: polled.append(True) or False)
    assert polled == [True]  # free again
