"""Worker threads with a cheap hand-off: results, errors, context, concurrency, shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from connector.threads import Workers

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def test_run_returns_the_result_and_raises_the_error() -> None:
    workers = Workers(2, name="t")

    def fails() -> None:
        raise ValueError("bad input")

    async def main() -> tuple[str, str]:
        REQUEST_ID.set("r-1")
        seen = await workers.run(lambda: f"{REQUEST_ID.get()} on {threading.current_thread().name}")
        with pytest.raises(ValueError, match="bad input"):
            await workers.run(fails)
        return seen, threading.current_thread().name

    seen, loop_thread = asyncio.run(main())
    assert seen.startswith("r-1 on t-")  # the caller's context variables, another thread
    assert loop_thread not in seen
    workers.shutdown()


def test_calls_run_side_by_side_up_to_the_size() -> None:
    workers = Workers(2, name="t")
    both = threading.Barrier(2, timeout=10)  # each call waits for the other one

    async def main() -> list[int]:
        return list(await asyncio.gather(workers.run(both.wait), workers.run(both.wait)))

    assert sorted(asyncio.run(main())) == [0, 1]
    workers.shutdown()


def test_threads_start_only_when_needed() -> None:
    workers = Workers(8, name="t")
    assert workers._threads == []  # nothing started yet
    done = threading.Event()
    workers.submit(done.set)
    assert done.wait(10)
    for _ in range(20):  # one at a time: the idle thread takes them all
        finished = threading.Event()
        workers.submit(finished.set)
        assert finished.wait(10)
    assert len(workers._threads) <= 2
    workers.shutdown()


def test_a_submitted_call_that_fails_is_logged_and_the_worker_goes_on() -> None:
    workers = Workers(1, name="t")
    after = threading.Event()

    def fails() -> None:
        raise RuntimeError("bug")

    workers.submit(fails)
    workers.submit(after.set)
    assert after.wait(10)
    workers.shutdown()


def test_shutdown_finishes_queued_calls_then_refuses_new_ones() -> None:
    workers = Workers(1, name="t")
    gate = threading.Event()
    ran: list[int] = []
    workers.submit(gate.wait)
    for i in range(3):
        workers.submit(lambda i=i: ran.append(i))  # type: ignore[misc]
    gate.set()
    workers.shutdown(wait=True)
    assert ran == [0, 1, 2]
    with pytest.raises(RuntimeError):
        workers.submit(lambda: None)
    workers.shutdown()  # a second shutdown does nothing


def test_a_cancelled_caller_does_not_break_the_worker() -> None:
    workers = Workers(1, name="t")
    gate = threading.Event()

    async def main() -> str:
        task = asyncio.ensure_future(workers.run(gate.wait))
        await asyncio.sleep(0.05)
        task.cancel()
        gate.set()
        return await workers.run(lambda: "still serving")

    assert asyncio.run(main()) == "still serving"
    workers.shutdown()


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Workers(0, name="t")
