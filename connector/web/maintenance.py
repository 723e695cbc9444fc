"""Background upkeep while the connector runs: signed audit checkpoints on a timer and the
retention rules of ``CONNECTOR_AUDIT_RETENTION`` / ``CONNECTOR_AUDIT_DELETE_AFTER_DAYS``.

Each replica runs it; a checkpoint is only signed when the chain moved since the last one, and
pruning is idempotent, so several replicas doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import anyio
import structlog

from connector.audit.retention import RetentionPolicy, parse_rules
from connector.errors import ConnectorError
from connector.settings import Settings
from connector.stores.audit_store import SqlAuditStore

log = structlog.get_logger("connector.maintenance")


def retention_policy(settings: Settings) -> RetentionPolicy | None:
    """The configured retention, or ``None`` when nothing is ever removed."""
    redact = parse_rules(settings.audit_retention)
    delete_after = (
        dt.timedelta(days=settings.audit_delete_after_days)
        if settings.audit_delete_after_days
        else None
    )
    if not redact and delete_after is None:
        return None
    return RetentionPolicy(delete_after=delete_after, redact_after=redact)


def checkpoint_if_moved(store: SqlAuditStore) -> bool:
    """Sign a checkpoint when entries were added since the newest one."""
    head = store.head()
    latest = max((c.seq for c in store.checkpoints()), default=0)
    if head.seq > latest:
        store.checkpoint()
        return True
    return False


async def run(store: SqlAuditStore, interval: float, policy: RetentionPolicy | None) -> None:
    """Loop until cancelled: checkpoint every interval, apply retention once per interval."""
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(checkpoint_if_moved, store)
            if policy is not None:
                await anyio.to_thread.run_sync(store.prune, policy)
        except ConnectorError as exc:
            log.warning("audit_maintenance_failed", reason=exc.reason, detail=exc.detail)


@contextlib.asynccontextmanager
async def running(store: SqlAuditStore | None, settings: Settings) -> AsyncIterator[None]:
    """Run :func:`run` for the lifetime of the app (disabled with an interval of 0)."""
    policy = retention_policy(settings)
    if store is None or settings.audit_checkpoint_interval_seconds <= 0:
        yield
        return
    task = asyncio.create_task(run(store, settings.audit_checkpoint_interval_seconds, policy))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
