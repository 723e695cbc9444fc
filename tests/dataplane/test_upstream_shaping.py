"""HTTP upstream sources shaped while streaming (aggregation, projection, geofence) and pushed
to a receiver, against real local HTTP servers; expectations computed here independently."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import json
import random
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import shapely
from sqlalchemy import Engine

from connector.audit.sink import MemoryAuditSink
from connector.audit.vocabulary import Result
from connector.clock import SystemClock
from connector.dataplane.confinement import SourceDirs
from connector.dataplane.delivery import AggregateSpec, Delivery
from connector.dataplane.enforcement import Enforcer, Plan
from connector.dataplane.narrowing import Narrowing
from connector.dataplane.pipeline import DataSources
from connector.dataplane.push import Pusher
from connector.dataplane.service import DataPlane
from connector.dataplane.tokens import AccessTokens
from connector.errors import Forbidden, Invalid
from connector.http.guard import OutboundGuard
from connector.http.upstream import UpstreamClient
from connector.model import (
    Agreement,
    DataAddress,
    Dataset,
    Offer,
    Role,
    Transfer,
    TransferEvent,
    TransferState,
)
from connector.stores.dataplane_store import SqlAccessCounter, SqlTokenStore

POLICIES = Path(__file__).resolve().parents[2] / "policies"
CONSUMER = "did:web:partner.example"
TARGET = "https://w3id.org/klimakommune/hagen/datasets/upstream"
# the polygon of policies/geofence-hagen.jsonld, as (lon, lat)
HAGEN = [
    (7.3650, 51.3390),
    (7.4150, 51.2900),
    (7.5000, 51.2700),
    (7.5900, 51.3000),
    (7.6050, 51.3600),
    (7.5650, 51.4150),
    (7.4800, 51.4350),
    (7.4000, 51.4150),
]


def observations(n: int = 180) -> list[dict[str, Any]]:
    """Every 5 minutes, one of three stations, somewhere around Hagen."""
    rng = random.Random(6)
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        at = start + dt.timedelta(minutes=5 * i)
        rows.append(
            {
                "id": f"o{i}",
                "t": at.isoformat().replace("+00:00", "Z"),
                "station": f"s{rng.randrange(3)}",
                "v": round(rng.uniform(10, 120), 3),
                "lon": round(rng.uniform(7.30, 7.65), 5),
                "lat": round(rng.uniform(51.25, 51.45), 5),
            }
        )
    return rows


ROWS = observations()


def as_jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def as_geojson(rows: list[dict[str, Any]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "id": r["id"],
            "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
            "properties": {"station": r["station"], "v": r["v"]},
        }
        for r in rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def inside(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    """Ray casting (the random points never lie on the border)."""
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


class Upstream(BaseHTTPRequestHandler):
    """The municipal platform's REST endpoint."""

    protocol_version = "HTTP/1.1"
    failures_left: ClassVar[int] = 0
    released: ClassVar[threading.Event] = threading.Event()
    released_in_time: ClassVar[list[bool]] = []
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/obs.jsonl": ("application/x-ndjson", as_jsonl(ROWS)),
        "/obs.csv": ("text/csv; charset=utf-8", as_csv(ROWS)),
        "/sites.geojson": ("application/geo+json", as_geojson(ROWS)),
        "/page.html": ("text/html", b"<html>not data</html>"),
        "/broken.jsonl": ("application/jsonl", b'{"t": "2026-06-01T00:00:00Z"}\n[1, 2]\n'),
    }

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/flaky.geojson" and Upstream.failures_left > 0:
            Upstream.failures_left -= 1
            self._send(503, "text/plain", b"busy")
            return
        if path == "/flaky.geojson":
            path = "/sites.geojson"
        if path == "/gated.jsonl":
            self._gated()
            return
        if path not in self.routes:
            self._send(404, "text/plain", b"")
            return
        self._send(200, *self.routes[path])

    def _send(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _gated(self) -> None:
        """Half the rows, then wait until the consumer has seen output, then the rest."""
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        first = as_jsonl(big_rows(0, 20_000))
        self.wfile.write(b"%x\r\n%b\r\n" % (len(first), first))
        self.wfile.flush()
        Upstream.released_in_time.append(Upstream.released.wait(30))
        rest = as_jsonl(big_rows(20_000, 40_000))
        self.wfile.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(rest), rest))

    def log_message(self, *args: Any) -> None:
        pass


