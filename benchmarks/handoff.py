"""CPU per thread hop: ``connector.threads.Workers`` against ``concurrent.futures``.

Run: ``.venv/bin/python benchmarks/handoff.py [--calls 20000]``. On a uvloop event loop (as
``connector serve`` runs), side by side in one run:

* from the event loop to a worker thread and back — ``loop.run_in_executor`` on a
  ``ThreadPoolExecutor`` (what DSP requests used) against ``Workers.run`` — one caller at a
  time and eight at once;
* fire and forget from a thread — ``ThreadPoolExecutor.submit`` against ``Workers.submit`` (the
  outbox runner handing a message to a delivery thread).

Prints CPU µs per hop (all threads of the process) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.threads import Workers


def _nothing() -> int:
    return 1


async def _round_trips(call: Callable[[], Awaitable[int]], calls: int, callers: int) -> float:
    """CPU µs per call of ``call`` awaited ``calls`` times by ``callers`` tasks."""

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    start = time.process_time()
    await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
    return (time.process_time() - start) / calls * 1e6


def _fire_and_forget(submit: Callable[[Callable[[], object]], object], calls: int) -> float:
    """CPU µs per call handed off with ``submit`` (until the last one has run)."""
    done = threading.Event()
    left = [calls]
    lock = threading.Lock()

    def one() -> None:
        with lock:
            left[0] -= 1
            if left[0] == 0:
                done.set()

    start = time.process_time()
    for _ in range(calls):
        submit(one)
    done.wait()
    return (time.process_time() - start) / calls * 1e6


async def _main(calls: int) -> None:
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(8)
    workers = Workers(8, name="bench")

    def executor() -> Awaitable[int]:
        return loop.run_in_executor(pool, contextvars.copy_context().run, _nothing)

    def lean() -> Awaitable[int]:
        return workers.run(_nothing)

    for callers in (1, 8):
        await _round_trips(executor, calls // 10, callers)  # warm up both
        await _round_trips(lean, calls // 10, callers)
        old = await _round_trips(executor, calls, callers)
        new = await _round_trips(lean, calls, callers)
        print(
            f"event loop -> worker -> event loop, {callers} caller(s): run_in_executor"
            f" {old:.1f} µs CPU, Workers.run {new:.1f} µs (x{old / new:.2f})"
        )
    old = _fire_and_forget(pool.submit, calls)
    new = _fire_and_forget(workers.submit, calls)
    print(
        f"fire and forget: ThreadPoolExecutor.submit {old:.1f} µs CPU, Workers.submit"
        f" {new:.1f} µs (x{old / new:.2f})"
    )
    pool.shutdown()
    workers.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    uvloop.run(_main(args.calls))


if __name__ == "__main__":
    main()
