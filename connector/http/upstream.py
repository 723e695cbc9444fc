"""A small streaming HTTP/1.1 client on asyncio streams, for the data plane's byte paths.

Used for HTTP upstream sources and for push deliveries, where throughput matters (see
``docs/decisions/20261201-data-plane-http-client.md``: measured against httpx). It does one
request per connection, never follows redirects (a 3xx is returned to the caller, which treats
it as a failure), connects only to an address the SSRF guard approved for the host
(``OutboundGuard.check_url``; TLS still verifies the host name), and enforces connect/read
timeouts and a response size limit. Response bodies are read as they arrive
(``Content-Length``, ``chunked`` or until close) and never buffered whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import SplitResult, urlsplit

from connector.errors import PayloadTooLarge, Unavailable
from connector.http.guard import OutboundGuard

MAX_HEADER_BYTES: Final = 64 * 1024
READ_SIZE: Final = 1024 * 1024
HIGH_WATER: Final = 4 * 1024 * 1024
"""Received but unread bytes above which reading from the socket pauses."""
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)


@dataclass
class UpstreamResponse:
    """Status, lower-cased headers and the body as an async iterator of chunks."""

    status: int
    headers: dict[str, str]
    body: AsyncGenerator[bytes, None] = field(repr=False)


class _Connection(asyncio.Protocol):
    """One connection's byte stream: received chunks are queued and handed out as they are
    (no copying into a buffer), with read flow control; writes wait for the transport."""

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._paused = False
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and not self._paused and self._transport is not None:
            self._transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._error = exc
        self._writable.set()
        self._wake()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (a received chunk as it is when it fits); ``b""`` at the end."""
        while not self._chunks and not self._eof:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        if not self._chunks:
            return b""
        data = self._chunks[0]
        if len(data) <= n:
            self._chunks.popleft()
        else:
            self._chunks[0] = data[n:]
            data = data[:n]
        self._size -= len(data)
        if self._paused and self._size < HIGH_WATER // 4 and self._transport is not None:
            self._transport.resume_reading()
            self._paused = False
        return data

    def unread(self, data: bytes) -> None:
        """Put bytes back in front."""
        if data:
            self._chunks.appendleft(data)
            self._size += len(data)

    async def readuntil(self, separator: bytes, limit: int) -> bytes:
        """Bytes up to and including ``separator``; ValueError past ``limit`` or at the end."""
        buffer = b""
        while True:
            index = buffer.find(separator)
            if index >= 0:
                end = index + len(separator)
                self.unread(buffer[end:])
                return buffer[:end]
            if len(buffer) > limit:
                raise ValueError("separator not found within the limit")
            chunk = await self.read(READ_SIZE)
            if not chunk:
                raise ValueError("connection closed")
            buffer += chunk

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; ValueError if the connection ends first."""
        parts: list[bytes] = []
        while n:
            chunk = await self.read(n)
            if not chunk:
                raise ValueError("connection closed")
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)

    def write(self, data: bytes) -> None:
        if self._transport is None or self._error is not None or self._transport.is_closing():
            raise ConnectionResetError("connection closed")
        self._transport.write(data)

    async def drain(self) -> None:
        await self._writable.wait()
        if self._error is not None:
            raise ConnectionResetError("connection closed")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class UpstreamClient:
    """Streaming requests to guarded targets."""

    def __init__(
        self,
        guard: OutboundGuard,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_bytes: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.guard = guard
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self._ssl = ssl_context or ssl.create_default_context()

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[UpstreamResponse]:
        """Send one request; yields the response while the connection is open."""
        parts = urlsplit(url)
        addresses = await asyncio.to_thread(self.guard.check_url, url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        target = addresses[0] if addresses else host
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    target,
                    port,
                    ssl=self._ssl if https else None,
                    server_hostname=host if https else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise Unavailable(f"cannot connect to {host}", reason="upstream_unreachable") from exc
        try:
            await self._send(conn, self._head_bytes(method, parts, headers or {}, body), body)
            status, response_headers = await self._head(conn)
            yield UpstreamResponse(status, response_headers, self._body(conn, response_headers))
        finally:
            conn.close()

    @staticmethod
    def _head_bytes(
        method: str,
        parts: SplitResult,
        headers: Mapping[str, str],
        body: bytes | AsyncIterable[bytes] | None,
    ) -> bytes:
        https = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        default = 443 if https else 80
        host_header = host if port == default else f"{host}:{port}"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
        for name, value in headers.items():
            if name.lower() in _HOP_BY_HOP or name.lower() == "content-length":
                continue
            if "\r" in name + value or "\n" in name + value:
                raise Unavailable("header contains a line break", reason="bad_header")
            lines.append(f"{name}: {value}")
        lines.append("Connection: close")
        if isinstance(body, bytes):
            lines.append(f"Content-Length: {len(body)}")
        elif body is not None:
            lines.append("Transfer-Encoding: chunked")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _send(
        self, writer: _Connection, head: bytes, body: bytes | AsyncIterable[bytes] | None
    ) -> None:
        writer.write(head)
        try:
            if isinstance(body, bytes):
                writer.write(body)
            elif body is not None:
                async for chunk in body:
                    if chunk:
                        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                        await asyncio.wait_for(writer.drain(), self.read_timeout)
                writer.write(b"0\r\n\r\n")
            await asyncio.wait_for(writer.drain(), self.read_timeout)
        except (OSError, TimeoutError) as exc:
            raise Unavailable("upstream closed the connection", reason="upstream_failed") from exc

    async def _head(self, reader: _Connection) -> tuple[int, dict[str, str]]:
        try:
            raw = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n", MAX_HEADER_BYTES), self.read_timeout
            )
        except (ValueError, OSError, TimeoutError) as exc:
            raise Unavailable("upstream sent no valid response", reason="upstream_failed") from exc
        if len(raw) > MAX_HEADER_BYTES:
            raise Unavailable("upstream response header too large", reason="upstream_failed")
        lines = raw.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if (
            len(status_line) < 2
            or not status_line[0].startswith("HTTP/1.")
            or not status_line[1].isdigit()
        ):
            raise Unavailable("upstream sent no valid response", reason="upstream_failed")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise Unavailable("upstream sent a malformed header", reason="upstream_failed")
            key = name.strip().lower()
            headers[key] = (headers[key] + ", " if key in headers else "") + value.strip()
        return int(status_line[1]), headers

    async def _read(self, reader: _Connection, n: int) -> bytes:
        try:
            return await asyncio.wait_for(reader.read(n), self.read_timeout)
        except (OSError, TimeoutError) as exc:
            raise Unavailable("upstream read failed", reason="upstream_failed") from exc

    async def _body(
        self, reader: _Connection, headers: Mapping[str, str]
    ) -> AsyncGenerator[bytes, None]:
        total = 0
        limit = self.max_bytes
        if "chunked" in headers.get("transfer-encoding", "").lower():
            async with contextlib.aclosing(self._chunked(reader)) as chunks:
                async for chunk in chunks:
                    total += len(chunk)
                    if limit is not None and total > limit:
                        raise PayloadTooLarge(
                            "upstream response too large", reason="upstream_too_large"
                        )
                    yield chunk
            return
        length = headers.get("content-length")
        remaining = int(length) if length and length.isdigit() else None
        if remaining is not None and limit is not None and remaining > limit:
            raise PayloadTooLarge("upstream response too large", reason="upstream_too_large")
        while remaining is None or remaining > 0:
            chunk = await self._read(
                reader, READ_SIZE if remaining is None else min(READ_SIZE, remaining)
            )
            if not chunk:
                if remaining:
                    raise Unavailable("upstream response truncated", reason="upstream_failed")
                return
            total += len(chunk)
            if limit is not None and total > limit:
                raise PayloadTooLarge("upstream response too large", reason="upstream_too_large")
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk

    async def _chunked(self, reader: _Connection) -> AsyncGenerator[bytes, None]:
        while True:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\r\n", 4096), self.read_timeout)
                size = int(line.split(b";", 1)[0].strip(), 16)
            except (ValueError, OSError, TimeoutError) as exc:
                raise Unavailable(
                    "upstream sent a malformed chunk", reason="upstream_failed"
                ) from exc
            if size == 0:
                return
            remaining = size
            while remaining:
                chunk = await self._read(reader, min(READ_SIZE, remaining))
                if not chunk:
                    raise Unavailable("upstream response truncated", reason="upstream_failed")
                remaining -= len(chunk)
                yield chunk
            try:
                await asyncio.wait_for(reader.readexactly(2), self.read_timeout)
            except (ValueError, OSError, TimeoutError) as exc:
                raise Unavailable(
                    "upstream sent a malformed chunk", reason="upstream_failed"
                ) from exc
