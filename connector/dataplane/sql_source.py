"""SQL sources: a query against SQLite or PostgreSQL, streamed on a read-only connection.

SQLite files are opened with ``mode=ro`` and ``PRAGMA query_only``, their path confined like a
file source (relative paths are relative to the data dir); PostgreSQL sessions run
``SET TRANSACTION READ ONLY`` with a server-side cursor. Rows are fetched in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from connector.dataplane.confinement import SourceDirs
from connector.dataplane.narrowing import Narrowing
from connector.dataplane.readers import Record
from connector.dataplane.source import SqlSpec, narrowed_query
from connector.errors import Unavailable

BATCH = 2000


def _sqlite_engine(path: str) -> Engine:
    engine = create_engine(
        f"sqlite:///file:{quote(path)}?mode=ro&uri=true",
        poolclass=NullPool,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    return engine


class SqlSources:
    """Engines per database, shared by all SQL sources (created on first use)."""

    def __init__(self, dirs: SourceDirs) -> None:
        self.dirs = dirs
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine(self, url: str) -> Engine:
        """A read-only engine for ``url`` (SQLite paths confined to the source dirs)."""
        if url.startswith("sqlite:///"):
            key = str(self.dirs.resolve(url.removeprefix("sqlite:///")))
        else:
            key = "postgresql+psycopg://" + url.split("://", 1)[1]
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                if key.startswith("postgresql"):
                    engine = create_engine(key, pool_size=4, max_overflow=4, pool_pre_ping=True)
                else:
                    engine = _sqlite_engine(key)
                self._engines[key] = engine
            return engine

    def records(
        self,
        spec: SqlSpec,
        narrowing: Narrowing,
        time_column: str | None,
        *,
        ordered: bool = False,
    ) -> Iterator[Record]:
        """Rows of the (narrowed) query as records, fetched in batches."""
        engine = self.engine(spec.url)
        query, params = narrowed_query(spec.query, narrowing, time_column, ordered=ordered)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                result = conn.execution_options(stream_results=True).execute(text(query), params)
                columns = list(result.keys())
                while True:
                    rows = result.fetchmany(BATCH)
                    if not rows:
                        break
                    for row in rows:
                        yield dict(zip(columns, row, strict=True))
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"SQL source failed: {exc.__class__.__name__}", reason="source_failed"
            ) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
