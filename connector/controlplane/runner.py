"""The outbox runner: delivers queued DSP messages, retries with exponential backoff.

A message committed by this replica is leased to its runner in the same transaction and
handed over by :meth:`Runner.accept` right after the commit, so it leaves within
milliseconds of its decision without another database round trip; otherwise the runner sleeps
on an event that :meth:`Runner.wake`/:meth:`Runner.accept` set; the timeout
of that sleep is only the safety net for rows queued by another replica, retries that come
due and leases left by a crashed replica. On start it simply leases what is due: after a crash
nothing is lost (the decision and its message were committed together).

A message decided while a counterpart's request is being answered waits until the answer is
out (:meth:`Runner.holding`, :meth:`Runner.release`): otherwise it could overtake that answer,
and the counterpart would get our next message before the acknowledgement of its own — which it
has to wait for (or judge out of order).

Outcome of one delivery: 2xx → the process moves (acknowledgement); a transport failure, 5xx,
408 or 429 → retry after ``base_delay * 2**attempts`` (capped), up to ``max_attempts``; any other
answer (the counterpart refused the message) or running out of attempts → the message is given
up (a never-acknowledged first message ends its process as TERMINATED; otherwise the state stays).
While deliveries to a counterparty fail that way, its messages are tried one at a time (the
others wait behind in memory, :class:`_Failing`): one that does not answer holds one delivery
thread for the HTTP timeout, not all of them.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog

from connector.clock import Clock
from connector.controlplane.ports import OutboundHttp, OutboxMessage, TokenSource
from connector.dsp.errors import received_error
from connector.errors import ConnectorError
from connector.model.process import Undelivered
from connector.threads import Workers

log = structlog.get_logger("connector.runner")

_RETRYABLE = {408, 425, 429}
_MAX_REASON = 500
"""Characters of a counterparty's refusal reason kept on the process (it is their text)."""


def refusal(body: object) -> tuple[str | None, str]:
    """The ``code`` and one reason text of a counterparty's refusal (its DSP error body)."""
    code, reasons = received_error(body)
    if not isinstance(body, Mapping):
        return None, "the counterparty gave no DSP error body"
    return code, ("; ".join(reasons) or "no reason given")[:_MAX_REASON]


class OutboxQueue(Protocol):
    def lease(
        self, owner: str, now: float, *, limit: int = ..., lease_seconds: float = ...
    ) -> list[OutboxMessage]: ...
    def retry(self, message_id: int, at: float, error: str) -> None: ...
    def next_due(self) -> float | None: ...


class ProcessHandler(Protocol):
    def acknowledged(
        self, message_id: int, event: str, pid: str, body: Mapping[str, Any] | None
    ) -> None: ...
    def refused(self, message_id: int, pid: str, why: Undelivered) -> None: ...


