"""The audit trail in SQL (SQLite and PostgreSQL): one total order, no gaps, no forks.

Every append runs in one transaction that first takes the single ``audit_head`` row's lock
(``SELECT … FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE``, the database write lock, on
SQLite), seals the event after the head, inserts it and moves the head. Replicas and processes
appending at once therefore queue on the head: each entry gets the next number and the hash of
the entry committed just before it. Every ``checkpoint_every`` entries a signed checkpoint is
written in the same transaction.

Reads that must agree with each other (verification, exports) run in one snapshot
(``REPEATABLE READ`` on PostgreSQL, one read transaction on SQLite).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from connector.audit import export as exportmod
from connector.audit.checkpoint import Checkpoint, CheckpointKind, CheckpointSigner, thumbprint
from connector.audit.event import GENESIS, AuditEntry, AuditEvent, canonical, format_time, seal
from connector.audit.proof import MAX_PATH, Proof
from connector.audit.query import AuditQuery
from connector.audit.report import PartnerReport, partner_reports
from connector.audit.retention import RetentionPolicy
from connector.audit.sink import EventAppender
from connector.audit.verification import Anchor, Head, VerificationReport, verify_chain
from connector.audit.vocabulary import EventType
from connector.clock import Clock
from connector.credentials.keys import KeySet, public_jwk
from connector.errors import Invalid, NotFound, Unavailable
from connector.stores.transactions import write_transaction

_meta = MetaData()
head_table = Table(
    "audit_head",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer),
    Column("hash", String),
)
events_table = Table(
    "audit_events",
    _meta,
    Column("seq", Integer, primary_key=True),
    Column("prev_hash", String),
    Column("hash", String),
    Column("time", String),
    Column("event_type", String),
    Column("body_digest", String),
    Column("actor", String),
    Column("participant", String),
    Column("dataset", String),
    Column("agreement", String),
    Column("process", String),
    Column("result", String),
    Column("details", String),
    Column("redacted", Boolean),
)
checkpoints_table = Table(
    "audit_checkpoints",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer),
    Column("head", String),
    Column("time", String),
    Column("kind", String),
    Column("issuer", String),
    Column("kid", String),
    Column("jwk", String),
    Column("jws", String),
)
_LOCK_HEAD = select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)
_INSERT_EVENT = insert(events_table)
_MOVE_HEAD = (
    update(head_table)
    .where(head_table.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_BODY_COLUMNS = ("actor", "participant", "dataset", "agreement", "process", "result", "details")
BATCH = 1000


_SQLITE_SQL = {
    "lock": "SELECT seq, hash FROM audit_head WHERE id = 1",
    "insert": "INSERT INTO audit_events (seq, prev_hash, hash, time, event_type, body_digest,"
    " actor, participant, dataset, agreement, process, result, details, redacted)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "head": "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
    "checkpoint": "INSERT INTO audit_checkpoints (seq, head, time, kind, issuer, kid, jwk, jws)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
}
_SQL = {
    "sqlite": _SQLITE_SQL,
    "postgresql": {
        **{name: sql.replace("?", "%s") for name, sql in _SQLITE_SQL.items()},
        "lock": "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        "insert_and_move": "WITH moved AS (UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1)"
        " INSERT INTO audit_events (seq, prev_hash, hash, time, event_type, body_digest,"
        " actor, participant, dataset, agreement, process, result, details, redacted)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    },
}
"""The append path's statements at driver level (parameter style per driver)."""


def _event_row(entry: AuditEntry, details_jcs: bytes) -> tuple[Any, ...]:
    """The row of ``entry``; ``details_jcs``: its details in JCS (as its event computed them)."""
    details = details_jcs.decode("utf-8")
    return (
        entry.seq,
        entry.prev_hash,
        entry.hash,
        entry.time,
        entry.type,
        entry.body_digest,
        entry.actor,
        entry.participant,
        entry.dataset,
        entry.agreement,
        entry.process,
        entry.result,
        details,
        False,
    )


