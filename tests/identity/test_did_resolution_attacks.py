"""Tokens whose DID document cannot be had: unreachable host, oversized document (real HTTP)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connector.credentials.did_resolver import DidResolver
from connector.errors import Unauthorized
from connector.identity.did_fetcher import HttpDidFetcher
from connector.identity.replay import MemoryReplayStore
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.testing import throwaway_keyset

from .conftest import PROVIDER, World, did_document

DOCUMENTS: dict[str, bytes] = {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = DOCUMENTS.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/did+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1%3A{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _authenticator(world: World) -> SelfIssuedAuthenticator:
    fetcher = HttpDidFetcher(allow_insecure=True, read_timeout=2.0, total_timeout=4.0)
    resolver = DidResolver(world.clock, fetcher, allow_http=True)
    return SelfIssuedAuthenticator(resolver, PROVIDER, MemoryReplayStore(world.clock), world.clock)


def _reason(world: World, did: str) -> str:
    keyset = throwaway_keyset(did)
    header = SelfIssuedTokenSource(keyset, world.clock).token_for(PROVIDER)
    with pytest.raises(Unauthorized) as info:
        _authenticator(world).authenticate(header)
    return info.value.reason


def test_a_caller_whose_did_document_is_served_is_accepted(world: World, host: str) -> None:
    did = f"did:web:{host}:good"
    keyset = throwaway_keyset(did)
    DOCUMENTS["/good/did.json"] = json.dumps(did_document(keyset)).encode()
    header = SelfIssuedTokenSource(keyset, world.clock).token_for(PROVIDER)
    assert _authenticator(world).authenticate(header).did == did


def test_unreachable_did_document_is_refused(world: World) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert _reason(world, f"did:web:127.0.0.1%3A{port}") == "did_unavailable"


def test_missing_did_document_is_refused(world: World, host: str) -> None:
    assert _reason(world, f"did:web:{host}:nobody") == "unknown_did"


def test_oversized_did_document_is_refused(world: World, host: str) -> None:
    did = f"did:web:{host}:big"
    document = did_document(throwaway_keyset(did))
    document["padding"] = "x" * 200_000
    DOCUMENTS["/big/did.json"] = json.dumps(document).encode()
    assert _reason(world, did) == "did_document_too_large"


def test_a_private_address_is_refused_without_the_insecure_setting(world: World) -> None:
    fetcher = HttpDidFetcher(allow_insecure=False)
    resolver = DidResolver(world.clock, fetcher, allow_http=False)
    authenticator = SelfIssuedAuthenticator(
        resolver, PROVIDER, MemoryReplayStore(world.clock), world.clock
    )
    keyset = throwaway_keyset("did:web:127.0.0.1%3A9")
    header = SelfIssuedTokenSource(keyset, world.clock).token_for(PROVIDER)
    with pytest.raises(Unauthorized) as info:
        authenticator.authenticate(header)
    assert info.value.reason == "private_address"
