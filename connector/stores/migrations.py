"""The schema, as an ordered list of migrations. Append only; never edit an applied one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
        "CREATE TABLE audit_events ("
        " seq BIGINT PRIMARY KEY,"
        " prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL,"
        " time TEXT NOT NULL,"
        " event_type TEXT NOT NULL,"
        " body_digest TEXT NOT NULL,"
        " actor TEXT, participant TEXT, dataset TEXT, agreement TEXT, process TEXT,"
        " result TEXT, details TEXT,"
        " redacted BOOLEAN NOT NULL DEFAULT FALSE)",
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


MIGRATIONS: list[Migration] = [
    Migration(1, "initial", _initial),
    Migration(2, "audit_trail", _audit_trail),
]