class Runner:
    """Delivers the outbox of one replica (``owner`` names it in row leases)."""

    def __init__(
        self,
        outbox: OutboxQueue,
        http: OutboundHttp,
        tokens: TokenSource,
        handlers: Mapping[str, ProcessHandler],
        clock: Clock,
        *,
        owner: str,
        max_attempts: int = 8,
        base_delay: float = 0.2,
        max_delay: float = 60.0,
        idle_seconds: float = 2.0,
        workers: int = 8,
    ) -> None:
        self._outbox = outbox
        self._http = http
        self._tokens = tokens
        self._handlers = handlers
        self._clock = clock
        self.owner = owner
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.idle_seconds = idle_seconds
        self._workers = workers
        self._event = threading.Event()
        self._ready: queue.SimpleQueue[OutboxMessage] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: Workers | None = None
        self._look = True
        """Whether the next round leases from the database (start, :meth:`wake`, a timeout);
        messages handed over by :meth:`accept` need no lease query."""
        self._holds = threading.local()
        self._failing = _Failing()

    def wake(self) -> None:
        """Look for due messages now."""
        self._look = True
        self._event.set()

    @contextmanager
    def holding(self) -> Iterator[list[OutboxMessage]]:
        """Messages this thread's transactions commit inside the block are collected in the
        yielded list instead of being delivered; hand them to :meth:`release` once the
        request being served has been answered (they are leased to this runner: if they were
        never released, they would leave only when the lease expires)."""
        outer = getattr(self._holds, "held", None)
        held: list[OutboxMessage] = []
        self._holds.held = held
        try:
            yield held
        finally:
            self._holds.held = outer

    def release(self, held: list[OutboxMessage]) -> None:
        """Deliver the messages :meth:`holding` collected (once: the list is emptied)."""
        messages, held[:] = list(held), []
        if messages:
            self._deliver_now(messages)

    def accept(self, messages: list[OutboxMessage]) -> None:
        """Deliver messages just committed *and leased to this runner* (store listener):
        straight to a delivery worker while the runner runs, else at its next round; inside
        :meth:`holding`, once released."""
        held = getattr(self._holds, "held", None)
        if held is not None:
            held.extend(messages)
            return
        self._deliver_now(messages)

    def _deliver_now(self, messages: list[OutboxMessage]) -> None:
        pool = self._pool
        if pool is not None:
            try:
                for message in messages:
                    pool.submit(functools.partial(self._safe_deliver, message))
                return
            except RuntimeError:  # shutting down: the lease expires, a runner delivers it
                return
        for message in messages:
            self._ready.put(message)
        self._event.set()

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt number ``attempts + 1``."""
        return float(min(self.max_delay, self.base_delay * (2**attempts)))

    def deliver(self, message: OutboxMessage) -> bool:
        """Send one message and record the outcome; ``False`` when the counterparty could not
        be reached or failed (a transport failure, 5xx, 408, 429: the message is retried)."""
        assert message.id is not None
        handler = self._handlers[message.process_kind]
        error: str
        try:
            headers = {"authorization": self._tokens.token_for(message.audience)}
            result = self._http.post_json(message.url, message.body, headers=headers)
        except ConnectorError as exc:
            if exc.status < 500:
                log.warning("outbox_refused_locally", url=message.url, reason=exc.reason)
                why = self._undelivered(message, exc.detail, code=exc.reason)
                handler.refused(message.id, message.process_id, why)
                return True
            error = f"{exc.reason}: {exc.detail}"
        else:
            if 200 <= result.status < 300:
                body = result.body if isinstance(result.body, Mapping) else None
                handler.acknowledged(message.id, message.event, message.process_id, body)
                return True
            if result.status < 500 and result.status not in _RETRYABLE:
                log.info("outbox_refused", url=message.url, status=result.status, body=result.body)
                code, reason = refusal(result.body)
                why = self._undelivered(message, reason, status=result.status, code=code)
                handler.refused(message.id, message.process_id, why)
                return True
            error = f"HTTP {result.status}"
        if message.attempts + 1 >= self.max_attempts:
            log.warning("outbox_gave_up", url=message.url, error=error)
            reason = f"no answer after {message.attempts + 1} attempts (last: {error})"
            why = self._undelivered(message, reason[:_MAX_REASON], code="out_of_attempts")
            handler.refused(message.id, message.process_id, why)
            return False
        at = self._clock.now().timestamp() + self.backoff(message.attempts)
        self._outbox.retry(message.id, at, error)
        self.wake()  # the loop's next sleep ends when the retry is due
        return False

    def _undelivered(
        self, message: OutboxMessage, reason: str, *, status: int | None = None, code: str | None
    ) -> Undelivered:
        return Undelivered(message.event, self._clock.now(), reason, status, code)

    def _safe_deliver(self, message: OutboxMessage) -> None:
        """Deliver ``message`` — or, while its counterparty fails and another delivery to it
        is under way, queue it behind that one (:class:`_Failing`)."""
        origin = _origin(message.url)
        if not self._failing.begin(origin, message):
            return
        answered = False
        try:
            answered = self.deliver(message)
        except Exception:  # a bug must not stop the runner; the lease expires, it is retried
            log.exception("outbox_delivery_failed", url=message.url)
        following = self._failing.end(origin, message, answered=answered)
        if following:
            self._deliver_now(following)

    def run_once(self, pool: Workers | None = None) -> int:
        """Lease what is due now and deliver it (in ``pool`` without waiting, if given);
        returns how many messages were leased. A leased row is not leased again until its
        lease expires, so a delivery still running is never started twice."""
        batch = self._outbox.lease(self.owner, self._clock.now().timestamp())
        for message in batch:
            if pool is None:
                self._safe_deliver(message)
            else:
                pool.submit(functools.partial(self._safe_deliver, message))
        return len(batch)

    def _drain(self, pool: Workers) -> int:
        count = 0
        while True:
            try:
                message = self._ready.get_nowait()
            except queue.Empty:
                return count
            pool.submit(functools.partial(self._safe_deliver, message))
            count += 1

    def _loop(self) -> None:
        pool = Workers(self._workers, name="outbox")
        self._pool = pool
        try:
            while not self._stop.is_set():
                self._event.clear()
                if self._drain(pool) and not self._look:
                    continue
                self._look = False
                try:
                    if self.run_once(pool):
                        self._look = True  # there may be more than one batch
                        continue
                    due = self._outbox.next_due()
                except Exception:
                    log.exception("outbox_runner_error")
                    due = None
                timeout = self.idle_seconds
                if due is not None:
                    timeout = max(0.0, min(timeout, due - self._clock.now().timestamp()))
                if not self._event.wait(timeout):
                    self._look = True  # the safety net: other replicas, due retries, leases
        finally:
            self._pool = None
            pool.shutdown(wait=True)

    def start(self) -> None:
        """Run in a background thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="outbox-runner", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (waits for the current batch)."""
        self._stop.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class _Failing:
    """Counterparties (origins) whose last delivery failed (no answer, 5xx, 408, 429): to such
    an origin one message is delivered at a time, the others wait in memory behind it, so a
    counterparty that does not answer holds one delivery thread (for the HTTP timeout per
    attempt), not all of them. The first answer from it ends that; the waiting messages are
    then delivered at once. Waiting messages keep their lease; one this runner leases again
    while it waits (its lease ran out) is not queued twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: set[str] = set()
        self._busy: dict[str, int] = {}
        self._waiting: dict[str, list[OutboxMessage]] = {}
        self._known: set[int] = set()

    def begin(self, origin: str, message: OutboxMessage) -> bool:
        """Whether to deliver ``message`` now (else it waits, or is already on its way)."""
        with self._lock:
            if message.id is not None and message.id in self._known:
                return False
            if origin in self._failing and self._busy.get(origin, 0) > 0:
                self._waiting.setdefault(origin, []).append(message)
                if message.id is not None:
                    self._known.add(message.id)
                return False
            self._busy[origin] = self._busy.get(origin, 0) + 1
            if message.id is not None:
                self._known.add(message.id)
            return True

    def end(self, origin: str, message: OutboxMessage, *, answered: bool) -> list[OutboxMessage]:
        """The delivery of ``message`` is over; the messages to deliver next."""
        with self._lock:
            if message.id is not None:
                self._known.discard(message.id)
            left = self._busy.get(origin, 1) - 1
            if left:
                self._busy[origin] = left
            else:
                self._busy.pop(origin, None)
            waiting = self._waiting.get(origin, [])
            if answered:
                self._failing.discard(origin)
                released, self._waiting[origin] = waiting, []
            else:
                self._failing.add(origin)
                released = waiting[:1] if left == 0 else []
                self._waiting[origin] = waiting[len(released) :]
            if not self._waiting[origin]:
                del self._waiting[origin]
            for queued in released:
                if queued.id is not None:
                    self._known.discard(queued.id)
            return released
