"""Outbound JSON over HTTP for the control plane (implements ``OutboundHttp``).

Every URL passes the SSRF guard first; transport failures become ``Unavailable`` (the runner
retries them); bodies larger than ``max_bytes`` are refused. One pooled ``httpx.Client``
(keep-alive) serves all counterparties.
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

    def _result(self, response: httpx.Response) -> HttpResult:
        raw = response.content
        body: Any = None
        if raw and len(raw) <= self._max_bytes:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        return HttpResult(response.status_code, body, dict(response.headers))

    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        """POST ``body`` as JSON; ``Unavailable`` on a transport failure."""
        self._guard.check_url(url)
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            response = self._client.post(
                url, content=content, headers={**headers, "content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"POST {url} failed: {exc.__class__.__name__}", reason="transport"
            ) from exc
        return self._result(response)

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult:
        """GET JSON; ``Unavailable`` on a transport failure."""
        self._guard.check_url(url)
        try:
            response = self._client.get(url, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"GET {url} failed: {exc.__class__.__name__}", reason="transport"
            ) from exc
        return self._result(response)
