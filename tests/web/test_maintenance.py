from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connector.audit.vocabulary import EventType, Result
from connector.clock import FixedClock
from connector.errors import Invalid
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
from connector.stores.database import create_db_engine, migrate
from connector.testing import make_settings, throwaway_keyset
from connector.web import maintenance


def make_store(tmp_path: Path, clock: FixedClock) -> SqlAuditStore:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    migrate(engine)
    return SqlAuditStore(engine, clock, checkpoint_signer(throwaway_keyset()))


def record(store: SqlAuditStore) -> None:
    store.record(
        EventType.DATA_ACCESSED,
        actor="did:web:partner.example",
        participant="did:web:partner.example",
        result=Result.OK,
        details={"bytes": 10, "duration_ms": 1},
    )


def test_checkpoint_only_when_the_chain_moved(tmp_path: Path) -> None:
    store = make_store(tmp_path, FixedClock())
    assert maintenance.checkpoint_if_moved(store) is False
    record(store)
    assert maintenance.checkpoint_if_moved(store) is True
    assert maintenance.checkpoint_if_moved(store) is False
    assert [c.seq for c in store.checkpoints()] == [1]


def test_retention_from_settings(tmp_path: Path) -> None:
    assert maintenance.retention_policy(make_settings(tmp_path)) is None
    settings = make_settings(
        tmp_path, audit_retention="data.accessed=90, auth.failed=30", audit_delete_after_days=400
    )
    policy = maintenance.retention_policy(settings)
    assert policy is not None and policy.delete_after is not None
    assert {str(t) for t in policy.redact_after} == {"data.accessed", "auth.failed"}
    with pytest.raises(Invalid):
        maintenance.retention_policy(make_settings(tmp_path, audit_retention="nonsense=5"))


def test_background_loop_signs_and_prunes(tmp_path: Path) -> None:
    clock = FixedClock("2026-01-01T00:00:00Z")
    store = make_store(tmp_path, clock)
    record(store)
    clock.advance(200 * 86400)
    record(store)
    settings = make_settings(tmp_path, audit_retention="data.accessed=90")

    async def scenario() -> None:
        task = asyncio.create_task(
            maintenance.run(store, 0.01, maintenance.retention_policy(settings))
        )
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any(e.type == EventType.AUDIT_PRUNED for e in store.query(after=0, limit=50)):
                break
        task.cancel()

    asyncio.run(scenario())
    entries = store.query(after=0, limit=50)
    assert any(e.type == EventType.AUDIT_PRUNED for e in entries)
    assert store.checkpoints()
    assert store.verify().ok
