"""Contract tests of the SQL audit store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from connector.audit.checkpoint import CheckpointSigner, trusted_keys
from connector.audit.event import AuditEvent, entry_hash
from connector.audit.proof import check_proof
from connector.audit.query import AuditQuery
from connector.audit.retention import RetentionPolicy
from connector.audit.verification import BreakKind
from connector.audit.vocabulary import EventType, Result
from connector.clock import FixedClock
from connector.credentials import keys as keymod
from connector.errors import Invalid, NotFound
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer, own_keys
from connector.stores.database import create_db_engine, migrate
from connector.testing import throwaway_keyset

KEYSET = throwaway_keyset()
SIGNER = checkpoint_signer(KEYSET)
TRUSTED = own_keys(KEYSET)
PARTNERS = ("did:web:a.example", "did:web:b.example")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a throwaway schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"audit_{uuid.uuid4().hex[:12]}"
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
    engine = create_db_engine(database_url, pool_size=2)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2026-03-01T08:00:00Z")


def _store(engine: Engine, clock: FixedClock, every: int = 4) -> SqlAuditStore:
    return SqlAuditStore(engine, clock, SIGNER, checkpoint_every=every)


def _fill(store: SqlAuditStore, clock: FixedClock, count: int) -> None:
    for i in range(count):
        clock.advance(60)
        store.record(
            EventType.DATA_ACCESSED,
            actor=PARTNERS[i % 2],
            participant=PARTNERS[i % 2],
            dataset=f"urn:dataset:{i % 3}",
            agreement=f"urn:agreement:{i % 2}",
            result=Result.DENIED if i % 5 == 4 else Result.OK,
            details={"bytes": 100 * i, "duration_ms": 7},
        )


def test_append_query_and_proof(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock)
    _fill(store, clock, 10)
    assert store.head().seq == 10
    assert [cp.seq for cp in store.checkpoints()] == [4, 8]
    everything = store.query(limit=1000)
    assert [e.seq for e in everything] == list(range(1, 11))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(everything))
    by_partner = store.query(AuditQuery(participant=PARTNERS[1]))
    assert [e.seq for e in by_partner] == [2, 4, 6, 8, 10]
    denied = store.query(AuditQuery(result=Result.DENIED))
    assert [e.seq for e in denied] == [5, 10]
    since = dt.datetime(2026, 3, 1, 8, 3, tzinfo=dt.UTC)
    window = AuditQuery(since=since, until=since + dt.timedelta(minutes=3))
    assert [e.seq for e in store.query(window)] == [3, 4, 5]
    combined = AuditQuery(dataset="urn:dataset:0", agreement="urn:agreement:0")
    assert [e.seq for e in store.query(combined)] == [1, 7]
    assert store.query(AuditQuery(type=EventType.AUTH_FAILED)) == []
    assert [e.seq for e in store.query(after=8, limit=5)] == [9, 10]
    assert store.get(3).details == {"bytes": 200, "duration_ms": 7}
    with pytest.raises(NotFound):
        store.get(11)
    proof = store.proof(6)
    assert proof.checkpoint is not None and proof.checkpoint.seq == 8
    assert check_proof(proof.to_dict(), TRUSTED) is None
    assert (
        check_proof(store.proof(9).to_dict(), TRUSTED)
        == "no signed checkpoint covers the entry yet"
    )
    report = store.verify(trusted_keys=TRUSTED)
    assert report.ok and report.checked == 10 and report.checkpoints_verified == 2


def test_partner_report(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock)
    _fill(store, clock, 10)
    store.record(
        EventType.AUTH_FAILED,
        actor=PARTNERS[0],
        participant=PARTNERS[0],
        result=Result.DENIED,
        details={"reason": "bad_signature"},
    )
    reports = {r.participant: r for r in store.partner_reports()}
    a = reports[PARTNERS[0]]
    assert (a.accesses, a.bytes, a.denials, a.auth_failures) == (5, 2000, 2, 1)
    assert a.datasets["urn:dataset:0"].accesses == 2
    assert a.agreements == {"urn:agreement:0"}


# Tampering, directly in SQL --------------------------------------------------------------

COUNT = 6


def _edit(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET details = :d WHERE seq = :n"),
            {"d": '{"bytes":1,"duration_ms":7}', "n": n},
        )


def _edit_participant(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET participant = 'did:web:x' WHERE seq = :n"), {"n": n}
        )


def _delete(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = :n"), {"n": n})


def _insert(engine: Engine, n: int) -> None:
    """A careful forger: shifts the later rows, chains a fresh entry at n, moves the head."""
    with engine.begin() as conn:
        row = (
            conn.execute(text("SELECT * FROM audit_events WHERE seq = :n"), {"n": n})
            .mappings()
            .one()
        )
        conn.execute(text("UPDATE audit_events SET seq = -seq - 1 WHERE seq >= :n"), {"n": n})
        conn.execute(text("UPDATE audit_events SET seq = -seq WHERE seq < 0"))
        forged = dict(row)
        forged["body_digest"] = "f" * 64
        forged["hash"] = entry_hash(n, row["prev_hash"], row["time"], row["event_type"], "f" * 64)
        columns = ", ".join(forged)
        values = ", ".join(f":{k}" for k in forged)
        conn.execute(text(f"INSERT INTO audit_events ({columns}) VALUES ({values})"), forged)
        conn.execute(text("UPDATE audit_head SET seq = seq + 1"))


def _swap(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = :n"), {"n": n})
        conn.execute(text("UPDATE audit_events SET seq = :n WHERE seq = :m"), {"n": n, "m": n + 1})
        conn.execute(text("UPDATE audit_events SET seq = :m WHERE seq = -1"), {"m": n + 1})


TAMPERS: dict[str, tuple[Callable[[Engine, int], None], BreakKind, range]] = {
    "edit": (_edit, BreakKind.EDITED, range(1, COUNT + 1)),
    "edit_column": (_edit_participant, BreakKind.EDITED, range(1, COUNT + 1)),
    "delete": (_delete, BreakKind.DELETED, range(1, COUNT + 1)),
    "insert": (_insert, BreakKind.INSERTED, range(1, COUNT + 1)),
    "swap": (_swap, BreakKind.REORDERED, range(1, COUNT)),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_single_row_tampering_is_located(engine: Engine, clock: FixedClock, name: str) -> None:
    tamper, kind, positions = TAMPERS[name]
    store = _store(engine, clock, every=0)
    _fill(store, clock, COUNT)
    assert store.verify(trusted_keys=TRUSTED).ok
    snapshot = _rows(engine)
    for position in positions:
        tamper(engine, position)
        report = store.verify(trusted_keys=TRUSTED)
        assert report.broken is not None, (name, position)
        assert (report.broken.position, report.broken.kind) == (position, kind), report.line()
        _restore(engine, snapshot)
        assert store.verify(trusted_keys=TRUSTED).ok


def _rows(engine: Engine) -> tuple[list[dict[str, object]], tuple[int, str]]:
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM audit_events")).mappings()]
        head = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
    return rows, (int(head[0]), str(head[1]))


def _restore(engine: Engine, snapshot: tuple[list[dict[str, object]], tuple[int, str]]) -> None:
    rows, (seq, hash_) = snapshot
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
        columns = list(rows[0])
        statement = text(
            f"INSERT INTO audit_events ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})"
        )
        conn.execute(statement, rows)
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": hash_})


def test_rehashed_rewrite_is_caught_by_the_checkpoint(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock, every=4)
    _fill(store, clock, 6)
    rows, _ = _rows(engine)
    prev = "0" * 64
    with engine.begin() as conn:  # rewrite entry 2 and re-chain everything after it
        for row in sorted(rows, key=lambda r: int(r["seq"])):  # type: ignore[call-overload]
            seq = int(row["seq"])  # type: ignore[call-overload]
            digest = "e" * 64 if seq == 2 else str(row["body_digest"])
            new = entry_hash(seq, prev, str(row["time"]), str(row["event_type"]), digest)
            conn.execute(
                text(
                    "UPDATE audit_events SET prev_hash = :p, hash = :h, body_digest = :d, "
                    "redacted = :r WHERE seq = :s"
                ),
                {"p": prev, "h": new, "d": digest, "r": seq == 2, "s": seq},
            )
            prev = new
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    report = store.verify(trusted_keys=TRUSTED)
    assert report.broken is not None
    assert (report.broken.position, report.broken.kind) == (1, BreakKind.REWRITTEN)


def test_checkpoint_tampering_is_detected(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock, every=3)
    _fill(store, clock, 7)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_checkpoints SET time = :t WHERE seq = 6"),
            {"t": "2030-01-01T00:00:00.000000Z"},
        )
    report = store.verify(trusted_keys=TRUSTED)
    assert report.broken is not None and report.broken.kind == BreakKind.BAD_CHECKPOINT
    assert report.broken.position == 6
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_checkpoints SET time = :t WHERE seq = 6"),
            {"t": "2026-03-01T08:06:00.000000Z"},
        )
        jws = conn.execute(text("SELECT jws FROM audit_checkpoints WHERE seq = 3")).scalar_one()
        flipped = jws[:-3] + ("A" if jws[-3] != "A" else "B") + jws[-2:]
        conn.execute(text("UPDATE audit_checkpoints SET jws = :j WHERE seq = 3"), {"j": flipped})
    report = store.verify(trusted_keys=TRUSTED)
    assert report.broken is not None and report.broken.kind == BreakKind.BAD_CHECKPOINT
    assert report.broken.position == 3
    other = own_keys(throwaway_keyset())
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_checkpoints SET jws = :j WHERE seq = 3"), {"j": jws})
    assert store.verify(trusted_keys=TRUSTED).ok
    untrusted = store.verify(trusted_keys=other)
    assert untrusted.broken is not None and "not trusted" in untrusted.broken.detail


def test_pruning_keeps_the_chain_verifiable(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock, every=0)
    _fill(store, clock, 10)  # 08:01 … 08:10
    store.record(
        EventType.AUTH_FAILED, actor="system", result=Result.DENIED, details={"reason": "x"}
    )
    clock.set(dt.datetime(2026, 3, 1, 8, 15, tzinfo=dt.UTC))
    policy = RetentionPolicy(
        delete_after=dt.timedelta(minutes=11),  # before 08:04 → entries 1–3
        redact_after={EventType.DATA_ACCESSED: dt.timedelta(minutes=8)},  # before 08:07
    )
    pruned = store.prune(policy)
    assert pruned.type == EventType.AUDIT_PRUNED and pruned.seq == 12
    assert pruned.details is not None
    assert pruned.details["deleted_up_to"] == 3 and pruned.details["deleted"] == 3
    assert pruned.details["redacted"]["data.accessed"]["count"] == 3  # 4, 5, 6
    assert next(e.seq for e in store.query(limit=100)) == 4
    assert store.get(4).redacted and store.get(4).participant is None
    assert not store.get(7).redacted
    assert [cp.kind for cp in store.checkpoints()] == ["pruned"]
    report = store.verify(trusted_keys=TRUSTED)
    assert report.ok, report.line()
    assert report.anchor.seq == 3 and report.redacted == 3
    # Removing a body without a retention rule is not covered by the pruning event.
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE audit_events SET redacted = :t, actor = NULL, participant = NULL, "
                "dataset = NULL, agreement = NULL, process = NULL, result = NULL, "
                "details = NULL WHERE seq = 11"
            ),
            {"t": True},
        )
    report = store.verify(trusted_keys=TRUSTED)
    assert report.broken is not None and (report.broken.position, report.broken.kind) == (
        11,
        BreakKind.EDITED,
    )


def test_pruning_needs_a_key_to_delete(engine: Engine, clock: FixedClock) -> None:
    store = SqlAuditStore(engine, clock, None)
    _fill(store, clock, 3)
    clock.advance(3600)
    with pytest.raises(Invalid):
        store.prune(RetentionPolicy(delete_after=dt.timedelta(minutes=1)))
    assert store.head().seq == 3  # rolled back


def test_deleting_the_pruned_checkpoint_is_detected(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock, every=0)
    _fill(store, clock, 5)
    clock.advance(3600)
    store.prune(RetentionPolicy(delete_after=dt.timedelta(minutes=30)))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))
    report = store.verify(trusted_keys=TRUSTED)
    assert report.broken is not None and (report.broken.position, report.broken.kind) == (
        1,
        BreakKind.DELETED,
    )


def test_verify_from_a_position(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock, every=0)
    _fill(store, clock, 6)
    _edit(engine, 2)
    assert not store.verify().ok
    report = store.verify(from_seq=4)
    assert report.ok and report.checked == 3 and report.anchor.source == "unverified start"


def test_vocabulary_is_enforced(engine: Engine, clock: FixedClock) -> None:
    store = _store(engine, clock)
    with pytest.raises(Invalid):
        store.record(EventType.DATA_ACCESSED, actor="did:web:a", details={"bytes": 1})
    with pytest.raises(Invalid):
        store.append(AuditEvent(EventType.AUTH_FAILED, actor="", details={"reason": "x"}))
    assert store.head().seq == 0


# Concurrency: real processes -------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys, pathlib, time
    from connector.audit.checkpoint import CheckpointSigner
    from connector.audit.vocabulary import EventType
    from connector.clock import SystemClock
    from connector.credentials import keys
    from connector.stores.audit_store import SqlAuditStore
    from connector.stores.database import create_db_engine

    url, count, name, key_file, gate = sys.argv[1:6]
    key = keys.from_pem(pathlib.Path(key_file).read_bytes())
    signer = CheckpointSigner(key, "did:web:connector.test#ed25519", "did:web:connector.test")
    store = SqlAuditStore(create_db_engine(url, pool_size=1), SystemClock(), signer,
                          checkpoint_every=500)
    pathlib.Path(gate, name).touch()
    while len(list(pathlib.Path(gate).iterdir())) < 2:
        time.sleep(0.005)
    for i in range(int(count)):
        store.record(EventType.DATA_ACCESSED, actor=name, participant=name,
                     dataset=f"urn:dataset:{i % 7}", details={"bytes": i, "duration_ms": 1})
    """
)