def big_rows(start: int, end: int) -> list[dict[str, Any]]:
    return [{"i": i, "station": f"s{i % 7}", "pad": "x" * 40} for i in range(start, end)]


class Receiver(BaseHTTPRequestHandler):
    """The consumer's data destination (the first POST answers 503)."""

    failures_left: ClassVar[int] = 1
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if Receiver.failures_left > 0:
            Receiver.failures_left -= 1
            self.send_response(503)
        else:
            auth = self.headers.get("Authorization", "")
            Receiver.received.append((auth, self.headers.get("Content-Type", ""), body))
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def upstream() -> Iterator[str]:
    Upstream.failures_left = 0
    Upstream.released = threading.Event()
    Upstream.released_in_time = []
    yield from serve(Upstream)


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.failures_left = 1
    Receiver.received = []
    yield from serve(Receiver)


def client(allow: list[str] | None = None, **kw: Any) -> UpstreamClient:
    return UpstreamClient(OutboundGuard.from_allowlist(allow or ["127.0.0.1"]), **kw)


def sources(tmp_path: Path, **kw: Any) -> DataSources:
    return DataSources(SourceDirs.of([], tmp_path), upstream=client(**kw))


def pull(
    ds: DataSources,
    url: str,
    plan: Plan,
    delivery: Delivery,
    *,
    fmt: str | None = None,
    narrowing: Narrowing | None = None,
) -> tuple[str, bytes]:
    async def run() -> tuple[str, bytes]:
        payload = await ds.open_http(
            {"type": "http", "url": url},
            narrowing or Narrowing(),
            plan,
            {},
            delivery=delivery,
            fmt=fmt,
        )
        data = b"".join([c async for c in payload.chunks])  # type: ignore[union-attr]
        return payload.media_type, data

    return asyncio.run(run())


def test_json_lines_upstream_is_aggregated_per_hour_and_station(
    upstream: str, tmp_path: Path
) -> None:
    plan = Plan(aggregate=AggregateSpec(period="PT1H", by=("station",), values=("v",)))
    media, data = pull(sources(tmp_path), upstream + "/obs.jsonl", plan, Delivery(time="t"))
    assert media == "application/jsonl"
    got = {(r["t"], r["station"]): r for r in map(json.loads, data.decode().splitlines())}
    cells: dict[tuple[str, str], list[float]] = {}
    for row in ROWS:
        hour = row["t"][:13] + ":00:00Z"
        cells.setdefault((hour, row["station"]), []).append(row["v"])
    assert set(got) == set(cells)
    for key, values in cells.items():
        assert got[key]["n"] == len(values)
        assert got[key]["v"] == pytest.approx(sum(values) / len(values), abs=1e-6)
        assert set(got[key]) == {"t", "station", "n", "v"}  # no raw columns leave


def test_csv_upstream_is_projected_and_limited(upstream: str, tmp_path: Path) -> None:
    plan = Plan(columns=("station", "v"))
    media, data = pull(
        sources(tmp_path),
        upstream + "/obs.csv",
        plan,
        Delivery(),
        narrowing=Narrowing(limit=50),
    )
    assert media.startswith("text/csv")
    got = list(csv.DictReader(io.StringIO(data.decode())))
    expected = [{"station": r["station"], "v": str(r["v"])} for r in ROWS[:50]]
    assert got == expected
    # the same rows in another format on request
    _, lines = pull(sources(tmp_path), upstream + "/obs.csv", plan, Delivery(), fmt="jsonl")
    assert len(lines.splitlines()) == len(ROWS)
    assert json.loads(lines.splitlines()[0]) == expected[0]


def test_geojson_upstream_is_geofenced(upstream: str, tmp_path: Path) -> None:
    area = shapely.Polygon(HAGEN)
    plan = Plan(geofence=area, columns=("v",))
    media, data = pull(
        sources(tmp_path), upstream + "/sites.geojson", plan, Delivery.parse({"geofence": {}})
    )
    assert media == "application/geo+json"
    collection = json.loads(data)
    assert collection["type"] == "FeatureCollection"
    expected = [r for r in ROWS if inside(r["lon"], r["lat"], HAGEN)]
    assert 0 < len(expected) < len(ROWS)
    assert [f["id"] for f in collection["features"]] == [r["id"] for r in expected]
    assert [f["properties"] for f in collection["features"]] == [{"v": r["v"]} for r in expected]


