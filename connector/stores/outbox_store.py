"""The runner's view of ``cp_outbox``: lease due messages, reschedule, give up.

Replicas share the outbox through row leases: :meth:`SqlOutbox.lease` marks due rows with the
replica's name and a lease expiry in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so two replicas never lease the same row; SQLite serialises writers). A replica that dies
mid-delivery leaves a lease that expires; the row is then due again (delivery is at least
once; the receiving side treats a repeated message as a replay, and an acknowledgement of a
message that is no longer pending changes nothing).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from connector.controlplane.ports import OutboxMessage
from connector.stores.controlplane_store import outbox_message
from connector.stores.transactions import run, write_transaction

_LEASE = (
    "UPDATE cp_outbox SET lease_owner = :o, lease_until = :u WHERE id IN ("
    " SELECT id FROM cp_outbox WHERE status = 'pending'"
    " AND next_attempt_at <= :now AND (lease_until IS NULL OR lease_until < :now)"
    " ORDER BY id LIMIT :n{lock}) RETURNING id, process_kind, process_id, event, url, audience,"
    " body, attempts"
)
_LEASE_SQLITE = _LEASE.format(lock="")
_LEASE_PG = _LEASE.format(lock=" FOR UPDATE SKIP LOCKED")


class SqlOutbox:
    """Lease, reschedule and retire outbox rows (times are POSIX seconds)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lease_sql = _LEASE_PG if engine.dialect.name == "postgresql" else _LEASE_SQLITE

    def lease(
        self, owner: str, now: float, *, limit: int = 32, lease_seconds: float = 30.0
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due rows for ``owner`` until ``now + lease_seconds``."""
        with write_transaction(self.engine) as conn:
            rows = run(
                conn,
                self._lease_sql,
                {"o": owner, "u": now + lease_seconds, "now": now, "n": limit},
            ).all()
        return sorted((outbox_message(r) for r in rows), key=lambda m: m.id or 0)

    def retry(self, message_id: int, at: float, error: str) -> None:
        """Release the lease; the row is due again at ``at``."""
        with write_transaction(self.engine) as conn:
            run(
                conn,
                "UPDATE cp_outbox SET attempts = attempts + 1, next_attempt_at = :at,"
                " lease_owner = NULL, lease_until = NULL, last_error = :e WHERE id = :id",
                {"at": at, "e": error[:500], "id": message_id},
            )

    def next_due(self) -> float | None:
        """When the earliest pending row is due (``None`` if there is none)."""
        with self.engine.connect() as conn:
            value = run(
                conn,
                "SELECT min(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at"
                " THEN lease_until ELSE next_attempt_at END) FROM cp_outbox"
                " WHERE status = 'pending'",
            ).scalar()
        return None if value is None else float(value)

    def in_delivery(self, kind: str, pid: str, now: float) -> bool:
        """Whether a message of process ``pid`` is being delivered now (pending and leased:
        its outcome is imminent), read without the write lock (one indexed row)."""
        with self.engine.connect() as conn:
            row = run(
                conn,
                "SELECT 1 FROM cp_outbox WHERE process_kind = :k AND process_id = :p"
                " AND status = 'pending' AND lease_until > :now",
                {"k": kind, "p": pid, "now": now},
            ).first()
        return row is not None

    def pending_count(self) -> int:
        """How many messages wait for delivery."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM cp_outbox WHERE status = 'pending'")
                ).scalar_one()
            )
