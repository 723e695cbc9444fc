"""The streaming upstream client and HTTP sources against a real local server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connector.dataplane.confinement import SourceDirs
from connector.dataplane.delivery import Delivery
from connector.dataplane.enforcement import Plan
from connector.dataplane.narrowing import Narrowing
from connector.dataplane.pipeline import DataSources, UpstreamSecrets
from connector.errors import Forbidden, PayloadTooLarge, Unavailable
from connector.http.guard import OutboundGuard
from connector.http.upstream import UpstreamClient

BODY = b"0123456789" * 100_000


@dataclass
class Server:
    port: int
    requests: list[bytes] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def _handle(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        await _answer(server, reader, writer)
    finally:
        writer.close()


async def _answer(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    body = b""
    if b"transfer-encoding: chunked" in head.lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    server.requests.append(head + body)
    path = head.split(b" ")[1].decode()
    if path.startswith("/length"):
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nSet-Cookie: s=1\r\n"
            b"X-Upstream-Secret: leak\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
        )
    elif path.startswith("/chunked"):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(BODY), 70_001):
            part = BODY[i : i + 70_001]
            writer.write(b"%x\r\n%b\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")
    elif path.startswith("/redirect"):
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"
        )
    elif path.startswith("/slow"):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01")
        await writer.drain()
        await asyncio.sleep(5)
    elif path.startswith("/sta"):
        payload = b'{"value": [{"@iot.id": 1, "result": 3.5}]}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
            % (len(payload), payload)
        )
    else:
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


@pytest.fixture
def server() -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            srv = Server(0)
            holder["server"] = srv
            s = await asyncio.start_server(lambda r, w: _handle(srv, r, w), "127.0.0.1", 0)
            srv.port = s.sockets[0].getsockname()[1]
            holder["s"] = s
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield holder["server"]

    async def stop() -> None:
        holder["s"].close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def client(**kw: Any) -> UpstreamClient:
    return UpstreamClient(OutboundGuard.from_allowlist(["127.0.0.1"]), **kw)


async def fetch(c: UpstreamClient, url: str, **kw: Any) -> tuple[int, bytes, dict[str, str]]:
    async with c.request("GET", url, **kw) as response:
        data = b"".join([chunk async for chunk in response.body])
        return response.status, data, response.headers


def test_content_length_and_chunked_bodies_stream_whole(server: Server) -> None:
    assert asyncio.run(fetch(client(), server.url("/length")))[:2] == (200, BODY)
    assert asyncio.run(fetch(client(), server.url("/chunked")))[:2] == (200, BODY)


def test_redirects_are_returned_not_followed(server: Server) -> None:
    status, _, headers = asyncio.run(fetch(client(), server.url("/redirect")))
    assert status == 302 and headers["location"].startswith("http://169.254")
    assert len(server.requests) == 1


def test_private_targets_need_the_allow_list(server: Server) -> None:
    strict = UpstreamClient(OutboundGuard.from_allowlist([]))
    with pytest.raises(Forbidden):
        asyncio.run(fetch(strict, server.url("/length")))
    rebinding = UpstreamClient(
        OutboundGuard.from_allowlist([], resolver=lambda host, port: ["10.0.0.7"])
    )
    with pytest.raises(Forbidden):
        asyncio.run(fetch(rebinding, "http://upstream.example/data"))
    assert server.requests == []


def test_size_limit_and_read_timeout(server: Server) -> None:
    with pytest.raises(PayloadTooLarge):
        asyncio.run(fetch(client(max_bytes=1000), server.url("/length")))
    with pytest.raises(PayloadTooLarge):
        asyncio.run(fetch(client(max_bytes=1000), server.url("/chunked")))
    with pytest.raises(Unavailable):
        asyncio.run(fetch(client(read_timeout=0.3), server.url("/slow")))


def test_chunked_request_bodies(server: Server) -> None:
    async def body() -> Any:
        for part in (b"hello ", b"", b"world"):
            yield part

    async def post() -> int:
        async with client().request("POST", server.url("/length"), body=body()) as r:
            return r.status

    assert asyncio.run(post()) == 200
    assert server.requests[-1].endswith(b"hello world")


def test_http_sources_pass_sensorthings_options_and_hide_secrets(
    server: Server, tmp_path: Any
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "frost").write_text("s3cr3t\n")
    sources = DataSources(
        SourceDirs.of([], tmp_path),
        upstream=client(),
        secrets=UpstreamSecrets(secrets),
    )
    source = {
        "type": "http",
        "url": server.url("/sta/v1.1/Observations?$count=true"),
        "headers": {"Authorization": "Bearer {{secret:frost}}"},
    }
    query = [("$filter", "result gt 3"), ("$top", "5"), ("$orderby", "phenomenonTime desc")]
    narrowing = sources.narrowing(source, Delivery(), query)

    async def run() -> tuple[bytes, Any]:
        payload = await sources.open_http(
            source, narrowing, Plan(), {"accept": "application/json", "cookie": "x"}
        )
        data = b"".join([c async for c in payload.chunks])  # type: ignore[union-attr]
        return data, payload

    data, payload = asyncio.run(run())
    assert data == b'{"value": [{"@iot.id": 1, "result": 3.5}]}'
    sent = server.requests[-1].decode()
    target = sent.split(" ")[1]
    assert parse_qs(urlsplit(target).query) == {
        "$count": ["true"],
        "$filter": ["result gt 3"],
        "$top": ["5"],
        "$orderby": ["phenomenonTime desc"],
    }
    assert "+" not in target
    assert "Authorization: Bearer s3cr3t" in sent and "cookie" not in sent.lower()
    assert payload.media_type == "application/json"
    # upstream headers other than the allow-list never reach the partner
    source["url"] = server.url("/length")

    async def headers() -> dict[str, str]:
        p = await sources.open_http(source, Narrowing(), Plan(), {})
        async for _ in p.chunks:  # type: ignore[union-attr]
            pass
        return p.headers

    assert asyncio.run(headers()) == {}
    source["url"] = server.url("/chunked")  # no media type: cannot be shaped
    with pytest.raises(Forbidden, match="only JSON, JSON Lines, CSV and GeoJSON"):
        asyncio.run(sources.open_http(source, Narrowing(), Plan(columns=("a",)), {}))
    source["url"] = server.url("/redirect")
    with pytest.raises(Unavailable):
        asyncio.run(sources.open_http(source, Narrowing(), Plan(), {}))
    source["url"] = server.url("/sta")
    source["headers"] = {"Authorization": "{{secret:missing}}"}
    with pytest.raises(Unavailable):
        asyncio.run(sources.open_http(source, Narrowing(), Plan(), {}))
