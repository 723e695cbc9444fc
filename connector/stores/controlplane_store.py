"""The control plane's transactional store (SQLite and PostgreSQL): processes and the outbox.

:meth:`SqlControlPlaneStore.transaction` opens one transaction in which a use case reads the
process it acts on (locked: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction is
``BEGIN IMMEDIATE``, which takes the database's write lock at once), saves the moved process and
queues the message it implies in ``cp_outbox``. After the commit the registered listeners are
called (the runner wakes up at once: no polling interval on the hot path).

Lock order (PostgreSQL): a transaction locks the process row (``FOR UPDATE``) before it
touches that process's outbox rows, then the audit head last; the use cases keep to it, so two
transactions on one process queue instead of deadlocking.

Audit: every protocol state change of a saved process (each new step of its history) becomes a
``negotiation.state_changed`` / ``transfer.state_changed`` event, and a policy decision noted in
the transaction a ``policy.decided`` event; they are appended to the audit trail in the *same*
transaction, just before the commit (:meth:`connector.stores.audit_store.SqlAuditStore.append_in`):
a state change is never stored without its event, nor an event without its change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from connector import jsontext
from connector.audit.event import AuditEvent, canonical, sha256_hex
from connector.audit.vocabulary import EventType, Result
from connector.clock import Clock, utc_isoformat
from connector.controlplane.ports import OutboxMessage
from connector.errors import Invalid
from connector.model.contract import Agreement
from connector.model.dataset import Dataset
from connector.model.negotiation import Negotiation
from connector.model.process import Step
from connector.model.transfer import Transfer
from connector.stores import records
from connector.stores.audit_store import SqlAuditStore
from connector.stores.transactions import run, write_transaction


def load_json(value: Any) -> Any:
    """A JSON column's value (PostgreSQL JSONB arrives decoded, SQLite TEXT as a string)."""
    return jsontext.loads(value) if isinstance(value, str | bytes) else value


def dump_json(value: Any) -> str:
    """JSON text for a JSON column."""
    return jsontext.dumps_text(value)


_FINALIZING = (
    "SELECT body FROM cp_negotiations WHERE role = 'PROVIDER' AND counterparty_id = :cp"
    " AND state = 'VERIFIED'"
)


_UPSERT = (
    "INSERT INTO {table} (id, role, state, counterparty_id, consumer_pid, provider_pid, {link},"
    " created_at, updated_at, body) VALUES (:id, :role, :state, :cp, :cpid, :ppid, :link,"
    " :created, :now, :body) ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
    " consumer_pid = excluded.consumer_pid, provider_pid = excluded.provider_pid,"
    " updated_at = excluded.updated_at, body = excluded.body"
)
_UPSERTS = {
    "negotiation": _UPSERT.format(table="cp_negotiations", link="dataset_id"),
    "transfer": _UPSERT.format(table="cp_transfers", link="agreement_id"),
}
_UPDATE = (
    "UPDATE {table} SET state = :state, provider_pid = :ppid, updated_at = :now, body = :body"
    " WHERE id = :id"
)
_UPDATES = {
    "negotiation": _UPDATE.format(table="cp_negotiations"),
    "transfer": _UPDATE.format(table="cp_transfers"),
}
"""For a row read in the same transaction whose consumerPid stays: the statement leaves the
(counterparty, consumerPid) index alone (SQLite rewrites an index whose column is SET, even to
the same value: one page, one WAL frame more per save)."""