def _event_params(entry: AuditEntry) -> dict[str, Any]:
    """The entry as named parameters of ``audit_events``."""
    names = ("seq", "prev_hash", "hash", "time", "body_digest", *_BODY_COLUMNS[:-1])
    row: dict[str, Any] = {name: getattr(entry, name) for name in names}
    row.update(event_type=entry.type, details=canonical(entry.details).decode(), redacted=False)
    return row


def _checkpoint_row(cp: Checkpoint) -> tuple[Any, ...]:
    jwk = json.dumps(dict(cp.jwk), sort_keys=True)
    return (cp.seq, cp.head, cp.time, cp.kind, cp.issuer, cp.kid, jwk, cp.jws)


def _entry(row: Row[Any]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        seq=int(m["seq"]),
        prev_hash=m["prev_hash"],
        hash=m["hash"],
        time=m["time"],
        type=m["event_type"],
        body_digest=m["body_digest"],
        actor=m["actor"],
        participant=m["participant"],
        dataset=m["dataset"],
        agreement=m["agreement"],
        process=m["process"],
        result=m["result"],
        details=None if m["details"] is None else json.loads(m["details"]),
        redacted=bool(m["redacted"]),
    )


def _checkpoint(row: Row[Any]) -> Checkpoint:
    m = row._mapping
    return Checkpoint(
        seq=int(m["seq"]),
        head=m["head"],
        time=m["time"],
        kind=m["kind"],
        issuer=m["issuer"],
        kid=m["kid"],
        jwk=json.loads(m["jwk"]),
        jws=m["jws"],
    )


def _filtered(stmt: Select[Any], query: AuditQuery | None) -> Select[Any]:
    if query is None:
        return stmt
    t = events_table.c
    if query.since is not None:
        stmt = stmt.where(t.time >= query.since_text)
    if query.until is not None:
        stmt = stmt.where(t.time < query.until_text)
    if query.type is not None:
        stmt = stmt.where(t.event_type == str(query.type))
    if query.result is not None:
        stmt = stmt.where(t.result == str(query.result))
    for name in ("participant", "dataset", "agreement", "process", "actor"):
        value = getattr(query, name)
        if value is not None:
            stmt = stmt.where(t[name] == value)
    return stmt


