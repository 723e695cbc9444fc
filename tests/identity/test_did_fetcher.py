"""The did:web fetcher against a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from connector.clock import SystemClock
from connector.credentials import jose
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.errors import (
    ConnectorError,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    VerificationFailed,
)
from connector.identity.did_fetcher import HttpDidFetcher
from connector.testing import throwaway_keyset


class Handler(BaseHTTPRequestHandler):
    """Routes: path → (status, headers, body); special bodies stream slowly or stall."""

    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    hits: ClassVar[list[str]] = []
    release: ClassVar[threading.Event] = threading.Event()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path.startswith("/stall/"):
            type(self).release.wait(5)
            return
        if self.path.startswith("/drip/"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            for _ in range(40):
                if type(self).release.wait(0.05):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()
            return
        status, headers, body = type(self).routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers and not self.path.startswith("/stream/"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    Handler.routes = {}
    Handler.hits = []
    Handler.release = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        Handler.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def fetcher() -> Iterator[HttpDidFetcher]:
    with HttpDidFetcher(allow_insecure=True, read_timeout=2.0) as client:
        yield client


JSON = {"Content-Type": "application/did+json"}


def serve(path: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
    Handler.routes[path] = (status, JSON if headers is None else headers, body)


def error_of(fetcher: HttpDidFetcher, url: str) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        fetcher.fetch(url)
    return info.value


def test_fetches_a_did_document(server: str, fetcher: HttpDidFetcher) -> None:
    body = json.dumps({"id": "did:web:x"}).encode()
    serve("/.well-known/did.json", body)
    assert fetcher.fetch(f"http://{server}/.well-known/did.json") == body
    serve("/plain.json", body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert fetcher.fetch(f"http://{server}/plain.json") == body


def test_too_large_declared_and_streamed(server: str) -> None:
    big = json.dumps({"id": "did:web:x", "pad": "x" * 70_000}).encode()
    serve("/declared/did.json", big)
    serve("/stream/did.json", big)  # no Content-Length: close-delimited body
    with HttpDidFetcher(allow_insecure=True) as fetcher:
        for path in ("/declared/did.json", "/stream/did.json"):
            error = error_of(fetcher, f"http://{server}{path}")
            assert isinstance(error, PayloadTooLarge)
            assert error.reason == "did_document_too_large"
    with HttpDidFetcher(allow_insecure=True, max_bytes=100_000) as roomy:
        assert roomy.fetch(f"http://{server}/stream/did.json") == big


def test_unreachable_host_is_unavailable(fetcher: HttpDidFetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = error_of(fetcher, f"http://127.0.0.1:{port}/.well-known/did.json")
    assert isinstance(error, Unavailable)
    assert error.reason == "did_unavailable"


def test_redirects_are_not_followed(server: str, fetcher: HttpDidFetcher) -> None:
    serve("/target/did.json", b"{}")
    serve("/moved/did.json", b"", 302, {"Location": f"http://{server}/target/did.json"})
    error = error_of(fetcher, f"http://{server}/moved/did.json")
    assert (type(error), error.reason) == (Invalid, "did_redirect")
    assert Handler.hits == ["/moved/did.json"]


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "reason"),
    [
        (404, JSON, b"{}", NotFound, "unknown_did"),
        (410, JSON, b"{}", NotFound, "unknown_did"),
        (500, JSON, b"{}", Unavailable, "did_unavailable"),
        (200, {"Content-Type": "text/html"}, b"{}", Invalid, "bad_did_document"),
        (200, {}, b"{}", Invalid, "bad_did_document"),
        (200, JSON, b"{not json", Invalid, "bad_did_document"),
        (200, JSON, b"[1, 2]", Invalid, "bad_did_document"),
        (200, JSON | {"Content-Encoding": "gzip"}, b"{}", Invalid, "bad_did_document"),
    ],
)
def test_bad_responses(
    server: str,
    fetcher: HttpDidFetcher,
    status: int,
    headers: dict[str, str],
    body: bytes,
    kind: type[ConnectorError],
    reason: str,
) -> None:
    serve("/did.json", body, status, headers)
    error = error_of(fetcher, f"http://{server}/did.json")
    assert (type(error), error.reason) == (kind, reason)


def test_https_only_unless_insecure_is_allowed(server: str) -> None:
    serve("/.well-known/did.json", b"{}")
    with HttpDidFetcher() as strict:
        for url in (f"http://{server}/.well-known/did.json", "ftp://example.com/did.json"):
            error = error_of(strict, url)
            assert (type(error), error.reason) == (Invalid, "insecure_did_url")
    assert Handler.hits == []


def test_private_addresses_are_refused_unless_allowed(server: str) -> None:
    serve("/.well-known/did.json", b"{}")
    url = f"http://{server}/.well-known/did.json"
    with HttpDidFetcher(allow_insecure=True, allow_private=False) as guarded:
        assert error_of(guarded, url).reason == "private_address"
    with HttpDidFetcher(
        allow_insecure=True, allow_private=False, allowed_networks=["127.0.0.0/8"]
    ) as listed:
        assert listed.fetch(url) == b"{}"
    assert Handler.hits == ["/.well-known/did.json"]
    with HttpDidFetcher() as strict:  # https to a loopback address
        assert error_of(strict, "https://127.0.0.1:1/did.json").reason == "private_address"


def test_the_connection_goes_to_the_address_that_was_checked(server: str) -> None:
    """DNS rebinding: the name resolves to an allowed address for the early check and to a
    refused one when the connection is made — refused; and a name the system cannot resolve
    (``.invalid``) is reached at the address our resolver checked (no second lookup)."""
    serve("/.well-known/did.json", b"{}")
    port = int(server.rsplit(":", 1)[1])
    url = f"http://did.invalid:{port}/.well-known/did.json"
    steady = HttpDidFetcher(
        allow_insecure=True,
        allow_private=False,
        allowed_networks=["127.0.0.0/8"],
        resolver=lambda _host, _port: ["127.0.0.1"],
    )
    with steady:
        assert steady.fetch(url) == b"{}"
    answers = iter([["127.0.0.1"], ["10.1.2.3"]])
    rebinding = HttpDidFetcher(
        allow_insecure=True,
        allow_private=False,
        allowed_networks=["127.0.0.0/8"],
        resolver=lambda _host, _port: next(answers),
    )
    with rebinding:
        assert error_of(rebinding, url).reason == "private_address"
    assert Handler.hits == ["/.well-known/did.json"]  # only the steady fetch arrived


def test_a_stalled_server_times_out(server: str) -> None:
    with HttpDidFetcher(allow_insecure=True, read_timeout=0.2) as impatient:
        error = error_of(impatient, f"http://{server}/stall/did.json")
    assert (type(error), error.reason) == (Unavailable, "did_unavailable")


def test_a_dripping_server_hits_the_deadline(server: str) -> None:
    clock = SystemClock()
    started = clock.monotonic()
    with HttpDidFetcher(allow_insecure=True, read_timeout=1.0, total_timeout=0.3) as impatient:
        error = error_of(impatient, f"http://{server}/drip/did.json")
    assert (type(error), error.reason) == (Unavailable, "did_unavailable")
    assert clock.monotonic() - started < 5  # generous: the budget aborts, no hang


def test_resolver_and_jose_over_http(server: str, fetcher: HttpDidFetcher) -> None:
    did = "did:web:" + server.replace(":", "%3A") + ":cities:hagen"
    keyset = throwaway_keyset(did)
    serve("/cities/hagen/did.json", json.dumps(build_did_document(keyset)).encode())
    resolver = DidResolver(SystemClock(), fetcher, allow_http=True)
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "credentialSubject": {"id": did},
    }
    token = jose.issue_vc_jwt(credential, key=keyset.p256, method_id=keyset.method_id("p256"))
    now = SystemClock().now()
    for _ in range(3):
        assert jose.verify_vc_jwt(token, resolver=resolver, at=now).method.controller == did
    assert Handler.hits == ["/cities/hagen/did.json"]  # cached after the first fetch


def test_resolver_refuses_an_oversized_document(server: str, fetcher: HttpDidFetcher) -> None:
    did = "did:web:" + server.replace(":", "%3A")
    document = build_did_document(throwaway_keyset(did)) | {"padding": "x" * 70_000}
    serve("/.well-known/did.json", json.dumps(document).encode())
    resolver = DidResolver(SystemClock(), fetcher, allow_http=True)
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{did}#ed25519", "assertionMethod")
    assert info.value.reason == "did_document_too_large"
