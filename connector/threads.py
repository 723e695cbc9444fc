"""Worker threads for blocking work, with a cheap hand-off.

A DSP message crosses threads several times: from the event loop to the thread that
authenticates it and runs its use case and back, and from the committing thread to the thread
that delivers the message it implies. Through asyncio's ``run_in_executor`` on a
``concurrent.futures.ThreadPoolExecutor`` a round trip costs 50–130 µs of CPU on the 2-vCPU
benchmark machine (a concurrent ``Future`` with its condition variable, the idle-thread
semaphore, asyncio's chaining of one future to another); through :class:`Workers` 16–90 µs
(x1.4 with one caller, x3.2 with eight), a fire-and-forget hand-off 3 µs against 12 µs: calls
wait in one ``queue.SimpleQueue`` (a C queue), threads are started as needed, and a result is
set on the caller's asyncio future with one ``call_soon_threadsafe`` (``benchmarks/handoff.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

T = TypeVar("T")
log = structlog.get_logger("connector.threads")

_Job = tuple[Callable[[], Any], "asyncio.Future[Any] | None", "asyncio.AbstractEventLoop | None"]


class Workers:
    """Up to ``size`` daemon threads taking calls from one queue, in order (a thread is started
    when a call finds none idle, until there are ``size``)."""

    def __init__(self, size: int, *, name: str) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self._size = size
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, call: Callable[[], object]) -> None:
        """Run ``call`` on a worker and do not wait; an exception it raises is logged (the
        caller handles its own failures). ``RuntimeError`` after :meth:`shutdown`."""
        self._put((call, None, None))

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` on a worker (in a copy of the caller's context variables) and return
        its result or raise its exception, without blocking the event loop. If the awaiting
        task is cancelled, ``call`` still runs to its end; its outcome is dropped."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put((functools.partial(contextvars.copy_context().run, call), future, loop))
        return await future

    def _put(self, job: _Job) -> None:
        with self._lock:  # no call is queued behind the stop markers
            if self._closed:
                raise RuntimeError("the worker pool has been shut down")
            if self._idle:
                self._idle -= 1  # that thread is this call's
            elif len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._jobs.put(job)

    def shutdown(self, *, wait: bool = True) -> None:
        """Let the queued calls finish, then stop the threads (joined if ``wait``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
            for _ in threads:
                self._jobs.put(None)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future, loop = job
            try:
                result = call()
            except BaseException as exc:  # handed to the caller (or logged)
                if future is None or loop is None:
                    log.exception("worker_call_failed")
                else:
                    _settle_threadsafe(loop, future, None, exc)
            else:
                if future is not None and loop is not None:
                    _settle_threadsafe(loop, future, result, None)
            del job, call, future, loop
            with self._lock:
                self._idle += 1


def _settle_threadsafe(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled while the call ran
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
