"""Control-plane facts in the audit trail: state changes in the same transaction as the change,
policy and dataset changes with their hashes, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from connector.audit.event import AuditEvent
from connector.audit.vocabulary import EventType
from connector.clock import FixedClock
from connector.model.contract import Agreement, Offer
from connector.model.dataset import Dataset
from connector.model.negotiation import Negotiation, NegotiationEvent
from connector.model.process import Role
from connector.model.transfer import Transfer, TransferEvent
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer, own_keys
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.stores.database import create_db_engine, migrate
from connector.stores.transactions import write_transaction
from connector.testing import throwaway_keyset

KEYSET = throwaway_keyset()
NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
PARTNER = "did:web:partner.example"
OFFER = Offer("urn:uuid:offer-1", "ds-1", {"permission": [{"action": "use"}]}, "p", "sha256:pol")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database: a SQLite file, or a throwaway schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cp.db'}"
        admin = None
    else:
        base: str = request.getfixturevalue("postgres_url")
        schema = f"aud_{uuid.uuid4().hex[:12]}"
        admin = create_db_engine(base, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    engine = create_db_engine(url, pool_size=4)
    migrate(engine)
    yield engine
    engine.dispose()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def audit(engine: Engine, clock: FixedClock) -> SqlAuditStore:
    return SqlAuditStore(engine, clock, checkpoint_signer(KEYSET), checkpoint_every=5)


@pytest.fixture
def store(engine: Engine, clock: FixedClock, audit: SqlAuditStore) -> SqlControlPlaneStore:
    store = SqlControlPlaneStore(engine, clock)
    store.audit = audit
    return store


def _agreement() -> Agreement:
    return Agreement(
        id="urn:uuid:agreement-1",
        target="ds-1",
        assigner=PARTNER,
        assignee="did:web:us.example",
        timestamp=NOW,
        policy={"permission": [{"action": "use"}]},
        offer_id=OFFER.id,
        policy_id="p",
        policy_hash="sha256:pol",
    )


def test_a_consumer_negotiation_is_recorded_step_by_step(
    store: SqlControlPlaneStore, audit: SqlAuditStore
) -> None:
    n = Negotiation.create(
        id="urn:uuid:n1",
        role=Role.CONSUMER,
        counterparty_id=PARTNER,
        counterparty_address="https://partner.example/dsp",
        dataset_id="ds-1",
        at=NOW,
        offer=OFFER,
    ).send(NegotiationEvent.REQUEST, offer=OFFER)
    with store.transaction() as tx:
        tx.save_negotiation(n)  # pending only: no protocol state change yet
    assert audit.head().seq == 0
    with store.transaction() as tx:
        loaded = tx.negotiation("urn:uuid:n1")
        assert loaded is not None
        moved = loaded.acknowledge(NegotiationEvent.REQUEST, at=NOW, counterpart_pid="urn:p1")
        tx.save_negotiation(moved)
    with store.transaction() as tx:  # saved without reading it first in this transaction
        moved = moved.receive(NegotiationEvent.AGREE, at=NOW, agreement=_agreement())
        moved = moved.send(NegotiationEvent.VERIFY)
        moved = moved.acknowledge(NegotiationEvent.VERIFY, at=NOW)
        tx.save_negotiation(moved)
        tx.save_negotiation(moved)  # saving again adds nothing
    events = audit.query(limit=100)
    assert [(e.details or {}).get("to") for e in events] == ["REQUESTED", "AGREED", "VERIFIED"]
    assert {e.type for e in events} == {"negotiation.state_changed"}
    agreed = events[1]
    assert agreed.details is not None
    assert agreed.details["message"] == "ContractAgreementMessage"
    assert agreed.details["agreement"] == "urn:uuid:agreement-1"
    assert agreed.details["policy_hash"] == "sha256:pol"
    assert agreed.details["from"] == "REQUESTED" and agreed.actor == PARTNER
    assert events[0].actor == "system"  # our request, acknowledged
    assert all(e.participant == PARTNER and e.dataset == "ds-1" for e in events)
    assert audit.verify(trusted_keys=own_keys(KEYSET)).ok


def test_a_rolled_back_change_leaves_no_event_and_no_gap(
    store: SqlControlPlaneStore, audit: SqlAuditStore
) -> None:
    t = Transfer.create(
        id="urn:uuid:t1",
        role=Role.PROVIDER,
        counterparty_id=PARTNER,
        counterparty_address="https://partner.example/dsp",
        agreement_id="urn:uuid:agreement-1",
        format="HttpData-PULL",
        at=NOW,
        counterpart_pid="urn:c1",
    )
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.save_transfer(t.receive(TransferEvent.REQUEST, at=NOW))
        raise RuntimeError("the use case failed after the save")
    assert audit.head().seq == 0
    with store.transaction() as tx:
        assert tx.transfer("urn:uuid:t1") is None
        tx.save_agreement(_agreement(), negotiation_id="urn:uuid:n1")
        tx.save_transfer(t.receive(TransferEvent.REQUEST, at=NOW))
    audit.record(EventType.AUTH_FAILED, actor=PARTNER, details={"reason": "expired"})
    entries = audit.query(limit=10)
    assert [e.seq for e in entries] == [1, 2]
    assert entries[0].type == "transfer.state_changed"
    assert entries[0].agreement == "urn:uuid:agreement-1" and entries[0].dataset == "ds-1"
    assert entries[0].details is not None and entries[0].details["from"] is None
    assert audit.verify(trusted_keys=own_keys(KEYSET)).ok


def test_joined_and_standalone_appends_make_one_chain(
    engine: Engine, clock: FixedClock, audit: SqlAuditStore
) -> None:
    errors: list[BaseException] = []

    def joined(worker: int) -> None:
        try:
            for i in range(15):
                with write_transaction(engine) as conn:
                    events = [
                        AuditEvent(
                            EventType.KEY_ROTATED,
                            actor="system",
                            details={"old_key": f"{worker}-{i}", "new_key": str(j)},
                        )
                        for j in range(2)
                    ]
                    audit.append_in(conn, events)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def standalone(worker: int) -> None:
        try:
            for i in range(15):
                audit.record(EventType.AUTH_FAILED, actor="system", details={"reason": f"{i}"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=joined, args=(w,)) for w in range(2)]
    threads += [threading.Thread(target=standalone, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    entries = audit.query(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 91))
    for worker in range(2):  # a transaction's events stay together, in order
        for i in range(15):
            seqs = [
                e.seq
                for e in entries
                if e.details is not None and e.details.get("old_key") == f"{worker}-{i}"
            ]
            assert len(seqs) == 2 and seqs[1] == seqs[0] + 1
    report = audit.verify(trusted_keys=own_keys(KEYSET))
    assert report.ok and report.checkpoints_verified == 90 // 5


def test_policy_and_dataset_changes_carry_old_and_new_hashes(
    engine: Engine, clock: FixedClock, audit: SqlAuditStore
) -> None:
    catalog = SqlCatalogStore(engine, clock)
    catalog.audit = audit
    first = catalog.save_policy("open", {"permission": [{"action": "use"}]}, None)
    catalog.save_policy("open", {"permission": [{"action": "use"}]}, None)  # unchanged
    second = catalog.save_policy("open", {"permission": [{"action": "read"}]}, None)
    source = {"type": "http", "url": "https://example.org/a.csv"}
    dataset = Dataset(id="ds-1", title="One", offers=(OFFER,), source=source)
    catalog.save_dataset(dataset, access_hash=None, replace=False)
    catalog.save_dataset(dataset, access_hash=None, replace=True)  # unchanged
    changed = Dataset(id="ds-1", title="Two", offers=(OFFER,), source=source)
    catalog.save_dataset(changed, access_hash=None, replace=True)
    assert catalog.delete_dataset("ds-1")
    assert not catalog.delete_dataset("ds-1")
    entries = audit.query(limit=100)
    assert [e.type for e in entries] == ["policy.changed"] * 2 + ["dataset.changed"] * 3
    p1, p2, d1, d2, d3 = (e.details or {} for e in entries)
    assert (p1["old_hash"], p1["new_hash"], p1["version"]) == (None, first.hash, 1)
    assert (p2["old_hash"], p2["new_hash"], p2["version"]) == (first.hash, second.hash, 2)
    assert d1["old_hash"] is None and d1["change"] == "created"
    assert d2["old_hash"] == d1["new_hash"] != d2["new_hash"]
    assert (d3["old_hash"], d3["new_hash"], d3["change"]) == (d2["new_hash"], None, "removed")
    assert all(e.dataset == "ds-1" for e in entries[2:])
    assert audit.verify(trusted_keys=own_keys(KEYSET)).ok


def test_a_decision_noted_inside_a_transaction_joins_it(
    store: SqlControlPlaneStore, audit: SqlAuditStore
) -> None:
    decision = {
        "report_digest": "0" * 64,
        "explanation": "the use period has ended",
        "participant": PARTNER,
        "dataset": "ds-1",
        "agreement": "urn:uuid:agreement-1",
        "stage": "transfer",
    }
    with pytest.raises(RuntimeError), store.transaction():
        store.record_decision(permitted=False, **decision)
        raise RuntimeError("rolled back")
    assert audit.head().seq == 0  # went with the transaction
    with store.transaction():
        store.record_decision(permitted=False, **decision)
    store.record_decision(permitted=True, **decision)  # no transaction open: on its own
    entries = audit.query(limit=10)
    assert [(e.type, e.result) for e in entries] == [
        ("policy.decided", "denied"),
        ("policy.decided", "ok"),
    ]
    assert entries[0].details is not None and entries[0].details["stage"] == "transfer"
