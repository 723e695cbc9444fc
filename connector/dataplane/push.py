"""HTTP push: the provider POSTs the data to the consumer's ``dataDestination``.

Runs in a background thread per transfer once the transfer is STARTED. The access is decided
like a pull (policy, count, audit), then the shaped stream is POSTed (chunked) with the
consumer-supplied ``authorization``; transient failures (connection errors, 5xx, 429) are
retried with exponential backoff, each attempt re-reading the source (an HTTP upstream that
fails transiently is retried the same way; its response streams straight into the POST,
shaped like a pull when the policy requires it). Redirects are never
followed; the destination passes the SSRF guard on every attempt. When delivered,
``on_delivered(transfer_id)`` completes the transfer; a final failure calls ``on_failed``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Final

import structlog

from connector.audit.vocabulary import Result
from connector.dataplane.pipeline import Payload
from connector.dataplane.service import Access, DataPlane
from connector.dataplane.tokens import Grant
from connector.errors import ConnectorError, Unavailable
from connector.http.upstream import UpstreamClient
from connector.model import Agreement, Dataset, Transfer, TransferState

log = structlog.get_logger("connector.dataplane")

RETRYABLE: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            return
        yield chunk


def destination_headers(transfer: Transfer) -> dict[str, str]:
    """The ``Authorization`` header the consumer asked for in its ``dataDestination``."""
    address = transfer.data_address
    if address is None:
        return {}
    props = {k.lower(): v for k, v in address.properties.items()}
    value = props.get("authorization")
    if not value:
        return {}
    if props.get("authtype", "").lower() == "bearer" and not value.lower().startswith("bearer "):
        value = "Bearer " + value
    return {"Authorization": value}


class Pusher:
    """Background push deliveries."""

    def __init__(
        self,
        plane: DataPlane,
        client: UpstreamClient,
        *,
        on_delivered: Callable[[str], None],
        on_failed: Callable[[str, str], None],
        attempts: int = 5,
        backoff_seconds: float = 0.5,
        start_timeout_seconds: float = 30.0,
    ) -> None:
        self.plane = plane
        self.client = client
        self.on_delivered = on_delivered
        self.on_failed = on_failed
        self.attempts = attempts
        self.backoff = backoff_seconds
        self.start_timeout = start_timeout_seconds
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self.threads: dict[str, threading.Thread] = {}

    def start(self, transfer: Transfer, agreement: Agreement, dataset: Dataset) -> None:
        """Deliver ``transfer`` in the background."""
        with self._lock:
            self._cancelled.discard(transfer.id)
        thread = threading.Thread(
            target=self._run,
            args=(transfer, agreement, dataset),
            daemon=True,
            name=f"push-{transfer.id[:16]}",
        )
        self.threads[transfer.id] = thread
        thread.start()

    def cancel(self, transfer_id: str) -> None:
        """Stop a delivery (before its next attempt)."""
        with self._lock:
            self._cancelled.add(transfer_id)

    def _stopped(self, transfer_id: str) -> bool:
        with self._lock:
            return transfer_id in self._cancelled

    def _run(self, transfer: Transfer, agreement: Agreement, dataset: Dataset) -> None:
        try:
            asyncio.run(self._deliver(transfer, agreement, dataset))
        except ConnectorError as exc:
            log.warning("push_failed", transfer=transfer.id, reason=exc.reason)
            self.on_failed(transfer.id, exc.reason)
        except Exception:  # a background thread must not die silently
            log.exception("push_crashed", transfer=transfer.id)
            self.on_failed(transfer.id, "internal_error")

    async def _wait_started(self, transfer_id: str) -> bool:
        clock = self.plane.clock
        deadline = clock.monotonic() + self.start_timeout
        while clock.monotonic() < deadline:
            if self._stopped(transfer_id):
                return False
            current = await asyncio.to_thread(self.plane.contracts.transfer, transfer_id)
            if current is not None and current.state is TransferState.STARTED:
                return True
            if current is not None and current.is_terminal:
                return False
            await asyncio.sleep(0.1)
        raise Unavailable("transfer did not start", reason="push_not_started")

    async def _deliver(self, transfer: Transfer, agreement: Agreement, dataset: Dataset) -> None:
        if transfer.data_address is None or not transfer.data_address.endpoint:
            raise Unavailable("no data destination", reason="push_no_destination")
        if not await self._wait_started(transfer.id):
            return
        now = self.plane.clock.now()
        grant = Grant(transfer.id, agreement.id, agreement.assignee, dataset.id, now, now)
        access = await asyncio.to_thread(self.plane.admit, grant)
        url = transfer.data_address.endpoint
        headers = destination_headers(transfer)
        last = "push_failed"
        for attempt in range(self.attempts):
            if self._stopped(transfer.id):
                return
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            status = await self._attempt(access, url, headers)
            if status is not None and 200 <= status < 300:
                await asyncio.to_thread(self.on_delivered, transfer.id)
                return
            last = f"status_{status}" if status is not None else "unreachable"
            if status is not None and status not in RETRYABLE:
                break
        raise Unavailable(f"push to the destination failed ({last})", reason="push_failed")

    async def _open(self, access: Access) -> Payload:
        if self.plane.is_http(access):
            return await self.plane.sources.open_http(
                access.dataset.source,
                access.narrowing,
                access.decision.plan,
                {},
                delivery=access.delivery,
            )
        return await asyncio.to_thread(
            self.plane.sources.open_sync,
            access.dataset.source,
            access.delivery,
            access.narrowing,
            access.decision.plan,
            None,
        )

    async def _attempt(self, access: Access, url: str, headers: dict[str, str]) -> int | None:
        try:
            payload = await self._open(access)
        except Unavailable as exc:  # an HTTP upstream failed: transient, the caller retries
            await asyncio.to_thread(self.plane.finish, access, 0, Result.ERROR, exc.reason)
            return None
        except ConnectorError as exc:  # refused (SSRF guard, shaping, missing): no retry
            await asyncio.to_thread(self.plane.finish, access, 0, Result.DENIED, exc.reason)
            raise
        sent = 0
        source = (
            payload.chunks
            if isinstance(payload.chunks, AsyncIterator)
            else _async_chunks(payload.chunks)
        )

        async def counted() -> AsyncIterator[bytes]:
            nonlocal sent
            async for chunk in source:
                sent += len(chunk)
                yield chunk

        try:
            async with self.client.request(
                "POST",
                url,
                headers={**headers, "Content-Type": payload.media_type},
                body=counted(),
            ) as response:
                async for _ in response.body:
                    pass
                status = response.status
        except Unavailable as exc:  # transient: the caller retries
            await asyncio.to_thread(self.plane.finish, access, sent, Result.ERROR, exc.reason)
            return None
        except ConnectorError as exc:  # refused (SSRF guard, limits): no retry
            await asyncio.to_thread(self.plane.finish, access, sent, Result.DENIED, exc.reason)
            raise
        finally:  # an upstream connection is closed even if its body was not read to the end
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()
        result = Result.OK if 200 <= status < 300 else Result.ERROR
        await asyncio.to_thread(
            self.plane.finish,
            access,
            sent,
            result,
            None if result is Result.OK else f"status_{status}",
        )
        return status
