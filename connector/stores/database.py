"""Engine creation and schema migrations for SQLite and PostgreSQL (SQLAlchemy Core, sync).

``sqlite:///path`` (default, embedded) and ``postgresql://…`` (psycopg 3) URLs are accepted.
Migrations are an ordered list in :mod:`connector.stores.migrations`; each runs once, in its own
transaction, recorded in ``schema_migrations``. Several replicas starting at once are safe:
on PostgreSQL the runner holds an advisory lock while migrating.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import Invalid, Unavailable
from connector.stores.migrations import MIGRATIONS

_MIGRATION_LOCK = 0x6B6C696D  # "klim"


def normalise_url(url: str) -> str:
    """Map ``postgres://`` / ``postgresql://`` to the psycopg 3 driver; keep ``sqlite://``."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise Invalid(
        "CONNECTOR_DATABASE_URL must start with sqlite:// or postgresql://", reason="config"
    )


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with the settings each backend needs (SQLite: WAL, foreign keys, busy timeout)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # fewer, larger checkpoints: a page changed by many transactions in a row (B-tree
            # roots, the audit head, the outbox) is copied back to the database file once per
            # ~20 MB of WAL instead of once per ~4 MB (decision 20261201-control-plane-throughput)
            cursor.execute("PRAGMA wal_autocheckpoint=5000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations not yet applied; returns their names."""
    applied: list[str] = []
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as conn:
            if postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
                )
            )
            done = {row[0] for row in conn.execute(text("SELECT version FROM schema_migrations"))}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.statements(engine.dialect.name):
                    conn.execute(text(statement))
                conn.execute(
                    text("INSERT INTO schema_migrations (version, name) VALUES (:v, :n)"),
                    {"v": migration.version, "n": migration.name},
                )
                applied.append(migration.name)
    except SQLAlchemyError as exc:
        raise Unavailable(
            f"database migration failed: {exc.__class__.__name__}", reason="database"
        ) from exc
    return applied


def ping(engine: Engine) -> None:
    """Raise :class:`Unavailable` unless the database answers and is migrated."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM schema_migrations")).scalar_one()
    except SQLAlchemyError as exc:
        raise Unavailable("database not reachable", reason="database") from exc
