"""Audit trail: appends per second, and the overhead the audit adds to a pull and a negotiation.

Prints appends/s on SQLite (always) and PostgreSQL (when ``CONNECTOR_TEST_POSTGRES_URL`` is
set, e.g. under ``scripts/with-postgres.sh``), and the ratio "audit on / no-op sink" for

* a data pull: streaming a 1 MiB file in 64 KiB chunks through SHA-256, plus one
  ``data.accessed`` event;
* a negotiation on the provider's real control plane (use cases, stores, policy engine, data
  address issuing; in-process, no HTTP): request, acknowledgement, verification,
  acknowledgement, transfer request, start acknowledgement — eight audit events written in the
  same transactions as the state changes (:meth:`SqlAuditStore.append_in`), against the same
  flow with no trail attached;
* a real pull through the data plane (token check, enforcement with the access counter, file
  source, one ``data.accessed``) against a no-op sink;
* and, as before, the bare stand-in "1 MiB SHA-256 + one append" (a floor for the pull).

Without HTTP and DSP token checks in the denominators these in-process ratios are upper bounds
of what a real exchange sees. Runs alternate A/B and report medians.

End to end (SQLite): two pairs of real connectors (provider + consumer, each ``create_app`` under
uvicorn in its own process, started by this script with ``--serve on|off``; loopback HTTP, demo
data of ``connector demo --days 2``). In the "off" pair every holder of the trail is detached
inside the server process (:func:`detach_trail`; no setting involved): the runtime's sink and the
data plane's become a :class:`NullAuditSink`, the control-plane and catalogue stores get no
trail. Exchanges alternate between the pairs (on, off, on, off …); printed are the p50 of
negotiation request → FINALIZED (consumer management API) and of a full pull of one demo dataset
(transfer request → STARTED, then the whole body through the consumer's
``GET /api/management/transfers/{id}/data``), and the on/off ratio of each. Target <= 1.10.

Run: ``.venv/bin/python benchmarks/audit.py [--quick] [--e2e-only]`` (under a minute; with
PostgreSQL: ``scripts/with-postgres.sh .venv/bin/python benchmarks/audit.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import text

from connector.audit.sink import AuditSink, NullAuditSink
from connector.audit.vocabulary import EventType
from connector.clock import SystemClock
from connector.controlplane.listings import Listings
from connector.controlplane.negotiations import Negotiations
from connector.controlplane.ports import Caller, Facts, OutboxMessage
from connector.controlplane.transfers import Transfers
from connector.dsp import negotiation as wn
from connector.dsp import transfer as wt
from connector.dsp.conversion import message_offer
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.stores.database import create_db_engine, migrate
from connector.stores.process_queries import SqlProcessQueries
from connector.testing import make_settings, throwaway_keyset
from connector.web.dataplane import build_dataplane

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dsp_processes import KEY, ROOT, Connector, _free_port

CLOCK = SystemClock()
KEYS = throwaway_keyset()


def _sql_store(url: str) -> SqlAuditStore:
    engine = create_db_engine(url)
    migrate(engine)
    return SqlAuditStore(engine, CLOCK, checkpoint_signer(KEYS))


def _postgres_url() -> str | None:
    base = os.environ.get("CONNECTOR_TEST_POSTGRES_URL")
    if not base:
        return None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_db_engine(base).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


def appends_per_second(sink: AuditSink, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        sink.record(
            EventType.DATA_ACCESSED,
            actor="did:web:partner.example",
            participant="did:web:partner.example",
            dataset=f"urn:dataset:{i % 10}",
            agreement="urn:uuid:agreement",
            details={"bytes": i, "duration_ms": 3},
        )
    return count / (time.perf_counter() - start)


def pull(sink: AuditSink, source: Path) -> None:
    start = CLOCK.monotonic()
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as handle:
        while chunk := handle.read(65536):
            digest.update(chunk)
            size += len(chunk)
    sink.record(
        EventType.DATA_ACCESSED,
        actor="did:web:partner.example",
        participant="did:web:partner.example",
        dataset="urn:dataset:klima",
        agreement="urn:uuid:agreement",
        details={"bytes": size, "duration_ms": int((CLOCK.monotonic() - start) * 1000)},
    )


OPEN_POLICY = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/open",
    "permission": [{"action": "use"}],
}
US, PARTNER = "did:web:daten.hagen.example", "did:web:partner.example"
CALLBACK = "https://partner.example/api/dsp"


class Provider:
    """The provider's real control plane (use cases, stores, policy engine) on one database,
    driven in-process: a negotiation is request → ack → verification → ack, then a transfer
    request (policy re-check included, data address issued) and the start's ack. Its audit
    events (four state changes of the negotiation, two of the transfer, two ``policy.decided``)
    are written in the store's own transactions; ``audit`` off means no trail attached."""

    def __init__(self, store: SqlAuditStore, data_dir: Path) -> None:
        engine = store.engine
        self.trail = store
        self.store = SqlControlPlaneStore(engine, CLOCK)
        self.catalog = SqlCatalogStore(engine, CLOCK)
        self.catalog.audit = store
        self.sent: list[OutboxMessage] = []
        self.store.on_enqueue(self.sent.extend)
        plane = SimpleNamespace(queries=SqlProcessQueries(engine), catalog_store=self.catalog)
        self.data = build_dataplane(
            make_settings(data_dir), CLOCK, engine, store, controlplane=lambda: plane
        )
        listed = Listings(self.catalog).create_dataset(
            {
                "id": f"urn:dataset:{uuid.uuid4()}",
                "title": "Klima",
                "source": {"type": "file", "path": "klima.csv", "mediaType": "text/csv"},
                "policy": OPEN_POLICY,
            }
        )
        self.offer = listed.offers[0]
        self.negotiations = Negotiations(
            self.store, CLOCK, self.catalog, own_did=US, callback_url=CALLBACK
        )
        self.transfers = Transfers(
            self.store, CLOCK, self.catalog, self.data.issuer, own_did=US, callback_url=CALLBACK
        )
        plane.transfers = self.transfers

    def _acknowledge(self, pid: str) -> None:
        message = self.sent.pop()
        assert message.id is not None
        self.negotiations.acknowledged(message.id, message.event, pid, None)

    def negotiate(self, audited: bool) -> None:
        self.store.audit = self.trail if audited else None
        caller, cpid = Caller(PARTNER), f"urn:uuid:{uuid.uuid4()}"
        facts = lambda: Facts(PARTNER, trusted=False)  # noqa: E731
        request = wn.ContractRequestMessage(
            consumer_pid=cpid, offer=message_offer(self.offer), callback_address=CALLBACK
        )
        n = self.negotiations.requested(caller, request, facts, visible=lambda d: True)
        self._acknowledge(n.id)
        verification = wn.ContractAgreementVerificationMessage(consumer_pid=cpid, provider_pid=n.id)
        self.negotiations.verified(caller, n.id, verification)
        self._acknowledge(n.id)
        done = self.store_agreement(n.id)
        transfer = wt.TransferRequestMessage(
            consumer_pid=f"urn:uuid:{uuid.uuid4()}",
            agreement_id=done,
            format="HttpData-PULL",
            callback_address=CALLBACK,
        )
        t, _ = self.transfers.requested(caller, transfer, facts)
        start = self.sent.pop()
        assert start.id is not None
        self.transfers.acknowledged(start.id, start.event, t.id, None)
        self.transfer_id = t.id
        props = start.body["dataAddress"]["endpointProperties"]
        self.token = next(p["value"] for p in props if p["name"] == "authorization")

    def pull(self, audited: bool) -> int:
        """One real pull through the data plane (token, enforcement, access counter, file
        source, ``data.accessed``), without HTTP; returns the bytes read."""
        plane = self.data.plane
        plane.audit = self.trail if audited else NullAuditSink(CLOCK)
        access = plane.authorize(self.transfer_id, self.token, [])
        digest, size = hashlib.sha256(), 0
        for chunk in plane.open(access, None).chunks:
            assert isinstance(chunk, bytes)
            digest.update(chunk)
            size += len(chunk)
        return size

    def store_agreement(self, pid: str) -> str:
        with self.store.transaction() as tx:
            n = tx.negotiation(pid)
        assert n is not None and n.agreement is not None, n
        return n.agreement.id