class SqlAuditStore(EventAppender):
    """The :class:`connector.audit.sink.AuditSink` on SQL, with queries, proofs and retention.

    ``signer`` signs checkpoints (periodic every ``checkpoint_every`` entries, on demand, and
    when pruning); without one the chain is kept but nothing is signed.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        signer: CheckpointSigner | None = None,
        *,
        checkpoint_every: int = 1000,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._postgres = engine.dialect.name == "postgresql"

    # Transactions ------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[tuple[Connection, int, str]]:
        """A write transaction holding the head lock; yields (connection, head seq, head hash)."""
        lock = _LOCK_HEAD.with_for_update() if self._postgres else _LOCK_HEAD
        try:
            with write_transaction(self.engine) as conn:
                seq, hash_ = conn.execute(lock).one()
                yield conn, int(seq), hash_
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"audit trail not writable: {exc.__class__.__name__}", reason="audit_unavailable"
            ) from exc

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read transaction: every query inside sees the same committed state."""
        try:
            with self.engine.connect() as conn:
                if self._postgres:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        yield conn
                    return
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("BEGIN")
                try:
                    yield conn
                finally:
                    conn.exec_driver_sql("COMMIT")
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"audit trail not readable: {exc.__class__.__name__}", reason="audit_unavailable"
            ) from exc

    # Appending ---------------------------------------------------------------------------

    def append(self, event: AuditEvent) -> AuditEntry:
        """Append one event in its own write transaction (lock the head, insert, move it)."""
        try:
            with write_transaction(self.engine) as conn:
                return self.append_in(conn, [event])[0]
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"audit trail not writable: {exc.__class__.__name__}", reason="audit_unavailable"
            ) from exc

    def append_in(self, conn: Connection, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Append ``events`` inside the caller's open write transaction on ``conn``.

        The entries commit or roll back together with the caller's own writes (a state change
        and its audit event are one fact). The head row is locked here (``FOR UPDATE`` on
        PostgreSQL); on SQLite the caller's transaction must hold the database write lock
        already (``BEGIN IMMEDIATE``, as :func:`connector.stores.transactions.
        write_transaction` does), so the order stays total and gap-free across processes.
        Call it as the last statement before the commit: other appenders wait for the head
        from here until the caller commits.
        """
        if not events:
            return []
        sql = _SQL[self.engine.dialect.name]
        dbapi_error: Any = self.engine.dialect.loaded_dbapi.Error
        raw: Any = conn.connection.driver_connection  # the caller's transaction, driver level
        cursor = raw.cursor()
        try:
            cursor.execute(sql["lock"])
            seq, prev = cursor.fetchone()
            seq = int(seq)
            now = self._clock.now()
            entries: list[AuditEntry] = []
            for event in events:
                entry = seal(event, seq=seq + 1, prev_hash=prev, at=now)
                entries.append(entry)
                seq, prev = entry.seq, entry.hash
            if self._postgres:  # insert and move the head in one statement per entry
                rows = [
                    (e.seq, e.hash, *_event_row(e, ev.details_jcs()))
                    for e, ev in zip(entries, events, strict=True)
                ]
                if len(rows) == 1:
                    cursor.execute(sql["insert_and_move"], rows[0])
                else:
                    cursor.executemany(sql["insert_and_move"], rows)
            else:
                cursor.executemany(
                    sql["insert"],
                    [
                        _event_row(e, ev.details_jcs())
                        for e, ev in zip(entries, events, strict=True)
                    ],
                )
                cursor.execute(sql["head"], (seq, prev))
            for entry in entries:
                if self._due(entry.seq):
                    cp = self._signed(entry.seq, entry.hash, "periodic")
                    cursor.execute(sql["checkpoint"], _checkpoint_row(cp))
        except dbapi_error as exc:
            raise Unavailable(
                f"audit trail not writable: {exc.__class__.__name__}", reason="audit_unavailable"
            ) from exc
        finally:
            cursor.close()
        return entries

    def _due(self, seq: int) -> bool:
        every = self._checkpoint_every
        return self._signer is not None and every > 0 and seq % every == 0

    def _signed(self, seq: int, head: str, kind: CheckpointKind) -> Checkpoint:
        if self._signer is None:
            raise Invalid("no checkpoint signing key configured", reason="no_key")
        return self._signer.sign(seq=seq, head=head, at=self._clock.now(), kind=kind)

    def _append_locked(
        self, conn: Connection, seq: int, prev: str, event: AuditEvent
    ) -> AuditEntry:
        entry = seal(event, seq=seq + 1, prev_hash=prev, at=self._clock.now())
        conn.execute(_INSERT_EVENT, _event_params(entry))
        conn.execute(_MOVE_HEAD, {"new_seq": entry.seq, "new_hash": entry.hash})
        if self._due(entry.seq):
            self._sign_locked(conn, entry.seq, entry.hash, "periodic")
        return entry

    def _sign_locked(
        self, conn: Connection, seq: int, head: str, kind: CheckpointKind
    ) -> Checkpoint:
        cp = self._signed(seq, head, kind)
        record = cp.to_record()
        record["jwk"] = json.dumps(record["jwk"], sort_keys=True)
        conn.execute(insert(checkpoints_table).values(**record))
        return cp

    def checkpoint(self) -> Checkpoint:
        """Sign the current head now (on demand)."""
        with self._write() as (conn, seq, head):
            return self._sign_locked(conn, seq, head, "on_demand")

    def prune(self, policy: RetentionPolicy) -> AuditEntry:
        """Apply ``policy`` and record it as an ``audit.pruned`` event (one transaction)."""
        cutoffs = policy.cutoffs(self._clock.now())
        t = events_table.c
        with self._write() as (conn, seq, prev):
            anchor = self._pruned_anchor(conn)
            up_to, deleted = anchor.seq, 0
            if cutoffs.delete_before is not None:
                first_kept = conn.execute(
                    select(func.min(t.seq)).where(t.time >= cutoffs.delete_before)
                ).scalar()
                last_old = seq if first_kept is None else int(first_kept) - 1
                if last_old > anchor.seq:
                    hash_at = conn.execute(select(t.hash).where(t.seq == last_old)).scalar_one()
                    deleted = conn.execute(delete(events_table).where(t.seq <= last_old)).rowcount
                    self._sign_locked(conn, last_old, hash_at, "pruned")
                    up_to = last_old
            redacted: dict[str, dict[str, Any]] = {}
            blank = dict.fromkeys(_BODY_COLUMNS)
            for type_, before in cutoffs.redact_before.items():
                count = conn.execute(
                    update(events_table)
                    .where(t.event_type == type_, t.time < before, t.redacted.is_(False))
                    .values(redacted=True, **blank)
                ).rowcount
                redacted[type_] = {"before": before, "count": count}
            event = AuditEvent(
                type=EventType.AUDIT_PRUNED,
                actor="system",
                details={
                    "deleted_up_to": up_to,
                    "deleted": deleted,
                    "delete_before": cutoffs.delete_before,
                    "redacted": redacted,
                },
            )
            return self._append_locked(conn, seq, prev, event)

    # Reading -----------------------------------------------------------------------------

    def head(self) -> Head:
        with self._snapshot() as conn:
            return self._head(conn)

    def _head(self, conn: Connection) -> Head:
        seq, hash_ = conn.execute(select(head_table.c.seq, head_table.c.hash)).one()
        return Head(int(seq), hash_)

    def get(self, seq: int) -> AuditEntry:
        with self._snapshot() as conn:
            row = conn.execute(select(events_table).where(events_table.c.seq == seq)).first()
        if row is None:
            raise NotFound(f"no audit entry {seq}", reason="audit_entry")
        return _entry(row)

    def query(
        self, query: AuditQuery | None = None, *, after: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries matching ``query`` with ``seq > after``, oldest first, at most ``limit``."""
        stmt = _filtered(select(events_table), query).where(events_table.c.seq > after)
        with self._snapshot() as conn:
            rows = conn.execute(stmt.order_by(events_table.c.seq).limit(limit)).all()
        return [_entry(row) for row in rows]

    def _stream(
        self,
        conn: Connection,
        query: AuditQuery | None = None,
        *,
        after: int = 0,
        upto: int | None = None,
    ) -> Iterator[AuditEntry]:
        while True:
            stmt = _filtered(select(events_table), query).where(events_table.c.seq > after)
            if upto is not None:
                stmt = stmt.where(events_table.c.seq <= upto)
            rows = conn.execute(stmt.order_by(events_table.c.seq).limit(BATCH)).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < BATCH:
                return
            after = int(rows[-1]._mapping["seq"])

    def entries(self, query: AuditQuery | None = None, *, after: int = 0) -> Iterator[AuditEntry]:
        """Stream the matching entries (one snapshot, fetched in batches)."""
        with self._snapshot() as conn:
            yield from self._stream(conn, query, after=after)

    def checkpoints(self, conn: Connection | None = None) -> list[Checkpoint]:
        stmt = select(checkpoints_table).order_by(checkpoints_table.c.seq, checkpoints_table.c.id)
        if conn is not None:
            return [_checkpoint(row) for row in conn.execute(stmt)]
        with self._snapshot() as own:
            return [_checkpoint(row) for row in own.execute(stmt)]

    def _pruned_anchor(self, conn: Connection) -> Anchor:
        c = checkpoints_table.c
        row = conn.execute(
            select(c.seq, c.head).where(c.kind == "pruned").order_by(c.seq.desc()).limit(1)
        ).first()
        return Anchor.genesis() if row is None else Anchor(int(row[0]), row[1], "pruned checkpoint")

    def _anchor(self, conn: Connection, from_seq: int | None) -> Anchor:
        anchor = self._pruned_anchor(conn)
        if from_seq is None or from_seq <= anchor.seq + 1:
            return anchor
        before = conn.execute(
            select(events_table.c.hash).where(events_table.c.seq == from_seq - 1)
        ).scalar()
        if before is None:
            raise NotFound(f"no audit entry {from_seq - 1} to start after", reason="audit_entry")
        return Anchor(from_seq - 1, before, "unverified start")

    def verify(
        self,
        *,
        from_seq: int | None = None,
        trusted_keys: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> VerificationReport:
        """Verify the stored chain (from ``from_seq``) and all checkpoint signatures."""
        with self._snapshot() as conn:
            anchor = self._anchor(conn, from_seq)
            return verify_chain(
                self._stream(conn, after=anchor.seq),
                anchor=anchor,
                checkpoints=self.checkpoints(conn),
                head=self._head(conn),
                trusted_keys=trusted_keys,
            )

    def proof(self, seq: int) -> Proof:
        """The entry, its predecessor and the path to the nearest signed checkpoint after it."""
        c, t = checkpoints_table.c, events_table.c
        with self._snapshot() as conn:
            rows = conn.execute(
                select(events_table).where(t.seq.between(seq - 1, seq)).order_by(t.seq)
            ).all()
            entries = {int(r._mapping["seq"]): _entry(r) for r in rows}
            if seq not in entries:
                raise NotFound(f"no audit entry {seq}", reason="audit_entry")
            cp_row = conn.execute(
                select(checkpoints_table)
                .where(c.seq >= seq, c.seq <= seq + MAX_PATH, c.kind != "pruned")
                .order_by(c.seq, c.id)
                .limit(1)
            ).first()
            checkpoint = None if cp_row is None else _checkpoint(cp_row)
            path: list[AuditEntry] = []
            if checkpoint is not None:
                path = list(self._stream(conn, after=seq, upto=checkpoint.seq))
        return Proof(entries[seq], entries.get(seq - 1), path, checkpoint)

    def export_jsonl(self, *, from_seq: int | None = None) -> Iterator[str]:
        """The JSON Lines export (see :mod:`connector.audit.export`), from one snapshot."""
        issuer = self._signer.issuer if self._signer is not None else None
        with self._snapshot() as conn:
            anchor = self._anchor(conn, from_seq)
            yield from exportmod.jsonl_lines(
                issuer=issuer,
                exported_at=format_time(self._clock.now()),
                anchor=anchor,
                head=self._head(conn),
                checkpoints=self.checkpoints(conn),
                entries=self._stream(conn, after=anchor.seq),
            )

    def export_csv(self, query: AuditQuery | None = None) -> Iterator[str]:
        with self._snapshot() as conn:
            yield from exportmod.csv_lines(self._stream(conn, query))

    def partner_reports(self, query: AuditQuery | None = None) -> list[PartnerReport]:
        """Per-partner access report over the entries matching ``query``."""
        with self._snapshot() as conn:
            return partner_reports(self._stream(conn, query))


def checkpoint_signer(keyset: KeySet) -> CheckpointSigner:
    """The connector's checkpoint signer: its Ed25519 key (EdDSA)."""
    return CheckpointSigner(keyset.ed25519, keyset.method_id("ed25519"), keyset.did)


def own_keys(keyset: KeySet) -> dict[str, dict[str, Any]]:
    """The connector's public Ed25519 and P-256 keys, by thumbprint, to pin when verifying.

    Retired keys count too: checkpoints signed before a key rotation stay trusted.
    """
    keys = [public_jwk(keyset.ed25519), public_jwk(keyset.p256)]
    keys += [public_jwk(r.public_key) for r in keyset.retired if r.kind != "rsa"]
    return {thumbprint(key): key for key in keys}


__all__ = ["GENESIS", "SqlAuditStore", "checkpoint_signer", "own_keys"]
