"""GuardedJsonClient enforces its size limit while the body streams in (a local server)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connector.controlplane.ports import HttpResult
from connector.errors import Forbidden, Invalid, Unavailable
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


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ports: list[int] = []  # noqa: RUF012 - shared by the handler instances of one server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.ports.append(self.client_address[1])
        body = json.dumps({"n": len(self.ports)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/then-close":  # drop the connection without announcing it
            self.close_connection = True


@pytest.fixture
def keep_alive_server() -> Iterator[tuple[str, list[int]]]:
    KeepAliveHandler.ports = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", KeepAliveHandler.ports
    httpd.shutdown()
    httpd.server_close()


def test_connections_are_kept_alive_and_a_closed_one_is_replaced(
    keep_alive_server: tuple[str, list[int]], client: GuardedJsonClient
) -> None:
    url, ports = keep_alive_server
    assert client.post_json(url + "/a", {}, headers={}).body == {"n": 1}
    assert client.post_json(url + "/a", {}, headers={}).body == {"n": 2}
    assert ports[0] == ports[1]  # one connection for both
    assert client.post_json(url + "/then-close", {}, headers={}).body == {"n": 3}
    time.sleep(0.05)  # the server has closed it by now; the client notices before reuse
    assert client.post_json(url + "/a", {}, headers={}).body == {"n": 4}
    assert ports[3] != ports[2]


def test_a_closed_client_refuses_nothing_but_keeps_no_connections(
    keep_alive_server: tuple[str, list[int]],
) -> None:
    url, ports = keep_alive_server
    guarded = GuardedJsonClient(OutboundGuard.from_allowlist(["127.0.0.1"]))
    guarded.post_json(url + "/a", {}, headers={})
    guarded.close()
    assert guarded.post_json(url + "/a", {}, headers={}).body == {"n": 2}
    assert ports[0] != ports[1]


def test_transport_failure_is_unavailable() -> None:
    guarded = GuardedJsonClient(OutboundGuard.from_allowlist(["127.0.0.1"]), timeout_seconds=1)
    with socket_on_free_port() as port, pytest.raises(Unavailable) as info:
        guarded.post_json(f"http://127.0.0.1:{port}/x", {}, headers={})
    assert info.value.reason == "transport"


@contextmanager
def socket_on_free_port() -> Iterator[int]:
    """A port nothing listens on (bound, not listening: connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class HostHandler(KeepAliveHandler):
    hosts: list[str] = []  # noqa: RUF012 - shared by the handler instances of one server

    def do_POST(self) -> None:
        self.hosts.append(self.headers.get("host", ""))
        super().do_POST()


def test_a_new_connection_goes_to_the_address_the_guard_checked() -> None:
    """DNS rebinding: the name resolves to an allowed address when the guard asks, and to a
    refused one afterwards (here: to nothing at all — ``.invalid`` never resolves through the
    system). The client connects to the checked address; Host still names the host."""
    HostHandler.ports, HostHandler.hosts = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HostHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    guard = OutboundGuard.from_allowlist(["127.0.0.1"], resolver=lambda host, _port: next(answers))
    guarded = GuardedJsonClient(guard, timeout_seconds=2)
    try:
        url = f"http://partner.invalid:{port}/a"
        assert guarded.post_json(url, {}, headers={}).body == {"n": 1}
        assert guarded.post_json(url, {}, headers={}).body == {"n": 2}  # kept alive: no lookup
        assert HostHandler.hosts == [f"partner.invalid:{port}"] * 2
        guarded.close()  # a new connection: the guard asks again, and refuses the new answer
        with pytest.raises(Forbidden):
            guarded.post_json(url, {}, headers={})
        with pytest.raises(Invalid):  # checks that need no lookup, on a kept-alive origin too
            guarded.post_json(f"http://user:pw@partner.invalid:{port}/a", {}, headers={})
    finally:
        guarded.close()
        httpd.shutdown()
        httpd.server_close()


class _Recorder:
    """A socket stand-in that records what is written to it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


@pytest.mark.parametrize("secure", [False, True])
def test_a_request_with_a_body_is_written_at_once(secure: bool) -> None:
    """Head and body in one write: the standard library writes them separately (a second
    system call, TCP segment and wake-up at the receiver per message)."""
    from connector.http import client as module

    kind = module._PinnedHTTPS if secure else module._PinnedHTTP
    conn = kind("peer.test", 443 if secure else 80)
    recorder = _Recorder()
    conn.sock = recorder  # type: ignore[assignment]
    conn.request("POST", "/dsp/x", body=b'{"a":1}', headers={"content-type": "application/json"})
    assert len(recorder.writes) == 1
    head, _, body = recorder.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /dsp/x HTTP/1.1\r\n")
    assert b"Content-Length: 7" in head
    assert body == b'{"a":1}'


def test_a_request_without_a_body_is_unchanged() -> None:
    from connector.http import client as module

    conn = module._PinnedHTTP("peer.test", 80)
    recorder = _Recorder()
    conn.sock = recorder  # type: ignore[assignment]
    conn.request("GET", "/dsp/x", headers={"accept": "application/json"})
    assert len(recorder.writes) == 1
    assert recorder.writes[0].endswith(b"\r\n\r\n")


def test_connections_do_not_wait_for_nagle() -> None:
    from connector.http import client as module

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with module._connect(["127.0.0.1"], ("peer.test", port)) as sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
