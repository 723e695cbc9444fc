"""GuardedJsonClient enforces its size limit while the body streams in (a local server)."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connector.controlplane.ports import HttpResult
from connector.http.client import GuardedJsonClient
from connector.http.guard import OutboundGuard

LIMIT = 64 * 1024
BOMB = gzip.compress(b"[" + b"0," * (4 * 1024 * 1024) + b"0]")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        sent = 0
        try:
            if self.path == "/endless":
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"[")
                while sent < 2**34:  # far more than any test reads (16 GiB)
                    self.wfile.write(b"0," * 8192)
                    sent += 16384
            elif self.path == "/declared":
                self.send_response(200)
                self.send_header("content-length", str(LIMIT * 100))
                self.end_headers()
                self.wfile.write(b"{" * 1024)
            elif self.path == "/bomb":
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-encoding", "gzip")
                self.send_header("content-length", str(len(BOMB)))
                self.end_headers()
                self.wfile.write(BOMB)
            else:
                size = int(self.path.strip("/"))
                body = json.dumps({"x": "a" * (size - 9)}).encode()
                assert len(body) == size
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self._answer()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client() -> Iterator[GuardedJsonClient]:
    guarded = GuardedJsonClient(OutboundGuard.from_allowlist(["127.0.0.1"]), max_bytes=LIMIT)
    yield guarded
    guarded.close()


def _within_budget(call: Any) -> HttpResult:
    """Run ``call``; a client that reads an endless body whole never returns (budget 60 s)."""
    results: list[HttpResult] = []
    worker = threading.Thread(target=lambda: results.append(call()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert results, "the client kept reading past its size limit"
    return results[0]


@pytest.mark.parametrize("path", ["/endless", "/declared", "/bomb", f"/{LIMIT + 1}"])
def test_an_oversized_body_is_cut_off_while_streaming(
    server: str, client: GuardedJsonClient, path: str
) -> None:
    got = _within_budget(lambda: client.get_json(server + path, headers={}))
    assert (got.status, got.body) == (200, None)
    posted = _within_budget(lambda: client.post_json(server + path, {"a": 1}, headers={}))
    assert (posted.status, posted.body) == (200, None)


def test_a_body_at_the_limit_is_read(server: str, client: GuardedJsonClient) -> None:
    got = client.get_json(f"{server}/{LIMIT}", headers={})
    assert got.status == 200 and len(got.body["x"]) == LIMIT - 9
    # the pool still works after connections were dropped mid-body
    client.get_json(server + "/endless", headers={})
    again = client.post_json(f"{server}/100", {"a": 1}, headers={})
    assert again.body == {"x": "a" * 91}
