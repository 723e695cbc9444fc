"""The control plane's transactional store (SQLite and PostgreSQL): processes and the outbox.

:meth:`SqlControlPlaneStore.transaction` opens one transaction in which a use case reads the
process it acts on (locked: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction is
``BEGIN IMMEDIATE``, which takes the database's write lock at once), saves the moved process and
queues the message it implies in ``cp_outbox``. After the commit the registered listeners are
called (the runner wakes up at once: no polling interval on the hot path).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, text

from connector.clock import Clock, utc_isoformat
from connector.controlplane.ports import OutboxMessage
from connector.model.contract import Agreement
from connector.model.dataset import Dataset
from connector.model.negotiation import Negotiation
from connector.model.transfer import Transfer
from connector.stores import records


def load_json(value: Any) -> Any:
    """A JSON column's value (PostgreSQL JSONB arrives decoded, SQLite TEXT as a string)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def dump_json(value: Any) -> str:
    """JSON text for a JSON column."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def _writer_lock(engine: Engine) -> threading.Lock:
    """One lock per SQLite database file: threads of this process queue here instead of in
    SQLite's busy handler (which sleeps up to 100 ms between attempts)."""
    key = str(engine.url)
    with _GUARD:
        return _SQLITE_WRITERS.setdefault(key, threading.Lock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its start (SQLite) or a normal one (PG)."""
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn, conn.begin():
            yield conn
        return
    with _writer_lock(engine), engine.connect() as conn:
        raw = conn.execution_options(isolation_level="AUTOCOMMIT")
        raw.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield raw
        except BaseException:
            raw.exec_driver_sql("ROLLBACK")
            raise
        raw.exec_driver_sql("COMMIT")


class SqlTx:
    """One transaction of :class:`SqlControlPlaneStore` (implements ``StoreTx``)."""

    def __init__(
        self,
        conn: Connection,
        clock: Clock,
        *,
        owner: str | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._owner = owner
        self._lease_seconds = lease_seconds
        self.queued: list[OutboxMessage] = []
        """Messages queued in this transaction (leased to ``owner`` if one is given)."""
        self._lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
        self.enqueued = 0

    def _one(self, sql: str, **params: Any) -> Any:
        row = self._conn.execute(text(sql + self._lock), params).first()
        return None if row is None else load_json(row[0])

    # negotiations ------------------------------------------------------------------------------

    def negotiation(self, pid: str) -> Negotiation | None:
        doc = self._one("SELECT body FROM cp_negotiations WHERE id = :id", id=pid)
        return None if doc is None else records.negotiation_from(doc)

    def negotiation_requested_by(
        self, counterparty_id: str, consumer_pid: str
    ) -> Negotiation | None:
        doc = self._one(
            "SELECT body FROM cp_negotiations WHERE role = 'PROVIDER' AND counterparty_id = :cp"
            " AND consumer_pid = :pid",
            cp=counterparty_id,
            pid=consumer_pid,
        )
        return None if doc is None else records.negotiation_from(doc)

    def save_negotiation(self, process: Negotiation) -> None:
        now = utc_isoformat(self._clock.now())
        self._conn.execute(
            text(
                "INSERT INTO cp_negotiations (id, role, state, counterparty_id, consumer_pid,"
                " provider_pid, dataset_id, created_at, updated_at, body) VALUES (:id, :role,"
                " :state, :cp, :cpid, :ppid, :ds, :created, :now, :body) ON CONFLICT (id) DO"
                " UPDATE SET state = excluded.state, consumer_pid = excluded.consumer_pid,"
                " provider_pid = excluded.provider_pid, updated_at = excluded.updated_at,"
                " body = excluded.body"
            ),
            {
                "id": process.id,
                "role": process.role.value,
                "state": None if process.state is None else process.state.value,
                "cp": process.counterparty_id,
                "cpid": process.consumer_pid,
                "ppid": process.provider_pid,
                "ds": process.dataset_id,
                "created": utc_isoformat(process.created_at),
                "now": now,
                "body": dump_json(records.negotiation_json(process)),
            },
        )
        if process.pending is None:
            self._drop_outbox("negotiation", process.id)

    # transfers ---------------------------------------------------------------------------------

    def transfer(self, pid: str) -> Transfer | None:
        doc = self._one("SELECT body FROM cp_transfers WHERE id = :id", id=pid)
        return None if doc is None else records.transfer_from(doc)

    def transfer_by_consumer_pid(self, counterparty_id: str, consumer_pid: str) -> Transfer | None:
        doc = self._one(
            "SELECT body FROM cp_transfers WHERE role = 'PROVIDER' AND counterparty_id = :cp"
            " AND consumer_pid = :pid",
            cp=counterparty_id,
            pid=consumer_pid,
        )
        return None if doc is None else records.transfer_from(doc)

    def save_transfer(self, process: Transfer) -> None:
        now = utc_isoformat(self._clock.now())
        self._conn.execute(
            text(
                "INSERT INTO cp_transfers (id, role, state, counterparty_id, consumer_pid,"
                " provider_pid, agreement_id, created_at, updated_at, body) VALUES (:id, :role,"
                " :state, :cp, :cpid, :ppid, :ag, :created, :now, :body) ON CONFLICT (id) DO"
                " UPDATE SET state = excluded.state, consumer_pid = excluded.consumer_pid,"
                " provider_pid = excluded.provider_pid, updated_at = excluded.updated_at,"
                " body = excluded.body"
            ),
            {
                "id": process.id,
                "role": process.role.value,
                "state": None if process.state is None else process.state.value,
                "cp": process.counterparty_id,
                "cpid": process.consumer_pid,
                "ppid": process.provider_pid,
                "ag": process.agreement_id,
                "created": utc_isoformat(process.created_at),
                "now": now,
                "body": dump_json(records.transfer_json(process)),
            },
        )
        if process.pending is None:
            self._drop_outbox("transfer", process.id)

    # agreements and datasets -------------------------------------------------------------------

    def agreement(self, agreement_id: str) -> Agreement | None:
        row = self._conn.execute(
            text("SELECT body FROM cp_agreements WHERE id = :id"), {"id": agreement_id}
        ).first()
        return None if row is None else records.agreement_from(load_json(row[0]))

    def save_agreement(self, agreement: Agreement, *, negotiation_id: str) -> None:
        self._conn.execute(
            text(
                "INSERT INTO cp_agreements (id, negotiation_id, dataset_id, assigner, assignee,"
                " created_at, body) VALUES (:id, :n, :ds, :a, :b, :at, :body)"
                " ON CONFLICT (id) DO NOTHING"
            ),
            {
                "id": agreement.id,
                "n": negotiation_id,
                "ds": agreement.target,
                "a": agreement.assigner,
                "b": agreement.assignee,
                "at": utc_isoformat(agreement.timestamp),
                "body": dump_json(records.agreement_json(agreement)),
            },
        )

    def dataset(self, dataset_id: str) -> Dataset | None:
        row = self._conn.execute(
            text("SELECT body FROM cp_datasets WHERE id = :id"), {"id": dataset_id}
        ).first()
        return None if row is None else records.dataset_from(load_json(row[0]))

    # outbox ------------------------------------------------------------------------------------

    def enqueue(self, message: OutboxMessage) -> None:
        self._drop_outbox(message.process_kind, message.process_id)
        lease_until = (
            None if self._owner is None else self._clock.now().timestamp() + self._lease_seconds
        )
        row_id = self._conn.execute(
            text(
                "INSERT INTO cp_outbox (process_kind, process_id, event, url, audience, body,"
                " next_attempt_at, lease_owner, lease_until)"
                " VALUES (:k, :p, :e, :u, :a, :b, 0, :o, :lu) RETURNING id"
            ),
            {
                "k": message.process_kind,
                "p": message.process_id,
                "e": message.event,
                "u": message.url,
                "a": message.audience,
                "b": dump_json(dict(message.body)),
                "o": self._owner,
                "lu": lease_until,
            },
        ).scalar_one()
        self.enqueued += 1
        self.queued.append(replace(message, id=int(row_id), attempts=0))

    def outbox_row(self, message_id: int) -> OutboxMessage | None:
        row = self._conn.execute(
            text(
                "SELECT id, process_kind, process_id, event, url, audience, body, attempts"
                " FROM cp_outbox WHERE id = :id AND status = 'pending'"
            ),
            {"id": message_id},
        ).first()
        return None if row is None else outbox_message(row)

    def outbox_done(self, message_id: int) -> None:
        self._conn.execute(text("DELETE FROM cp_outbox WHERE id = :id"), {"id": message_id})

    def _drop_outbox(self, kind: str, pid: str) -> None:
        self.queued = [m for m in self.queued if (m.process_kind, m.process_id) != (kind, pid)]
        self._conn.execute(
            text(
                "DELETE FROM cp_outbox WHERE process_kind = :k AND process_id = :p"
                " AND status = 'pending'"
            ),
            {"k": kind, "p": pid},
        )


def outbox_message(row: Any) -> OutboxMessage:
    """An outbox row (id, kind, pid, event, url, audience, body, attempts) as a message."""
    return OutboxMessage(
        id=int(row[0]),
        process_kind=row[1],
        process_id=row[2],
        event=row[3],
        url=row[4],
        audience=row[5],
        body=load_json(row[6]),
        attempts=int(row[7]),
    )


class SqlControlPlaneStore:
    """Implements ``ControlPlaneStore`` on an engine migrated to version 4.

    With ``owner`` (the runner's replica name), a queued message is leased to that runner in
    the same transaction and handed to the listeners after the commit, so delivery starts at
    once without another round trip to the database; if this replica dies first, the lease
    expires and any runner delivers it.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        owner: str | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._listeners: list[Callable[[list[OutboxMessage]], None]] = []

    def on_enqueue(self, listener: Callable[[list[OutboxMessage]], None]) -> None:
        """Call ``listener(messages)`` after each commit that queued messages."""
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """One transaction; commits on success, rolls back on any exception."""
        with write_transaction(self.engine) as conn:
            tx = SqlTx(conn, self._clock, owner=self._owner, lease_seconds=self._lease_seconds)
            yield tx
        if tx.queued:
            for listener in self._listeners:
                listener(list(tx.queued))
