"""Read-only queries over negotiations, transfers and agreements (management API)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text

from connector.clock import utc_isoformat
from connector.model.contract import Agreement
from connector.model.negotiation import Negotiation
from connector.model.transfer import Transfer
from connector.stores import records
from connector.stores.controlplane_store import load_json


class SqlProcessQueries:
    """Lists and single reads without locks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _bodies(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self.engine.connect() as conn:
            return [load_json(r[0]) for r in conn.execute(text(sql), params).all()]

    def negotiation(self, pid: str) -> Negotiation | None:
        """One negotiation by this side's pid."""
        rows = self._bodies("SELECT body FROM cp_negotiations WHERE id = :id", {"id": pid})
        return records.negotiation_from(rows[0]) if rows else None

    def negotiations(
        self,
        *,
        state: str | None = None,
        role: str | None = None,
        counterparty_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Negotiation]:
        """Negotiations, newest first, filtered by state, role and counterparty."""
        sql, params = _listing(
            "cp_negotiations",
            state=state,
            role=role,
            counterparty_id=counterparty_id,
            limit=limit,
            offset=offset,
        )
        return [records.negotiation_from(b) for b in self._bodies(sql, params)]

    def delivery(self, kind: str, pid: str) -> dict[str, Any] | None:
        """How delivery of the pending message of process ``pid`` (``negotiation`` or
        ``transfer``) goes: ``{message, attempts, lastError, nextAttemptAt}``, or ``None``."""
        sql = (
            "SELECT event, attempts, last_error, next_attempt_at FROM cp_outbox"
            " WHERE process_kind = :k AND process_id = :p AND status = 'pending'"
        )
        with self.engine.connect() as conn:
            row = conn.execute(text(sql), {"k": kind, "p": pid}).first()
        if row is None:
            return None
        due = float(row[3])
        return {
            "message": row[0],
            "attempts": int(row[1]),
            "lastError": row[2],
            "nextAttemptAt": utc_isoformat(dt.datetime.fromtimestamp(due, dt.UTC))
            if due > 0
            else None,
        }

    def transfer(self, pid: str) -> Transfer | None:
        """One transfer by this side's pid."""
        rows = self._bodies("SELECT body FROM cp_transfers WHERE id = :id", {"id": pid})
        return records.transfer_from(rows[0]) if rows else None

    def transfers(
        self,
        *,
        state: str | None = None,
        role: str | None = None,
        counterparty_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Transfer]:
        """Transfers, newest first, filtered by state, role and counterparty."""
        sql, params = _listing(
            "cp_transfers",
            state=state,
            role=role,
            counterparty_id=counterparty_id,
            limit=limit,
            offset=offset,
        )
        return [records.transfer_from(b) for b in self._bodies(sql, params)]

    def agreement(self, agreement_id: str) -> tuple[Agreement, str] | None:
        """An agreement and the id of the negotiation it came from."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT body, negotiation_id FROM cp_agreements WHERE id = :id"),
                {"id": agreement_id},
            ).first()
        return None if row is None else (records.agreement_from(load_json(row[0])), row[1])

    def agreements(self, *, limit: int = 100, offset: int = 0) -> list[tuple[Agreement, str]]:
        """Agreements, newest first, with their negotiation ids."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT body, negotiation_id FROM cp_agreements"
                    " ORDER BY created_at DESC, id LIMIT :n OFFSET :o"
                ),
                {"n": limit, "o": offset},
            ).all()
        return [(records.agreement_from(load_json(r[0])), r[1]) for r in rows]


def _listing(
    table: str,
    *,
    state: str | None,
    role: str | None,
    counterparty_id: str | None,
    limit: int,
    offset: int,
) -> tuple[str, dict[str, Any]]:
    """The newest-first page of a process table (``INITIAL``: no protocol state yet)."""
    sql = f"SELECT body FROM {table} WHERE 1 = 1"  # noqa: S608 (constant table names)
    params: dict[str, Any] = {"n": limit, "o": offset}
    if state is not None:
        if state == "INITIAL":
            sql += " AND state IS NULL"
        else:
            sql += " AND state = :s"
            params["s"] = state
    if role is not None:
        sql += " AND role = :r"
        params["r"] = role
    if counterparty_id is not None:
        sql += " AND counterparty_id = :c"
        params["c"] = counterparty_id
    return sql + " ORDER BY created_at DESC, id LIMIT :n OFFSET :o", params
