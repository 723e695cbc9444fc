"""The schema, as an ordered list of migrations. Append only; never edit an applied one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.stores.dataplane_store import dataplane_tables
from connector.stores.identity_schema import identity_tables


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: Callable[[str], list[str]]
    """Statements for a dialect name (``sqlite`` or ``postgresql``)."""

    def statements(self, dialect: str) -> list[str]:
        return self.sql(dialect)


def _json(dialect: str) -> str:
    return "JSONB" if dialect == "postgresql" else "TEXT"


def _initial(dialect: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS connector_meta ("
        " key TEXT PRIMARY KEY,"
        f" value {_json(dialect)} NOT NULL)",
    ]


_AUDIT_EVENT_FIELDS = (
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " time TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " body_digest TEXT NOT NULL,"
    " actor TEXT, participant TEXT, dataset TEXT, agreement TEXT, process TEXT,"
    " result TEXT, details TEXT,"
    " redacted BOOLEAN NOT NULL DEFAULT FALSE)"
)
"""The columns of ``audit_events`` after ``seq`` (migrations 2 and 7)."""


def _audit_trail(dialect: str) -> list[str]:
    """The hash-chained audit trail (see :mod:`connector.stores.audit_store`)."""
    identity = (
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        if dialect == "postgresql"
        else "INTEGER PRIMARY KEY"
    )
    return [
        "CREATE TABLE audit_head ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " seq BIGINT NOT NULL,"
        " hash TEXT NOT NULL)",
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, "
        "'0000000000000000000000000000000000000000000000000000000000000000')",
        "CREATE TABLE audit_events ( seq BIGINT PRIMARY KEY," + _AUDIT_EVENT_FIELDS,
        "CREATE INDEX audit_events_time ON audit_events (time)",
        "CREATE INDEX audit_events_participant ON audit_events (participant, seq)",
        "CREATE INDEX audit_events_dataset ON audit_events (dataset, seq)",
        "CREATE INDEX audit_events_agreement ON audit_events (agreement, seq)",
        "CREATE INDEX audit_events_type ON audit_events (event_type, seq)",
        "CREATE TABLE audit_checkpoints ("
        f" id {identity},"
        " seq BIGINT NOT NULL,"
        " head TEXT NOT NULL,"
        " time TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " issuer TEXT NOT NULL,"
        " kid TEXT NOT NULL,"
        " jwk TEXT NOT NULL,"
        " jws TEXT NOT NULL)",
        "CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq)",
    ]


def _control_plane(dialect: str) -> list[str]:
    """Policies, datasets, negotiations, transfers, agreements and the outbox (issue 4)."""
    doc = _json(dialect)
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    identity = (
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        if dialect == "postgresql"
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    return [
        "CREATE TABLE cp_policies ("
        " id TEXT NOT NULL, version INTEGER NOT NULL, hash TEXT NOT NULL, uid TEXT,"
        f" created_at TEXT NOT NULL, body {doc} NOT NULL, PRIMARY KEY (id, version))",
        "CREATE INDEX cp_policies_hash ON cp_policies (hash)",
        "CREATE INDEX cp_policies_uid ON cp_policies (uid)",
        "CREATE TABLE cp_datasets ("
        " id TEXT PRIMARY KEY, access_hash TEXT, created_at TEXT NOT NULL,"
        f" body {doc} NOT NULL)",
        "CREATE TABLE cp_negotiations ("
        " id TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT, counterparty_id TEXT NOT NULL,"
        " consumer_pid TEXT, provider_pid TEXT, dataset_id TEXT NOT NULL,"
        f" created_at TEXT NOT NULL, updated_at TEXT NOT NULL, body {doc} NOT NULL)",
        "CREATE INDEX cp_negotiations_state ON cp_negotiations (state, role)",
        "CREATE INDEX cp_negotiations_party ON cp_negotiations (counterparty_id)",
        "CREATE TABLE cp_transfers ("
        " id TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT, counterparty_id TEXT NOT NULL,"
        " consumer_pid TEXT, provider_pid TEXT, agreement_id TEXT NOT NULL,"
        f" created_at TEXT NOT NULL, updated_at TEXT NOT NULL, body {doc} NOT NULL)",
        "CREATE UNIQUE INDEX cp_transfers_request ON cp_transfers"
        " (role, counterparty_id, consumer_pid)",
        "CREATE TABLE cp_agreements ("
        " id TEXT PRIMARY KEY, negotiation_id TEXT NOT NULL, dataset_id TEXT NOT NULL,"
        " assigner TEXT NOT NULL, assignee TEXT NOT NULL, created_at TEXT NOT NULL,"
        f" body {doc} NOT NULL)",
        "CREATE TABLE cp_outbox ("
        f" id {identity}, process_kind TEXT NOT NULL, process_id TEXT NOT NULL,"
        " event TEXT NOT NULL, url TEXT NOT NULL, audience TEXT NOT NULL,"
        f" body {doc} NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        f" next_attempt_at {real} NOT NULL, lease_owner TEXT, lease_until {real},"
        " status TEXT NOT NULL DEFAULT 'pending', last_error TEXT)",
        "CREATE INDEX cp_outbox_due ON cp_outbox (status, next_attempt_at)",
        "CREATE INDEX cp_outbox_process ON cp_outbox (process_kind, process_id)",
    ]


def _process_lookups(_dialect: str) -> list[str]:
    """A provider finds the negotiation a consumer's message belongs to by (counterparty,
    consumerPid): indexed, and unique as for transfers (a second request with the same
    consumerPid is a replay, also when two replicas take the two copies at once). The
    index on the counterparty alone is a prefix of it. Management lists are newest first:
    read in index order instead of sorting every row (with its document) per page."""
    return [
        "DROP INDEX cp_negotiations_party",
        "CREATE UNIQUE INDEX cp_negotiations_request ON cp_negotiations"
        " (counterparty_id, consumer_pid, role)",
        "CREATE INDEX cp_negotiations_newest ON cp_negotiations (created_at DESC, id)",
        "DROP INDEX cp_negotiations_state",
        "CREATE INDEX cp_negotiations_state ON cp_negotiations (state, created_at DESC, id)",
        "CREATE INDEX cp_transfers_newest ON cp_transfers (created_at DESC, id)",
        "CREATE INDEX cp_agreements_newest ON cp_agreements (created_at DESC, id)",
    ]


_AUDIT_COLUMNS = (
    "seq, prev_hash, hash, time, event_type, body_digest, actor, participant, dataset,"
    " agreement, process, result, details, redacted"
)
_COPY_AUDIT = (
    f"INSERT INTO audit_events_rebuilt ({_AUDIT_COLUMNS})"  # noqa: S608 (constant columns)
    f" SELECT {_AUDIT_COLUMNS} FROM audit_events ORDER BY seq"
)


def _lean_writes(dialect: str) -> list[str]:
    """Fewer index pages written per transaction (each is a WAL frame on SQLite).

    The audit trail's participant, dataset and agreement indexes hold only the entries that
    name one (queries filter by equality, which implies ``IS NOT NULL``): most entries name no
    agreement. On SQLite, ``seq`` becomes the table's rowid (``BIGINT PRIMARY KEY`` was a
    separate unique index beside the rowid) and the token-replay table keeps its rows in its
    key's b-tree (``WITHOUT ROWID``): one b-tree less per insert in both.
    """
    partial = [
        f"CREATE INDEX audit_events_{name} ON audit_events ({name}, seq) WHERE {name} IS NOT NULL"
        for name in ("participant", "dataset", "agreement")
    ]
    if dialect == "postgresql":
        return [
            *(f"DROP INDEX audit_events_{n}" for n in ("participant", "dataset", "agreement")),
            *partial,
        ]
    return [
        "CREATE TABLE audit_events_rebuilt ( seq INTEGER PRIMARY KEY," + _AUDIT_EVENT_FIELDS,
        _COPY_AUDIT,
        "DROP TABLE audit_events",
        "ALTER TABLE audit_events_rebuilt RENAME TO audit_events",
        "CREATE INDEX audit_events_time ON audit_events (time)",
        "CREATE INDEX audit_events_type ON audit_events (event_type, seq)",
        *partial,
        "CREATE TABLE token_replay_rebuilt (key TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)"
        " WITHOUT ROWID",
        "INSERT INTO token_replay_rebuilt (key, expires_at) SELECT key, expires_at FROM"
        " token_replay",
        "DROP TABLE token_replay",
        "ALTER TABLE token_replay_rebuilt RENAME TO token_replay",
        "CREATE INDEX token_replay_expires ON token_replay (expires_at)",
    ]


MIGRATIONS: list[Migration] = [
    Migration(1, "initial", _initial),
    Migration(2, "audit_trail", _audit_trail),
    Migration(3, "identity", identity_tables),
    Migration(4, "control_plane", _control_plane),
    Migration(5, "data_plane", dataplane_tables),
    Migration(6, "process_lookups", _process_lookups),
    Migration(7, "lean_writes", _lean_writes),
]
