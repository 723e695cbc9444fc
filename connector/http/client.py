"""Outbound JSON over HTTP for the control plane (implements ``OutboundHttp``).

Every URL passes the SSRF guard first; transport failures become ``Unavailable`` (the runner
retries them); a body larger than ``max_bytes`` is not read: the limit is enforced while
the response streams in (a declared ``Content-Length`` above it is refused before reading,
an endless or oversized body is cut off at the limit and the connection dropped), and the
result then has no body. One pooled ``httpx.Client`` (keep-alive) serves all counterparties.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from connector.controlplane.ports import HttpResult
from connector.errors import Unavailable
from connector.http.guard import OutboundGuard


class GuardedJsonClient:
    """POST/GET JSON to counterparties, after the guard allowed the target."""

    def __init__(
        self,
        guard: OutboundGuard,
        *,
        timeout_seconds: float = 5.0,
        max_bytes: int = 4 * 1024 * 1024,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._guard = guard
        self._max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=timeout_seconds,
            follow_redirects=False,
            transport=transport,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _body(self, response: httpx.Response) -> bytes | None:
        """The body, read chunk by chunk; ``None`` as soon as it exceeds ``max_bytes``."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():  # decoded: a compressed bomb counts in full
            size += len(chunk)
            if size > self._max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _send(self, method: str, url: str, **kwargs: Any) -> HttpResult:
        try:
            with self._client.stream(method, url, **kwargs) as response:
                raw = self._body(response)
                status, headers = response.status_code, dict(response.headers)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"{method} {url} failed: {exc.__class__.__name__}", reason="transport"
            ) from exc
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        return HttpResult(status, body, headers)

    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        """POST ``body`` as JSON; ``Unavailable`` on a transport failure."""
        self._guard.check_url(url)
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return self._send(
            "POST", url, content=content, headers={**headers, "content-type": "application/json"}
        )

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult:
        """GET JSON; ``Unavailable`` on a transport failure."""
        self._guard.check_url(url)
        return self._send("GET", url, headers=dict(headers))
