"""Contract tests of the control-plane stores (processes, outbox, policies, datasets), on
SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from connector.clock import FixedClock
from connector.controlplane.ports import OutboxMessage
from connector.errors import Conflict, Invalid
from connector.model.contract import Agreement, Offer
from connector.model.dataset import Dataset
from connector.model.negotiation import Negotiation, NegotiationEvent, NegotiationState
from connector.model.process import Role
from connector.model.transfer import DataAddress, Transfer, TransferEvent
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.stores.database import create_db_engine, migrate
from connector.stores.outbox_store import SqlOutbox
from connector.stores.process_queries import SqlProcessQueries

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
PARTNER = "did:web:partner.example"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a throwaway schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cp.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"cp_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(base, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url, pool_size=4)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> SqlControlPlaneStore:
    return SqlControlPlaneStore(engine, FixedClock(NOW))


def _offer(target: str = "ds-1") -> Offer:
    return Offer("urn:uuid:offer-1", target, {"permission": [{"action": "use"}]}, "p", "sha256:x")


def _negotiation(pid: str = "urn:uuid:n1") -> Negotiation:
    n = Negotiation.create(
        id=pid,
        role=Role.CONSUMER,
        counterparty_id=PARTNER,
        counterparty_address="https://partner.example/dsp",
        dataset_id="ds-1",
        at=NOW,
        offer=_offer(),
    )
    return n.send(NegotiationEvent.REQUEST, offer=_offer())


def _message(pid: str, event: str = "ContractRequestMessage") -> OutboxMessage:
    return OutboxMessage(
        "negotiation", pid, event, "https://partner.example/dsp/x", PARTNER, {"a": 1}
    )


def test_negotiation_round_trip_and_outbox_in_one_transaction(store: SqlControlPlaneStore) -> None:
    woken: list[list[OutboxMessage]] = []
    store.on_enqueue(woken.append)
    n = _negotiation()
    with store.transaction() as tx:
        tx.save_negotiation(n)
        tx.enqueue(_message(n.id))
    assert [[m.process_id for m in batch] for batch in woken] == [[n.id]]
    assert woken[0][0].id is not None
    with store.transaction() as tx:
        assert tx.negotiation(n.id) == n
    assert SqlOutbox(store.engine).pending_count() == 1


def test_an_owner_leases_its_messages_in_the_same_transaction(engine: Engine) -> None:
    store = SqlControlPlaneStore(engine, FixedClock(NOW), owner="replica-a", lease_seconds=30)
    handed: list[list[OutboxMessage]] = []
    store.on_enqueue(handed.append)
    with store.transaction() as tx:
        tx.enqueue(_message("urn:uuid:x"))
        tx.enqueue(_message("urn:uuid:y"))
        tx.enqueue(_message("urn:uuid:x", "ContractNegotiationTerminationMessage"))
    assert [(m.process_id, m.event) for m in handed[0]] == [
        ("urn:uuid:y", "ContractRequestMessage"),
        ("urn:uuid:x", "ContractNegotiationTerminationMessage"),
    ]
    outbox = SqlOutbox(engine)
    assert outbox.lease("replica-b", NOW.timestamp()) == []  # leased to replica-a
    assert len(outbox.lease("replica-b", NOW.timestamp() + 31)) == 2  # a died: lease expired


def test_a_failed_transaction_writes_nothing(store: SqlControlPlaneStore) -> None:
    n = _negotiation()
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.save_negotiation(n)
        tx.enqueue(_message(n.id))
        raise Conflict("refused", reason="illegal_transition")
    with store.transaction() as tx:
        assert tx.negotiation(n.id) is None
    assert SqlOutbox(store.engine).pending_count() == 0


def test_enqueue_replaces_and_no_pending_drops_the_message(store: SqlControlPlaneStore) -> None:
    n = _negotiation()
    with store.transaction() as tx:
        tx.save_negotiation(n)
        tx.enqueue(_message(n.id))
        tx.enqueue(_message(n.id, "ContractNegotiationTerminationMessage"))
    outbox = SqlOutbox(store.engine)
    leased = outbox.lease("a", NOW.timestamp())
    assert [m.event for m in leased] == ["ContractNegotiationTerminationMessage"]
    with store.transaction() as tx:
        tx.save_negotiation(n.drop_pending())
    assert outbox.pending_count() == 0


def test_acknowledgement_moves_state_and_retires_the_row(store: SqlControlPlaneStore) -> None:
    n = _negotiation()
    with store.transaction() as tx:
        tx.save_negotiation(n)
        tx.enqueue(_message(n.id))
    (message,) = SqlOutbox(store.engine).lease("a", NOW.timestamp())
    assert message.id is not None
    with store.transaction() as tx:
        assert tx.outbox_row(message.id) is not None
        tx.outbox_done(message.id)
        moved = n.acknowledge(NegotiationEvent.REQUEST, at=NOW, counterpart_pid="urn:uuid:p1")
        tx.save_negotiation(moved)
    found = SqlProcessQueries(store.engine).negotiation(n.id)
    assert found is not None
    assert found.state is NegotiationState.REQUESTED
    assert found.provider_pid == "urn:uuid:p1"
    assert SqlProcessQueries(store.engine).negotiations(state="REQUESTED", role="CONSUMER")


def test_leases_are_exclusive_expire_and_retry_later(store: SqlControlPlaneStore) -> None:
    with store.transaction() as tx:
        for i in range(3):
            tx.enqueue(_message(f"urn:uuid:n{i}"))
    outbox = SqlOutbox(store.engine)
    now = NOW.timestamp()
    first = outbox.lease("a", now, limit=2, lease_seconds=10)
    second = outbox.lease("b", now, limit=10, lease_seconds=10)
    assert len(first) == 2
    assert len(second) == 1
    assert outbox.lease("c", now + 5) == []
    again = outbox.lease("c", now + 11)
    assert len(again) == 3
    target = again[0]
    assert target.id is not None
    outbox.retry(target.id, now + 100, "HTTP 503")
    assert target.id not in {m.id for m in outbox.lease("d", now + 50, lease_seconds=1000)}
    retried = outbox.lease("d", now + 101)
    assert [m.id for m in retried] == [target.id]
    assert retried[0].attempts == 1


def test_concurrent_leases_never_hand_out_a_row_twice(store: SqlControlPlaneStore) -> None:
    with store.transaction() as tx:
        for i in range(40):
            tx.enqueue(_message(f"urn:uuid:c{i}"))
    outbox = SqlOutbox(store.engine)
    taken: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            batch = outbox.lease(name, NOW.timestamp(), limit=3, lease_seconds=600)
            if not batch:
                return
            with lock:
                taken.extend(m.id or 0 for m in batch)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(set(taken))
    assert len(taken) == 40


def test_transfer_lookup_by_consumer_pid_and_agreements(store: SqlControlPlaneStore) -> None:
    t = Transfer.create(
        id="urn:uuid:t1",
        role=Role.PROVIDER,
        counterparty_id=PARTNER,
        counterparty_address="https://partner.example/dsp",
        agreement_id="urn:uuid:a1",
        format="HttpData-PULL",
        at=NOW,
        counterpart_pid="urn:uuid:c1",
        data_address=DataAddress("https://w3id.org/idsa/v4.1/HTTP", "https://x", {"k": "v"}),
    ).receive(TransferEvent.REQUEST, at=NOW)
    agreement = Agreement("urn:uuid:a1", "ds-1", "did:web:us", PARTNER, NOW, {"permission": []})
    with store.transaction() as tx:
        tx.save_transfer(t)
        tx.save_agreement(agreement, negotiation_id="urn:uuid:n1")
        tx.save_agreement(agreement, negotiation_id="urn:uuid:n1")
    with store.transaction() as tx:
        assert tx.transfer_by_consumer_pid(PARTNER, "urn:uuid:c1") == t
        assert tx.transfer_by_consumer_pid("did:web:other.example", "urn:uuid:c1") is None
        assert tx.agreement("urn:uuid:a1") == agreement
    assert SqlProcessQueries(store.engine).agreements()[0] == (agreement, "urn:uuid:n1")


def _requested(pid: str, consumer_pid: str, partner: str = PARTNER) -> Negotiation:
    n = Negotiation.create(
        id=pid,
        role=Role.PROVIDER,
        counterparty_id=partner,
        counterparty_address="https://partner.example/dsp",
        dataset_id="ds-1",
        at=NOW,
        counterpart_pid=consumer_pid,
    )
    return n.receive(NegotiationEvent.REQUEST, at=NOW, offer=_offer())


def test_a_provider_finds_a_request_by_counterparty_and_consumer_pid_once(
    store: SqlControlPlaneStore,
) -> None:
    with store.transaction() as tx:
        tx.save_negotiation(_requested("urn:uuid:p1", "urn:uuid:c1"))
        tx.save_negotiation(_requested("urn:uuid:p2", "urn:uuid:c1", "did:web:other.example"))
    with store.transaction() as tx:
        found = tx.negotiation_requested_by(PARTNER, "urn:uuid:c1")
        assert found is not None and found.id == "urn:uuid:p1"
        assert tx.negotiation_requested_by(PARTNER, "urn:uuid:c2") is None
    # the same consumerPid again (two replicas, two copies of one request): refused, nothing kept
    with pytest.raises(Invalid) as refused, store.transaction() as tx:
        tx.save_negotiation(_requested("urn:uuid:p3", "urn:uuid:c1"))
    assert refused.value.reason == "replayed_message"
    with store.transaction() as tx:
        assert tx.negotiation("urn:uuid:p3") is None
    if store.engine.dialect.name == "sqlite":  # PostgreSQL's planner may scan a tiny table
        with store.engine.connect() as conn:
            plan = conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT body FROM cp_negotiations WHERE role = 'PROVIDER'"
                    " AND counterparty_id = 'x' AND consumer_pid = 'y'"
                )
            ).all()
        assert "cp_negotiations_request" in str(plan), plan


def test_management_lists_read_newest_first_without_sorting(engine: Engine) -> None:
    """Pages of the management lists come in index order: no sort of every row per page."""
    store = SqlControlPlaneStore(engine, FixedClock(NOW))
    with store.transaction() as tx:
        for i in range(5):
            n = _requested(f"urn:uuid:p{i}", f"urn:uuid:c{i}")
            tx.save_negotiation(replace(n, created_at=NOW + dt.timedelta(seconds=i)))
    queries = SqlProcessQueries(engine)
    assert [n.id for n in queries.negotiations(state="REQUESTED", limit=2, offset=1)] == [
        "urn:uuid:p3",
        "urn:uuid:p2",
    ]
    assert [n.id for n in queries.negotiations(limit=1)] == ["urn:uuid:p4"]
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        for sql in (
            "SELECT body FROM cp_negotiations WHERE state = 'X' ORDER BY created_at DESC, id",
            "SELECT body FROM cp_negotiations ORDER BY created_at DESC, id",
            "SELECT body FROM cp_transfers ORDER BY created_at DESC, id",
            "SELECT body FROM cp_agreements ORDER BY created_at DESC, id",
        ):
            plan = str(conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all())
            assert "TEMP B-TREE" not in plan, (sql, plan)


def test_a_message_is_in_delivery_while_leased_and_pending(engine: Engine) -> None:
    store = SqlControlPlaneStore(engine, FixedClock(NOW), owner="replica-a", lease_seconds=30)
    outbox = SqlOutbox(engine)
    now = NOW.timestamp()
    with store.transaction() as tx:
        tx.enqueue(_message("urn:uuid:x"))
    message = outbox.lease("replica-b", now + 31)[0]  # a's lease ran out
    assert message.process_id == "urn:uuid:x"
    assert outbox.in_delivery("negotiation", "urn:uuid:x", now + 32)
    assert not outbox.in_delivery("negotiation", "urn:uuid:y", now + 32)
    assert not outbox.in_delivery("transfer", "urn:uuid:x", now + 32)
    assert message.id is not None
    outbox.retry(message.id, now + 100, "HTTP 503")  # waits for a later attempt: not in delivery
    assert not outbox.in_delivery("negotiation", "urn:uuid:x", now + 32)
    again = outbox.lease("replica-b", now + 100)[0]
    assert outbox.in_delivery("negotiation", "urn:uuid:x", now + 101)
    assert again.id is not None
    with store.transaction() as tx:
        assert tx.outbox_done(again.id)
    assert not outbox.in_delivery("negotiation", "urn:uuid:x", now + 101)


def test_policy_versions_are_immutable(engine: Engine) -> None:
    catalog = SqlCatalogStore(engine, FixedClock(NOW))
    body = {"uid": "urn:p", "permission": [{"action": "use"}]}
    v1 = catalog.save_policy("p", body, "urn:p")
    assert catalog.save_policy("p", body, "urn:p") == v1
    v2 = catalog.save_policy("p", {**body, "prohibition": [{"action": "sell"}]}, "urn:p")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.hash != v2.hash
    assert catalog.policy("p") == v2
    assert catalog.policy("p", 1) == v1
    assert catalog.policy("urn:p") == v2
    assert catalog.policy_by_hash(v1.hash) == v1
    assert [p.id for p in catalog.policies()] == ["p"]


def test_datasets_are_paged_by_id(engine: Engine) -> None:
    catalog = SqlCatalogStore(engine, FixedClock(NOW))
    for i in range(7):
        ds = Dataset(id=f"ds-{i}", title=f"T{i}", offers=(_offer(f"ds-{i}"),))
        catalog.save_dataset(ds, access_hash=None, replace=False)
    with pytest.raises(Conflict):
        catalog.save_dataset(
            Dataset(id="ds-0", title="x", offers=(_offer("ds-0"),)), access_hash=None, replace=False
        )
    first = catalog.datasets_after(None, 3)
    assert [d.id for d in first] == ["ds-0", "ds-1", "ds-2"]
    assert [d.id for d in catalog.datasets_after("ds-2", 3)] == ["ds-3", "ds-4", "ds-5"]
    assert len(list(catalog.iter_datasets(batch=2))) == 7
    assert catalog.delete_dataset("ds-3")
    assert not catalog.delete_dataset("ds-3")
    assert catalog.dataset("ds-3") is None


def test_acknowledgement_waits_for_a_transaction_holding_the_process(
    store: SqlControlPlaneStore,
) -> None:
    """Every transaction locks the process row before its outbox rows: an acknowledgement that
    meets a transaction holding the process (the counterpart's next message, which drops the
    outbox) waits for it and then changes nothing — no deadlock (PostgreSQL would detect one
    and abort a transaction after a second)."""
    import threading
    import time

    from connector.controlplane.negotiations import Negotiations

    n = _negotiation()
    with store.transaction() as tx:
        tx.save_negotiation(n)
        tx.enqueue(_message(n.id))
    (message,) = SqlOutbox(store.engine).lease("a", NOW.timestamp())
    assert message.id is not None
    use_cases = Negotiations(
        store,
        FixedClock(NOW),
        None,
        own_did="did:web:us",
        callback_url="https://us/dsp",  # type: ignore[arg-type]
    )
    locked = threading.Event()
    failures: list[BaseException] = []

    def next_message() -> None:
        try:
            with store.transaction() as tx:
                held = tx.negotiation(n.id)
                assert held is not None
                locked.set()
                time.sleep(0.3)  # the acknowledgement arrives meanwhile
                tx.save_negotiation(held.drop_pending())  # drops the outbox row
        except BaseException as exc:
            failures.append(exc)

    holder = threading.Thread(target=next_message)
    holder.start()
    assert locked.wait(10)
    use_cases.acknowledged(message.id, message.event, n.id, None)
    holder.join(10)
    assert failures == []
    assert SqlOutbox(store.engine).pending_count() == 0
    found = SqlProcessQueries(store.engine).negotiation(n.id)
    assert found is not None and found.state is None and found.pending is None