def ab_ratio(work: Callable[[bool], object], rounds: int, reps: int) -> tuple[float, float]:
    """(median ms per call with audit, ratio audit on / off), alternating A/B."""
    on: list[float] = []
    off: list[float] = []
    for _ in range(rounds):
        for audited, times in ((True, on), (False, off)):
            start = time.perf_counter()
            for _ in range(reps):
                work(audited)
            times.append(time.perf_counter() - start)
    return statistics.median(on) / reps * 1000, statistics.median(on) / statistics.median(off)


def ratio(work: Callable[[AuditSink], None], sink: AuditSink, rounds: int, reps: int) -> float:
    null = NullAuditSink(CLOCK)
    on: list[float] = []
    off: list[float] = []
    for _ in range(rounds):
        for target, times in ((sink, on), (null, off)):
            start = time.perf_counter()
            for _ in range(reps):
                work(target)
            times.append(time.perf_counter() - start)
    return statistics.median(on) / statistics.median(off)


# --- end to end: two connector pairs over loopback HTTP ------------------------------------------

DEMO_DATASET = "https://w3id.org/klimakommune/hagen/datasets/luftqualitaet-boele-eckesey"


def detach_trail(runtime: Any) -> None:
    """Replace every holder of the trail in a built app by "no trail": the runtime's sink
    (catalogue, security, DCP and trust events) and the data plane's become a
    :class:`NullAuditSink`, the control-plane and catalogue stores get no trail to append to in
    their transactions (what ``audit`` None means there). Benchmark only, no setting."""
    null = NullAuditSink(runtime.clock)
    runtime.audit = null
    runtime.controlplane.store.audit = None
    runtime.controlplane.catalog_store.audit = None
    runtime.extras["dataplane"].plane.audit = null


