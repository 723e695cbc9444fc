"""Outbound JSON over HTTP for the control plane (implements ``OutboundHttp``).

Every URL passes the SSRF guard first, and a new connection is made to the addresses the guard
checked (not to the host name resolved once more: DNS rebinding cannot lead it elsewhere; a
kept-alive connection stays with the address it was made to). Transport failures become
``Unavailable`` (the runner retries them); a body larger than ``max_bytes`` is not read: the
limit is enforced while the response streams in (a declared ``Content-Length`` above it is
refused before reading, an endless or oversized body is cut off at the limit and the
connection dropped), and the result then has no body. Redirects are not followed. Responses
must not be compressed (we ask for ``identity``; a compressed body is not decoded and counts
as no body).

The transport is the standard library's ``http.client`` with a small keep-alive pool per
origin (decision record 20261201-control-plane-throughput): a DSP message costs about a third
of the CPU time of the same request through httpx. An idle connection the server has closed is
noticed before reuse; a request that fails on a reused connection before any answer arrived is
sent once more on a fresh one. Proxy settings (``HTTP(S)_PROXY``) are not used: counterparties
are reached directly, as the SSRF guard checked them.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from connector import jsontext
from connector.controlplane.ports import HttpResult
from connector.errors import Unavailable
from connector.http.guard import OutboundGuard

_Origin = tuple[str, str, int]
_CHUNK = 64 * 1024
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Pool:
    """Idle keep-alive connections per origin (at most ``per_origin`` each)."""

    def __init__(self, timeout: float, per_origin: int, context: ssl.SSLContext) -> None:
        self._timeout = timeout
        self._per_origin = per_origin
        self._context = context
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, origin: _Origin) -> http.client.HTTPConnection | None:
        """An idle connection to ``origin`` that is still usable, if there is one."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                conn = idle.pop() if idle else None
            if conn is None or _alive(conn):
                return conn
            conn.close()

    def open(self, origin: _Origin, addresses: Sequence[str]) -> http.client.HTTPConnection:
        """A new connection to ``origin``, made to one of ``addresses`` (those the guard
        checked; none: the host by name, for hosts the operator allowed by name). The Host
        header and TLS (SNI, certificate check) still use the host name."""
        scheme, host, port = origin
        if scheme == "https":
            secure = _PinnedHTTPS(host, port, timeout=self._timeout, context=self._context)
            secure.addresses = tuple(addresses)
            return secure
        plain = _PinnedHTTP(host, port, timeout=self._timeout)
        plain.addresses = tuple(addresses)
        return plain

    def give_back(self, origin: _Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if not self._closed and len(idle) < self._per_origin:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _connect(addresses: Sequence[str], target: tuple[str, int], *args: Any) -> socket.socket:
    """``socket.create_connection`` to the first of ``addresses`` that answers, instead of
    resolving the host again (a name that resolves differently the second time must not lead
    past the guard); the host by name when there are none (a host allowed by name)."""
    if not addresses:
        return _no_delay(socket.create_connection(target, *args))
    failure: OSError | None = None
    for address in addresses:
        try:
            return _no_delay(socket.create_connection((address, target[1]), *args))
        except OSError as exc:
            failure = exc
    assert failure is not None
    raise failure


def _no_delay(sock: socket.socket) -> socket.socket:
    """No Nagle delay: a request is one write already; nothing should wait for an ACK."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _OneWrite(http.client.HTTPConnection):
    """Sends a request's head and a ``bytes`` body in one write: ``http.client`` writes them
    separately, which costs a second system call and a second TCP segment (and wake-up) at the
    receiver for every DSP message (the head is built in ``_buffer``, ``http.client``'s own
    request buffer; without it, the standard behaviour)."""

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        head = getattr(self, "_buffer", None)
        if isinstance(message_body, bytes) and not encode_chunked and isinstance(head, list):
            head.extend((b"", message_body))  # request line, headers, empty line, body
            request = b"\r\n".join(head)
            del head[:]
            self.send(request)
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _PinnedHTTP(_OneWrite):
    """A connection made to given addresses (``addresses``), named by its host."""

    addresses: Sequence[str] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = lambda target, *rest: _connect(self.addresses, target, *rest)


class _PinnedHTTPS(http.client.HTTPSConnection, _OneWrite):
    """:class:`_PinnedHTTP` over TLS (the certificate is checked for the host name)."""

    addresses: Sequence[str] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = lambda target, *rest: _connect(self.addresses, target, *rest)


def _alive(conn: http.client.HTTPConnection) -> bool:
    """An idle connection is usable if nothing is waiting to be read (a closed peer shows up
    as readable: end of stream)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):  # any descriptor number (select() stops at 1024)
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class GuardedJsonClient:
    """POST/GET JSON to counterparties, after the guard allowed the target."""

    def __init__(
        self,
        guard: OutboundGuard,
        *,
        timeout_seconds: float = 5.0,
        max_bytes: int = 4 * 1024 * 1024,
        connections_per_origin: int = 32,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._guard = guard
        self._max_bytes = max_bytes
        self._pool = _Pool(
            timeout_seconds, connections_per_origin, ssl_context or ssl.create_default_context()
        )

    @property
    def guard(self) -> OutboundGuard:
        """The guard every target passes (also for checking an address before it is used)."""
        return self._guard

    def close(self) -> None:
        """Close the idle connections."""
        self._pool.close()

    def _body(self, response: http.client.HTTPResponse) -> bytes | None:
        """The body, read chunk by chunk; ``None`` as soon as it exceeds ``max_bytes``."""
        declared = response.getheader("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes | None]:
        origin = self._guard.target(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in range(2):
            conn = self._pool.take(origin)
            reused = conn is not None
            if conn is None:  # a new connection: to an address the guard has just checked
                conn = self._pool.open(origin, self._guard.check_url(url))
            try:
                conn.request(method, target, body=body, headers=dict(headers))
                response = conn.getresponse()
            except _STALE:
                conn.close()
                if reused and attempt == 0:
                    continue  # the server closed the idle connection: once more, fresh
                raise
            except BaseException:
                conn.close()
                raise
            try:
                raw = self._body(response)
            except BaseException:
                conn.close()
                raise
            encoding = (response.getheader("content-encoding") or "identity").lower()
            if raw is None or response.will_close:
                conn.close()
            else:
                self._pool.give_back(origin, conn)
            found = {name.lower(): value for name, value in response.getheaders()}
            return response.status, found, raw if encoding == "identity" else None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> HttpResult:
        try:
            status, found, raw = self._exchange(method, url, body, headers)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise Unavailable(
                f"{method} {url} failed: {exc.__class__.__name__}", reason="transport"
            ) from exc
        parsed: Any = None
        if raw:
            try:
                parsed = jsontext.loads(raw)
            except ValueError:
                parsed = None
        return HttpResult(status, parsed, found)

    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        """POST ``body`` as JSON; ``Unavailable`` on a transport failure."""
        content = jsontext.dumps(body)
        return self._send(
            "POST",
            url,
            content,
            {**headers, "content-type": "application/json", "accept": "application/json"},
        )

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult:
        """GET JSON; ``Unavailable`` on a transport failure."""
        return self._send("GET", url, None, {"accept": "application/json", **headers})
