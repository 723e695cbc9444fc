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

Without HTTP and DSP token checks in the denominators these ratios are upper bounds of what a
real exchange sees. Target <= 1.10. Runs alternate A/B and report medians.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

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


def main() -> int:
    quick = "--quick" in sys.argv
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
                f"{name}: {rate:,.0f} appends/s (single writer); "
                f"1 MiB hash + append / no-op = {pull_ratio:.3f}; "
                f"negotiation+transfer request with audit / without = {nego_ratio:.3f} "
                f"({per:.1f} ms each, {events} events in the same transactions); "
                f"data-plane pull of {size / 1024:.0f} KiB with audit / no-op = {real_pull:.3f} "
                f"({per_pull:.2f} ms each)"
            )
            provider.data.close()
            report = store.verify()
            print(f"{name}: {report.line()}")
            store.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