def serve(audited: bool) -> None:
    """Subprocess entry: the connector of ``connector serve``, with the trail detached when
    ``audited`` is false (settings from the environment, as ``serve``)."""
    import uvicorn

    from connector.cli import load_settings
    from connector.logging import configure
    from connector.web.app import create_app

    settings = load_settings()
    configure(settings.log_level)
    app = create_app(settings)
    if not audited:
        detach_trail(app.state.runtime)
    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning", access_log=False)


@dataclass
class Pair:
    label: str
    provider: Connector
    consumer: Connector
    folders: list[Path]
    offer: dict[str, Any] = field(default_factory=dict)
    negotiations: list[float] = field(default_factory=list)
    pulls: list[float] = field(default_factory=list)
    size: int = 0
    refused: int = 0


def _start(folder: Path, audited: bool) -> tuple[subprocess.Popen[bytes], Connector]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        {
            "CONNECTOR_DATA_DIR": str(folder),
            "CONNECTOR_PORT": str(port),
            "CONNECTOR_MANAGEMENT_API_KEY": KEY["X-Api-Key"],
            "CONNECTOR_AUDITOR_API_KEY": "bench-auditor-key",
            "CONNECTOR_ALLOW_INSECURE_DID_WEB": "true",
            "CONNECTOR_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1",
            "CONNECTOR_LOG_LEVEL": "warning",
        }
    )
    log = (folder.parent / f"{folder.name}.log").open("wb")
    mode = "on" if audited else "off"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", mode],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((folder.parent / f"{folder.name}.log").read_text())
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                client = httpx.Client(base_url=url, timeout=30)
                did = client.get("/.well-known/did.json").json()["id"]
                return process, Connector(url, did, client)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{folder.name} did not start")


def _until(consumer: Connector, path: str, states: set[str]) -> dict[str, Any]:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        body: dict[str, Any] = consumer.mgmt("GET", path).json()
        if body.get("state") in states:
            return body
        time.sleep(0.0005)
    raise RuntimeError(f"{path} did not reach {states}")


