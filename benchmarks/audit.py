"""Audit trail: appends per second, and the overhead the audit adds to a pull and a negotiation.

Prints appends/s on SQLite (always) and PostgreSQL (when ``CONNECTOR_TEST_POSTGRES_URL`` is
set, e.g. under ``scripts/with-postgres.sh``), and the ratio "audit on / no-op sink" for

* a data pull: streaming a 1 MiB file in 64 KiB chunks through SHA-256, plus one
  ``data.accessed`` event;
* a negotiation: six DSP-like messages (JSON parse, EdDSA JWS verify, JSON dump) with one
  ``negotiation.state_changed`` event each, plus one ``policy.decided``.

Until the control and data planes exist, the pull and negotiation are these stand-ins with
comparable work; the figure to watch is the ratio (target <= 1.10). Runs alternate A/B and
report medians.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from jwcrypto import jwk, jws
from sqlalchemy import text

from connector.audit.sink import AuditSink, NullAuditSink
from connector.audit.vocabulary import EventType
from connector.clock import SystemClock
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
from connector.stores.database import create_db_engine, migrate
from connector.testing import throwaway_keyset

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


_SIGNING = jwk.JWK.from_pyca(KEYS.ed25519)
_VERIFYING = jwk.JWK.from_pyca(KEYS.ed25519.public_key())


def _message(kind: str) -> str:
    body = {
        "@type": kind,
        "providerPid": "urn:uuid:p",
        "consumerPid": "urn:uuid:c",
        "offer": {
            "@id": "urn:offer:1",
            "target": "urn:dataset:klima",
            "permission": [{"action": "use", "constraint": []}],
        },
    }
    token = jws.JWS(json.dumps(body).encode())
    token.add_signature(_SIGNING, alg="EdDSA", protected=json.dumps({"alg": "EdDSA"}))
    return str(token.serialize(compact=True))


STEPS = [
    ("ContractRequestMessage", None, "REQUESTED"),
    ("ContractOfferMessage", "REQUESTED", "OFFERED"),
    ("ContractNegotiationEventMessage", "OFFERED", "ACCEPTED"),
    ("ContractAgreementMessage", "ACCEPTED", "AGREED"),
    ("ContractAgreementVerificationMessage", "AGREED", "VERIFIED"),
    ("ContractNegotiationEventMessage", "VERIFIED", "FINALIZED"),
]
MESSAGES = {kind: _message(kind) for kind, _, _ in STEPS}


def negotiation(sink: AuditSink) -> None:
    for kind, old, new in STEPS:
        token = jws.JWS()
        token.deserialize(MESSAGES[kind])
        token.verify(_VERIFYING, alg="EdDSA")
        json.dumps(json.loads(token.payload))
        sink.record(
            EventType.NEGOTIATION_STATE_CHANGED,
            actor="did:web:partner.example",
            participant="did:web:partner.example",
            process="urn:uuid:c",
            details={"from": old, "to": new, "message": kind},
        )
        if new == "REQUESTED":
            sink.record(
                EventType.POLICY_DECIDED,
                actor="system",
                participant="did:web:partner.example",
                dataset="urn:dataset:klima",
                details={"decision": "permit", "report_digest": "0" * 64, "explanation": "ok"},
            )


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
            nego_ratio = ratio(negotiation, store, 7, 3 if quick else 15)
            print(
                f"{name}: {rate:,.0f} appends/s (single writer); "
                f"pull with audit / no-op = {pull_ratio:.3f}; "
                f"negotiation with audit / no-op = {nego_ratio:.3f}"
            )
            report = store.verify()
            print(f"{name}: {report.line()}")
            store.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