def test_two_processes_append_one_chain(engine: Engine, database_url: str, tmp_path: Path) -> None:
    per_process = 2000
    key_file = tmp_path / "ed25519.pem"
    key_file.write_bytes(keymod.to_pem(KEYSET.ed25519))
    gate = tmp_path / "gate"
    gate.mkdir()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                database_url,
                str(per_process),
                name,
                str(key_file),
                str(gate),
            ],
            stderr=subprocess.PIPE,
        )
        for name in ("replica-a", "replica-b")
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    store = SqlAuditStore(engine, FixedClock())
    report = store.verify(
        trusted_keys=trusted_keys(CheckpointSigner(KEYSET.ed25519, "k", "i").public_jwk())
    )
    assert report.ok, report.line()
    assert report.checked == 2 * per_process == store.head().seq
    assert report.checkpoints_verified == 2 * per_process // 500
    actors = [e.actor for e in store.entries()]
    assert actors.count("replica-a") == actors.count("replica-b") == per_process
    switches = sum(1 for a, b in itertools.pairwise(actors) if a != b)
    assert switches >= 2  # the processes really interleaved


def test_lean_writes_migration_keeps_the_trail(
    database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trail written before migration 7 (audit and replay tables rebuilt on SQLite, partial
    indexes on both) is intact afterwards: every entry, the chain and its checkpoints, the
    seen token ids; queries by participant, dataset and agreement use the partial indexes."""
    import connector.stores.database as database
    from connector.stores.migrations import MIGRATIONS

    engine = create_db_engine(database_url, pool_size=2)
    try:
        monkeypatch.setattr(database, "MIGRATIONS", [m for m in MIGRATIONS if m.version < 7])
        migrate(engine)
        store = _store(engine, clock)
        _fill(store, clock, 9)
        before = store.query(limit=1000)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO token_replay (key, expires_at) VALUES ('jti-1', 99)"))
        monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS)
        assert migrate(engine) == ["lean_writes"]
        assert store.query(limit=1000) == before
        store.record(
            EventType.AUTH_FAILED, actor="system", result=Result.DENIED, details={"reason": "x"}
        )
        report = store.verify(trusted_keys=TRUSTED)
        assert report.ok and report.checked == 10 and report.checkpoints_verified == 2
        agreement = store.query(AuditQuery(agreement="urn:agreement:1"))
        assert [e.seq for e in agreement] == [2, 4, 6, 8]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT expires_at FROM token_replay")).all() == [(99,)]
            if engine.dialect.name == "sqlite":
                plan_sql = "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE agreement = 'x'"
                plan = " ".join(str(row[-1]) for row in conn.execute(text(plan_sql)))
                assert "audit_events_agreement" in plan
                columns = conn.execute(text("PRAGMA table_info(audit_events)")).all()
                assert [row[1] for row in columns if row[5]] == ["seq"]
                indexes = {row[1] for row in conn.execute(text("PRAGMA index_list(audit_events)"))}
                assert not any(name.startswith("sqlite_autoindex") for name in indexes)
    finally:
        engine.dispose()
