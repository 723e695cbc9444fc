"""The HTTP side of did:web resolution: fetch a DID document, carefully (httpx).

Implements :class:`connector.credentials.did_resolver.DidFetcher`. A DID named in a token or a
credential is attacker-chosen, so the fetch is defensive:

* ``https`` only, unless ``allow_insecure`` (``CONNECTOR_ALLOW_INSECURE_DID_WEB``);
* no private, loopback or link-local targets (SSRF), unless ``allow_private`` (it defaults to
  ``allow_insecure``: the loopback demo) or the address lies in ``allowed_networks``. The check
  is made where the connection is made (httpcore's network backend resolves the name, checks
  every address and connects to a checked one; TLS still verifies the host name), so a DNS
  answer that changes after a first check (rebinding) cannot lead the fetch elsewhere;
* connect/read timeouts and an overall deadline (a server dripping bytes cannot hold us);
* no redirects followed; only ``200`` with a JSON media type and no ``Content-Encoding``;
* a size cap (64 KiB by default), enforced on ``Content-Length`` and while streaming.

Errors: ``NotFound("unknown_did")``, ``Unavailable("did_unavailable")``,
``PayloadTooLarge("did_document_too_large")``, ``Invalid`` with ``insecure_did_url``,
``private_address``, ``did_redirect``, ``bad_did_document``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import typing
from collections.abc import Callable, Sequence
from types import TracebackType
from urllib.parse import urlsplit

import httpcore
import httpx

from connector.clock import Clock, SystemClock
from connector.errors import Invalid, NotFound, PayloadTooLarge, Unavailable

MAX_DOCUMENT_BYTES = 64 * 1024
_JSON_TYPES = frozenset(
    {"application/json", "application/did+json", "application/did+ld+json", "application/ld+json"}
)
_ACCEPT = "application/did+json, application/did+ld+json;q=0.9, application/json;q=0.8"


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


Resolver = Callable[[str, int], list[str]]
"""Host and port → the IP addresses to connect to (the system's ``getaddrinfo`` by default)."""


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


class _CheckedBackend(httpcore.SyncBackend):
    """httpcore's network backend, resolving names itself: a connection is made only to an
    address ``checked`` allowed, and only if every address the name resolves to is allowed."""

    def __init__(self, checked: Callable[[str, int], list[str]]) -> None:
        self._checked = checked

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self._checked(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool with :class:`_CheckedBackend`."""

    def __init__(self, backend: _CheckedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=backend,
        )


class HttpDidFetcher:
    """Fetch DID documents over HTTP(S) with timeouts, a size cap and no redirects."""

    def __init__(
        self,
        *,
        allow_insecure: bool = False,
        allow_private: bool | None = None,
        allowed_networks: Sequence[str] = (),
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        total_timeout: float = 10.0,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        trust_env: bool = False,
        resolver: Resolver | None = None,
    ) -> None:
        self._allow_insecure = allow_insecure
        self._allow_private = allow_insecure if allow_private is None else allow_private
        self._networks = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
        self._resolver = resolver or _system_resolver
        if transport is None:
            transport = _CheckedTransport(_CheckedBackend(self._addresses))
        self._total = total_timeout
        self._max_bytes = max_bytes
        self._clock: Clock = clock or SystemClock()
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
            ),
            follow_redirects=False,
            transport=transport,
            trust_env=trust_env,
            headers={"Accept": _ACCEPT, "Accept-Encoding": "identity"},
        )

    def __enter__(self) -> HttpDidFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _check_target(self, url: str) -> None:
        """Scheme and form of the URL, and (unless private targets are allowed) its host's
        addresses — early, for a clear error; the connection checks them again."""
        parts = urlsplit(url)
        allowed = {"https", "http"} if self._allow_insecure else {"https"}
        if parts.scheme not in allowed or not parts.hostname or parts.username or parts.password:
            raise Invalid(
                f"refusing to fetch a DID document from {url[:100]}", reason="insecure_did_url"
            )
        if not self._allow_private:
            self._addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))

    def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, all of them allowed (``private_address`` otherwise)."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = self._resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise Unavailable(
                    f"cannot resolve {host}: {exc}", reason="did_unavailable"
                ) from exc
        if not found:
            raise Unavailable(f"cannot resolve {host}", reason="did_unavailable")
        if self._allow_private:
            return found
        for text in found:
            address = ipaddress.ip_address(text)
            if not address.is_global and not any(address in net for net in self._networks):
                raise Invalid(
                    f"{host} resolves to a non-public address ({address})",
                    reason="private_address",
                )
        return found

    def fetch(self, url: str) -> bytes:
        """The DID document body at ``url`` (validated as a JSON object)."""
        self._check_target(url)
        deadline = self._clock.monotonic() + self._total
        try:
            with self._client.stream("GET", url) as response:
                body = self._read(url, response, deadline)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"timeout fetching {url[:100]}", reason="did_unavailable") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise Invalid(f"not a fetchable URL: {url[:100]}", reason="insecure_did_url") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"cannot fetch {url[:100]}: {type(exc).__name__}", reason="did_unavailable"
            ) from exc
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"{url[:100]} is not JSON", reason="bad_did_document") from exc
        if not isinstance(document, dict):
            raise Invalid(f"{url[:100]} is not a JSON object", reason="bad_did_document")
        return body

    def _read(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        status = response.status_code
        if 300 <= status < 400:
            raise Invalid(f"{url[:100]} redirects (not followed)", reason="did_redirect")
        if status in (404, 410):
            raise NotFound(f"{url[:100]} answered {status}", reason="unknown_did")
        if status != 200:
            raise Unavailable(f"{url[:100]} answered {status}", reason="did_unavailable")
        if not _is_json_type(response.headers.get("content-type", "")):
            raise Invalid(f"{url[:100]} is not served as JSON", reason="bad_did_document")
        if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
            raise Invalid(f"{url[:100]} is content-encoded", reason="bad_did_document")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise PayloadTooLarge(
                f"{url[:100]} declares {declared} bytes (cap {self._max_bytes})",
                reason="did_document_too_large",
            )
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > self._max_bytes:
                raise PayloadTooLarge(
                    f"{url[:100]} is over {self._max_bytes} bytes", reason="did_document_too_large"
                )
            if self._clock.monotonic() > deadline:
                raise Unavailable(f"{url[:100]} is too slow", reason="did_unavailable")
        return bytes(body)