def test_shaping_streams_without_waiting_for_the_whole_response(
    upstream: str, tmp_path: Path
) -> None:
    async def run() -> int:
        payload = await sources(tmp_path).open_http(
            {"type": "http", "url": upstream + "/gated.jsonl"},
            Narrowing(),
            Plan(columns=("i", "pad")),  # > 256 KiB of output from the first half
            {},
            delivery=Delivery(),
        )
        chunks = payload.chunks
        assert isinstance(chunks, AsyncIterator)
        first = await anext(chunks)
        Upstream.released.set()  # the upstream sends the second half only now
        rest = b"".join([c async for c in chunks])
        rows = (first + rest).decode().splitlines()
        assert json.loads(rows[1]) == {"i": 1, "pad": "x" * 40}
        return len(rows)

    assert asyncio.run(run()) == 40_000
    assert Upstream.released_in_time == [True]


def test_formats_that_cannot_be_shaped_are_refused(upstream: str, tmp_path: Path) -> None:
    ds = sources(tmp_path)
    with pytest.raises(Forbidden, match="text/html") as refused:
        pull(ds, upstream + "/page.html", Plan(columns=("v",)), Delivery())
    assert refused.value.reason == "shaping_unavailable"
    # without shaping the same response is passed through as it is
    assert pull(ds, upstream + "/page.html", Plan(), Delivery()) == (
        "text/html",
        b"<html>not data</html>",
    )
    with pytest.raises(Invalid) as broken:
        pull(ds, upstream + "/broken.jsonl", Plan(columns=("t",)), Delivery())
    assert broken.value.reason == "bad_source"
    with pytest.raises(Invalid):
        pull(ds, upstream + "/obs.csv", Plan(columns=("v",)), Delivery(), fmt="xml")


class Contracts:
    """What the control plane would have stored for one STARTED push transfer."""

    def __init__(self, transfer: Transfer, agreement: Agreement, dataset: Dataset) -> None:
        self._transfer, self._agreement, self._dataset = transfer, agreement, dataset
        self.policy = json.loads((POLICIES / "geofence-hagen.jsonld").read_text("utf-8"))

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self._transfer if transfer_id == self._transfer.id else None

    def agreement(self, agreement_id: str) -> Agreement | None:
        return self._agreement if agreement_id == self._agreement.id else None

    def dataset(self, dataset_id: str) -> Dataset | None:
        return self._dataset if dataset_id == self._dataset.id else None

    def stored_policy(self, policy_hash: str) -> dict[str, Any] | None:
        return self.policy if policy_hash == self._agreement.policy_hash else None


def push_setup(
    engine: Engine, source_url: str, destination: str, allow: list[str]
) -> tuple[Pusher, MemoryAuditSink, Transfer, list[str], list[tuple[str, str]]]:
    clock = SystemClock()
    now = clock.now()
    agreement = Agreement(
        id="urn:uuid:agreement-push",
        target=TARGET,
        assigner="did:web:daten.hagen.de",
        assignee=CONSUMER,
        timestamp=now,
        policy={"permission": [{"action": "use"}]},
        policy_hash="sha256:geofence",
    )
    dataset = Dataset(
        id=TARGET,
        title="Sensors from the platform",
        offers=(Offer("urn:uuid:offer", TARGET, {"permission": [{"action": "use"}]}),),
        source={"type": "http", "url": source_url},
        properties={"delivery": {"geofence": {}}},
    )
    transfer = Transfer.create(
        id="urn:uuid:transfer-push",
        role=Role.PROVIDER,
        counterparty_id=CONSUMER,
        counterparty_address="https://partner.example/dsp",
        agreement_id=agreement.id,
        format="HttpData-PUSH",
        at=now,
        data_address=DataAddress(
            "https://w3id.org/idsa/v4.1/HTTP",
            destination,
            {"authorization": "consumer-secret", "authType": "bearer"},
        ),
    )
    transfer = dataclasses.replace(transfer, state=TransferState.STARTED)
    contracts = Contracts(transfer, agreement, dataset)
    audit = MemoryAuditSink(clock)
    http = client(allow)
    plane = DataPlane(
        tokens=AccessTokens(SqlTokenStore(engine), clock),
        enforcer=Enforcer(SqlAccessCounter(engine), clock, stored_policy=contracts.stored_policy),
        sources=DataSources(SourceDirs.of([], Path(".")), upstream=http),
        contracts=contracts,
        audit=audit,
        clock=clock,
    )
    delivered: list[str] = []
    failed: list[tuple[str, str]] = []
    pusher = Pusher(
        plane,
        http,
        on_delivered=delivered.append,
        on_failed=lambda t, r: failed.append((t, r)),
        attempts=4,
        backoff_seconds=0.05,
    )
    pusher.start(transfer, agreement, dataset)
    return pusher, audit, transfer, delivered, failed