P = TypeVar("P", Negotiation, Transfer)


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
        self.events: list[AuditEvent] = []
        """State changes of this transaction (appended to the trail just before the commit)."""
        self.decisions: list[AuditEvent] = []
        """Policy decisions of this transaction (appended after its state changes)."""
        self._steps: dict[tuple[str, str], int] = {}
        self._consumer_pids: dict[tuple[str, str], str | None] = {}
        """The stored consumerPid of each process row read or written in this transaction."""
        self._datasets: dict[str, str | None] = {}

    # audit -------------------------------------------------------------------------------------

    def _seen(self, kind: str, pid: str, steps: int) -> None:
        self._steps[(kind, pid)] = steps

    def _stored_steps(self, kind: str, pid: str) -> int:
        """How many history steps the stored row of this process has (0 if it is new)."""
        known = self._steps.get((kind, pid))
        if known is not None:
            return known
        table = "cp_negotiations" if kind == "negotiation" else "cp_transfers"
        row = run(
            self._conn,
            f"SELECT body FROM {table} WHERE id = :id",  # noqa: S608 (constant table)
            {"id": pid},
        ).first()
        if row is None:
            return 0
        stored = records.NEGOTIATIONS if kind == "negotiation" else records.TRANSFERS
        return len(stored.of(row[0]).history)

    def _agreement_dataset(self, agreement_id: str) -> str | None:
        if agreement_id not in self._datasets:
            self._datasets[agreement_id] = run(
                self._conn,
                "SELECT dataset_id FROM cp_agreements WHERE id = :id",
                {"id": agreement_id},
            ).scalar()
        return self._datasets[agreement_id]

    def _step_events(
        self,
        kind: str,
        process: Negotiation | Transfer,
        steps: tuple[Step[Any, Any], ...],
        **scope: Any,
    ) -> None:
        """One ``*.state_changed`` event per step not yet stored."""
        before = self._stored_steps(kind, process.id)
        event_type = (
            EventType.NEGOTIATION_STATE_CHANGED
            if kind == "negotiation"
            else EventType.TRANSFER_STATE_CHANGED
        )
        for step in steps[before:]:
            details: dict[str, Any] = {
                "from": None if step.before is None else step.before.value,
                "to": step.after.value,
                "message": step.event.value,
                "sender": step.sender.value,
                "role": process.role.value,
            }
            agreement = scope.get("agreement")
            if isinstance(process, Negotiation) and process.agreement is not None:
                agreement = process.agreement.id
                if step.event.value == "ContractAgreementMessage":
                    details.update(agreement_details(process.agreement))
            self.events.append(
                AuditEvent(
                    type=event_type,
                    actor=process.counterparty_id if step.sender is not process.role else "system",
                    result=Result.OK,
                    participant=process.counterparty_id,
                    dataset=scope.get("dataset"),
                    agreement=agreement,
                    process=process.id,
                    details=details,
                )
            )
        self._seen(kind, process.id, len(steps))

    def record_decision(
        self,
        *,
        permitted: bool,
        report_digest: str,
        explanation: str,
        participant: str,
        dataset: str | None,
        process: str | None = None,
        agreement: str | None = None,
        policy_hash: str | None = None,
        stage: str = "contract",
    ) -> None:
        """Note a policy decision taken for this transaction's work (``policy.decided``)."""
        self.decisions.append(
            decision_event(
                permitted=permitted,
                report_digest=report_digest,
                explanation=explanation,
                participant=participant,
                dataset=dataset,
                process=process,
                agreement=agreement,
                policy_hash=policy_hash,
                stage=stage,
            )
        )

    def _one(self, sql: str, **params: Any) -> Any:
        """The stored ``body`` of the one row found (locked on PostgreSQL), or ``None``."""
        row = run(self._conn, sql + self._lock, params).first()
        return None if row is None else row[0]

    # negotiations ------------------------------------------------------------------------------

    def negotiation(self, pid: str) -> Negotiation | None:
        doc = self._one("SELECT body FROM cp_negotiations WHERE id = :id", id=pid)
        return None if doc is None else self._negotiation(doc)

    def _negotiation(self, stored: Any) -> Negotiation:
        n = records.NEGOTIATIONS.of(stored)
        self._seen("negotiation", n.id, len(n.history))
        self._consumer_pids[("negotiation", n.id)] = n.consumer_pid
        return n

    def negotiation_requested_by(
        self, counterparty_id: str, consumer_pid: str
    ) -> Negotiation | None:
        doc = self._one(
            "SELECT body FROM cp_negotiations WHERE role = 'PROVIDER' AND counterparty_id = :cp"
            " AND consumer_pid = :pid",
            cp=counterparty_id,
            pid=consumer_pid,
        )
        return None if doc is None else self._negotiation(doc)

    def negotiation_finalizing(self, counterparty_id: str, agreement_id: str) -> Negotiation | None:
        sql = _FINALIZING + self._lock
        for row in run(self._conn, sql, {"cp": counterparty_id}).all():
            n = self._negotiation(row[0])
            if n.agreement is not None and n.agreement.id == agreement_id:
                return n
        return None

    def save_negotiation(self, process: Negotiation) -> None:
        self._step_events("negotiation", process, process.history, dataset=process.dataset_id)
        body = records_text(records.NEGOTIATIONS, process, records.negotiation_json)
        self._upsert("negotiation", process, process.dataset_id, body)

    # transfers ---------------------------------------------------------------------------------

    def transfer(self, pid: str) -> Transfer | None:
        doc = self._one("SELECT body FROM cp_transfers WHERE id = :id", id=pid)
        return None if doc is None else self._transfer(doc)

    def _transfer(self, stored: Any) -> Transfer:
        t = records.TRANSFERS.of(stored)
        self._seen("transfer", t.id, len(t.history))
        self._consumer_pids[("transfer", t.id)] = t.consumer_pid
        return t

    def transfer_by_consumer_pid(self, counterparty_id: str, consumer_pid: str) -> Transfer | None:
        doc = self._one(
            "SELECT body FROM cp_transfers WHERE role = 'PROVIDER' AND counterparty_id = :cp"
            " AND consumer_pid = :pid",
            cp=counterparty_id,
            pid=consumer_pid,
        )
        return None if doc is None else self._transfer(doc)

    def save_transfer(self, process: Transfer) -> None:
        self._step_events(
            "transfer",
            process,
            process.history,
            dataset=self._agreement_dataset(process.agreement_id),
            agreement=process.agreement_id,
        )
        body = records_text(records.TRANSFERS, process, records.transfer_json)
        self._upsert("transfer", process, process.agreement_id, body)

    def _upsert(self, kind: str, process: Negotiation | Transfer, link: str, body: str) -> None:
        """Insert or update the row of ``process`` (``link``: its dataset or agreement id);
        a process with nothing pending has no outbox rows left. A second process for the
        same (counterparty, consumerPid, role) — two replicas taking copies of one request at
        once — is refused as a replay (the unique index decides)."""
        key = (kind, process.id)
        known = key in self._consumer_pids and self._consumer_pids[key] == process.consumer_pid
        params = {
            "id": process.id,
            "state": None if process.state is None else process.state.value,
            "ppid": process.provider_pid,
            "now": utc_isoformat(self._clock.now()),
            "body": body,
        }
        if not known:
            params.update(
                role=process.role.value,
                cp=process.counterparty_id,
                cpid=process.consumer_pid,
                link=link,
                created=utc_isoformat(process.created_at),
            )
        try:
            run(self._conn, _UPDATES[kind] if known else _UPSERTS[kind], params)
        except IntegrityError as exc:
            raise Invalid(
                f"this consumerPid is already in use: {process.consumer_pid}",
                reason="replayed_message",
            ) from exc
        self._consumer_pids[key] = process.consumer_pid
        if process.pending is None:
            self._drop_outbox(kind, process.id)

    # agreements and datasets -------------------------------------------------------------------

    def agreement(self, agreement_id: str) -> Agreement | None:
        row = run(
            self._conn, "SELECT body FROM cp_agreements WHERE id = :id", {"id": agreement_id}
        ).first()
        return None if row is None else records.agreement_from(load_json(row[0]))

    def save_agreement(self, agreement: Agreement, *, negotiation_id: str) -> None:
        run(
            self._conn,
            "INSERT INTO cp_agreements (id, negotiation_id, dataset_id, assigner, assignee,"
            " created_at, body) VALUES (:id, :n, :ds, :a, :b, :at, :body)"
            " ON CONFLICT (id) DO NOTHING",
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
        row = run(
            self._conn,
            "SELECT CAST(body AS TEXT) FROM cp_datasets WHERE id = :id",
            {"id": dataset_id},
        ).first()
        return None if row is None else records.DATASETS.of(row[0])

    # outbox ------------------------------------------------------------------------------------

    def enqueue(self, message: OutboxMessage) -> None:
        self._drop_outbox(message.process_kind, message.process_id)
        lease_until = (
            None if self._owner is None else self._clock.now().timestamp() + self._lease_seconds
        )
        row_id = run(
            self._conn,
            "INSERT INTO cp_outbox (process_kind, process_id, event, url, audience, body,"
            " next_attempt_at, lease_owner, lease_until)"
            " VALUES (:k, :p, :e, :u, :a, :b, 0, :o, :lu) RETURNING id",
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
        row = run(
            self._conn,
            "SELECT id, process_kind, process_id, event, url, audience, body, attempts"
            " FROM cp_outbox WHERE id = :id AND status = 'pending'",
            {"id": message_id},
        ).first()
        return None if row is None else outbox_message(row)

    def outbox_done(self, message_id: int) -> bool:
        """Retire a pending outbox row; whether there was one (one statement)."""
        return (
            run(
                self._conn,
                "DELETE FROM cp_outbox WHERE id = :id AND status = 'pending' RETURNING id",
                {"id": message_id},
            ).first()
            is not None
        )

    def _drop_outbox(self, kind: str, pid: str) -> None:
        self.queued = [m for m in self.queued if (m.process_kind, m.process_id) != (kind, pid)]
        run(
            self._conn,
            "DELETE FROM cp_outbox WHERE process_kind = :k AND process_id = :p"
            " AND status = 'pending'",
            {"k": kind, "p": pid},
        )


def records_text(
    cache: records.StoredValues[P], process: P, to_json: Callable[[P], dict[str, Any]]
) -> str:
    """The JSON text ``process`` is stored as (remembered: reading it back needs no parse)."""
    text = dump_json(to_json(process))
    cache.remember(text, process)
    return text


def agreement_details(agreement: Agreement) -> dict[str, Any]:
    """What an agreement's event records: its id and the hash of its policy — the provider's
    policy version hash when the agreement carries it (``policy_version``), else the digest of
    the agreed rules as received (``agreement``, ``sha256:`` of their JCS form)."""
    if agreement.policy_hash:
        return {
            "agreement": agreement.id,
            "policy_hash": agreement.policy_hash,
            "policy_hash_of": "policy_version",
        }
    try:
        digest: str | None = "sha256:" + sha256_hex(canonical(dict(agreement.policy)))
    except Invalid:
        digest = None
    return {"agreement": agreement.id, "policy_hash": digest, "policy_hash_of": "agreement"}


def decision_event(
    *,
    permitted: bool,
    report_digest: str,
    explanation: str,
    participant: str,
    dataset: str | None,
    process: str | None = None,
    agreement: str | None = None,
    policy_hash: str | None = None,
    stage: str = "contract",
) -> AuditEvent:
    """The ``policy.decided`` event of a contract decision or a transfer re-check."""
    return AuditEvent(
        type=EventType.POLICY_DECIDED,
        actor="system",
        result=Result.OK if permitted else Result.DENIED,
        participant=participant,
        dataset=dataset,
        agreement=agreement,
        process=process,
        details={
            "decision": "permit" if permitted else "deny",
            "report_digest": report_digest,
            "explanation": explanation[:2000],
            "policy_hash": policy_hash,
            "stage": stage,
        },
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
        self.audit: SqlAuditStore | None = None
        """The audit trail state changes are recorded in (set by the composition root)."""
        self._open = threading.local()

    def on_enqueue(self, listener: Callable[[list[OutboxMessage]], None]) -> None:
        """Call ``listener(messages)`` after each commit that queued messages."""
        self._listeners.append(listener)

    def record_decision(
        self,
        *,
        permitted: bool,
        report_digest: str,
        explanation: str,
        participant: str,
        dataset: str | None,
        process: str | None = None,
        agreement: str | None = None,
        policy_hash: str | None = None,
        stage: str = "contract",
    ) -> None:
        """Record a ``policy.decided`` event (a transfer re-check taken before the transaction
        it guards): on its own, or in this thread's open transaction if there is one (a
        separate append would wait for the write lock that transaction holds)."""
        open_tx: SqlTx | None = getattr(self._open, "tx", None)
        if open_tx is not None:
            open_tx.record_decision(
                permitted=permitted,
                report_digest=report_digest,
                explanation=explanation,
                participant=participant,
                dataset=dataset,
                process=process,
                agreement=agreement,
                policy_hash=policy_hash,
                stage=stage,
            )
        elif self.audit is not None:
            self.audit.append(
                decision_event(
                    permitted=permitted,
                    report_digest=report_digest,
                    explanation=explanation,
                    participant=participant,
                    dataset=dataset,
                    process=process,
                    agreement=agreement,
                    policy_hash=policy_hash,
                    stage=stage,
                )
            )

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """One transaction; commits on success, rolls back on any exception."""
        with write_transaction(self.engine) as conn:
            tx = SqlTx(conn, self._clock, owner=self._owner, lease_seconds=self._lease_seconds)
            outer, self._open.tx = getattr(self._open, "tx", None), tx
            try:
                yield tx
            finally:
                self._open.tx = outer
            if (tx.events or tx.decisions) and self.audit is not None:
                self.audit.append_in(conn, [*tx.events, *tx.decisions])
        if tx.queued:
            for listener in self._listeners:
                listener(list(tx.queued))