def _negotiate(pair: Pair) -> tuple[float, str]:
    """Consumer ``POST /negotiations`` until its management API reports FINALIZED."""
    start = time.perf_counter()
    answer = pair.consumer.mgmt(
        "POST",
        "/negotiations",
        {
            "counterPartyAddress": pair.provider.url + "/api/dsp",
            "counterPartyId": pair.provider.did,
            "offer": pair.offer,
        },
    ).json()
    done = _until(pair.consumer, f"/negotiations/{answer['id']}", {"FINALIZED", "TERMINATED"})
    if done["state"] != "FINALIZED":
        raise RuntimeError(f"{pair.label}: negotiation ended {done['state']}")
    return time.perf_counter() - start, str(done["agreementId"])


class PullRefused(RuntimeError):
    """The provider refused a fresh token (seen now and then right after STARTED; counted,
    not timed)."""


def _pull(pair: Pair, agreement: str) -> tuple[float, int]:
    """Transfer request → STARTED, then the whole dataset through the consumer's
    ``GET /api/management/transfers/{id}/data`` (which pulls from the provider)."""
    start = time.perf_counter()
    answer = pair.consumer.mgmt(
        "POST",
        "/transfers",
        {
            "counterPartyAddress": pair.provider.url + "/api/dsp",
            "counterPartyId": pair.provider.did,
            "agreementId": agreement,
            "format": "HttpData-PULL",
        },
    ).json()
    _until(pair.consumer, f"/transfers/{answer['id']}", {"STARTED"})
    size = 0
    path = f"/api/management/transfers/{answer['id']}/data"
    with pair.consumer.client.stream("GET", path, headers=KEY) as response:
        if response.status_code != 200:
            detail = response.read().decode(errors="replace")
            if response.status_code == 403 and "invalid_token" in detail:
                raise PullRefused(detail)
            raise RuntimeError(f"{pair.label}: pull answered {response.status_code}: {detail}")
        for chunk in response.iter_bytes():
            size += len(chunk)
    return time.perf_counter() - start, size


def _trail_length(folder: Path) -> int:
    engine = create_db_engine(f"sqlite:///{folder / 'connector.db'}")
    try:
        return SqlAuditStore(engine, CLOCK, checkpoint_signer(KEYS)).head().seq
    finally:
        engine.dispose()


def _p50(values: list[float]) -> float:
    return statistics.median(values) * 1000