def test_push_streams_a_geofenced_upstream_with_retries(
    upstream: str, receiver: str, engine: Engine
) -> None:
    Upstream.failures_left = 1  # the upstream fails once, then the receiver fails once
    pusher, audit, transfer, delivered, failed = push_setup(
        engine, upstream + "/flaky.geojson", receiver + "/inbox", ["127.0.0.1"]
    )
    pusher.threads[transfer.id].join(30)
    assert failed == [] and delivered == [transfer.id]
    assert len(Receiver.received) == 1
    auth, media, body = Receiver.received[0]
    assert auth == "Bearer consumer-secret" and media == "application/geo+json"
    features = json.loads(body)["features"]
    expected = [r["id"] for r in ROWS if inside(r["lon"], r["lat"], HAGEN)]
    assert [f["id"] for f in features] == expected
    results = [e.result for e in audit.entries]
    assert results == [Result.ERROR, Result.ERROR, Result.OK]
    details = audit.entries[-1].details
    assert details is not None and details["bytes"] == len(body)


def test_push_refuses_unguarded_upstreams_and_destinations(
    upstream: str, receiver: str, engine: Engine
) -> None:
    # the destination is a private address that is not allow-listed
    pusher, _, transfer, delivered, failed = push_setup(
        engine, upstream + "/sites.geojson", "http://10.1.2.3/inbox", ["127.0.0.1"]
    )
    pusher.threads[transfer.id].join(30)
    assert delivered == [] and failed and failed[0][1] == "ssrf_blocked"
    # nothing allow-listed: the upstream itself is refused, no attempt reaches the receiver
    pusher, _, transfer, delivered, failed = push_setup(
        engine, upstream + "/sites.geojson", receiver + "/inbox", ["192.0.2.1"]
    )
    pusher.threads[transfer.id].join(30)
    assert delivered == [] and failed == [(transfer.id, "ssrf_blocked")]
    assert Receiver.received == []


@pytest.mark.parametrize(
    ("state", "pending", "usable"),
    [
        (TransferState.STARTED, None, True),
        (TransferState.REQUESTED, TransferEvent.START, True),  # our start message is in flight
        (TransferState.SUSPENDED, TransferEvent.START, True),  # resuming
        (TransferState.REQUESTED, None, False),
        (TransferState.SUSPENDED, None, False),
        (TransferState.STARTED, TransferEvent.SUSPEND, True),
        (TransferState.COMPLETED, None, False),
        (TransferState.TERMINATED, None, False),
    ],
)
def test_token_usable_once_the_start_message_is_sent(
    engine: Engine, state: TransferState, pending: TransferEvent | None, usable: bool
) -> None:
    """The consumer may pull as soon as it has acknowledged our TransferStartMessage, which can
    be before we have recorded that acknowledgement (a race seen in the audit benchmark)."""
    from connector.dataplane.tokens import Grant, TokenRefused

    pusher, _audit, transfer, _delivered, _failed = push_setup(
        engine, "http://127.0.0.1:9/none.geojson", "http://127.0.0.1:9/inbox", ["127.0.0.1"]
    )
    pusher.threads[transfer.id].join(30)
    plane = pusher.plane
    plane.contracts._transfer = dataclasses.replace(transfer, state=state, pending=pending)  # type: ignore[attr-defined]
    now = SystemClock().now()
    grant = Grant(transfer.id, transfer.agreement_id, CONSUMER, TARGET, now, now)
    try:
        plane.admit(grant)
        cause = None
    except TokenRefused as exc:
        cause = exc.cause
    except Exception:  # later checks (source, policy) are not what this test is about
        cause = None
    assert (cause != "transfer_not_started") is usable