def end_to_end(rounds: int, per_round: int) -> None:
    """Two pairs (audit on, trail detached) over loopback HTTP, rounds interleaved."""
    started: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = root / "demo"
        subprocess.run(
            [sys.executable, "-m", "connector.cli", "demo", "--days", "2", "--out", str(demo)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            pairs = []
            for audited in (True, False):
                label = "on" if audited else "off"
                folders = [root / f"provider-{label}", root / f"consumer-{label}"]
                for folder in folders:
                    folder.mkdir()
                shutil.copytree(demo, folders[0] / "demo")
                (provider_process, provider), (consumer_process, consumer) = (
                    _start(folders[0], audited),
                    _start(folders[1], audited),
                )
                started += [provider_process, consumer_process]
                pairs.append(Pair(label, provider, consumer, folders))
            for pair in pairs:
                catalog = pair.consumer.mgmt(
                    "POST",
                    "/catalog/request",
                    {
                        "counterPartyAddress": pair.provider.url + "/api/dsp",
                        "counterPartyId": pair.provider.did,
                    },
                ).json()
                entry = next(d for d in catalog["dataset"] if d["@id"] == DEMO_DATASET)
                pair.offer = {**entry["hasPolicy"][0], "target": DEMO_DATASET}
                for _ in range(3):  # warm-up: DID resolution, pools, compiled policies
                    _, agreement = _negotiate(pair)
                    with contextlib.suppress(PullRefused):
                        _pull(pair, agreement)
            before = [_trail_length(f) for pair in pairs for f in pair.folders]
            for _ in range(rounds):
                for pair in pairs:
                    for _ in range(per_round):
                        elapsed, agreement = _negotiate(pair)
                        pair.negotiations.append(elapsed)
                        try:
                            elapsed, pair.size = _pull(pair, agreement)
                        except PullRefused:
                            pair.refused += 1
                            continue
                        pair.pulls.append(elapsed)
            after = [_trail_length(f) for pair in pairs for f in pair.folders]
        finally:
            for process in started:
                process.terminate()
            for process in started:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    on, off = pairs
    n = len(on.negotiations)
    grown = [a - b for a, b in zip(after, before, strict=True)]
    print(
        f"end to end (SQLite, provider + consumer processes, loopback HTTP, {rounds} rounds "
        f"on/off interleaved, n={n} each; trail entries added per exchange: provider "
        f"{grown[0] / n:.1f}, consumer {grown[1] / n:.1f} with audit; "
        f"{grown[2] / n:.1f} / {grown[3] / n:.1f} detached):"
    )
    nego_on, nego_off = _p50(on.negotiations), _p50(off.negotiations)
    print(
        f"  negotiation request -> FINALIZED: p50 {nego_on:.1f} ms with audit, "
        f"{nego_off:.1f} ms detached, ratio {nego_on / nego_off:.3f}"
    )
    print(
        f"  pull of {on.size / 1024:.0f} KiB (transfer request -> STARTED + GET): "
        f"p50 {_p50(on.pulls):.1f} ms with audit, {_p50(off.pulls):.1f} ms detached, "
        f"ratio {_p50(on.pulls) / _p50(off.pulls):.3f}"
        + (
            f" ({on.refused} + {off.refused} pulls refused with invalid_token, not counted)"
            if on.refused + off.refused
            else ""
        )
    )


def main() -> int:
    if "--serve" in sys.argv:
        serve(sys.argv[sys.argv.index("--serve") + 1] == "on")
        return 0
    quick = "--quick" in sys.argv
    if "--e2e-only" not in sys.argv:
        in_process(quick)
    end_to_end(rounds=20 if quick else 100, per_round=1)
    return 0


def in_process(quick: bool) -> None:
    """The in-process figures (bare use cases, no HTTP): upper bounds of the overhead."""
    count = 300 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "data.bin"
        source.write_bytes(os.urandom(1 << 20))
        (Path(tmp) / "klima.csv").write_bytes(b"month,value\n" + b"2025-01,1\n" * (1 << 16))
        backends = {"sqlite": _sql_store(f"sqlite:///{tmp}/audit.db")}
        pg = _postgres_url()
        if pg is not None:
            backends["postgresql"] = _sql_store(pg)
        else:
            print("postgresql: skipped (set CONNECTOR_TEST_POSTGRES_URL)")
        print(f"no-op sink: {appends_per_second(NullAuditSink(CLOCK), count):,.0f} appends/s")
        for name, store in backends.items():
            rate = appends_per_second(store, count)
            pull_ratio = ratio(lambda s: pull(s, source), store, 7, 5 if quick else 20)
            provider = Provider(store, Path(tmp))
            provider.negotiate(True)  # warm up (compiled policy, caches)
            before = store.head().seq
            provider.negotiate(True)
            events = store.head().seq - before
            per, nego_ratio = ab_ratio(provider.negotiate, 7, 3 if quick else 15)
            size = provider.pull(True)
            per_pull, real_pull = ab_ratio(provider.pull, 7, 5 if quick else 20)
            print(
                f"in-process {name}: {rate:,.0f} appends/s (single writer); "
                f"1 MiB hash + append / no-op = {pull_ratio:.3f}; "
                f"negotiation+transfer request with audit / without = {nego_ratio:.3f} "
                f"({per:.1f} ms each, {events} events in the same transactions); "
                f"data-plane pull of {size / 1024:.0f} KiB with audit / no-op = {real_pull:.3f} "
                f"({per_pull:.2f} ms each)"
            )
            provider.data.close()
            report = store.verify()
            print(f"in-process {name}: {report.line()}")
            store.engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
