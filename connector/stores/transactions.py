"""Write transactions for both backends, and SQL text in the driver's parameter style.

SQLite allows one writer per database file. :func:`write_transaction` serialises this process's
writers on a Python lock per file and the processes sharing the file (``CONNECTOR_WORKERS``) on
an ``flock`` of ``<file>.writer-lock`` — writers queue there instead of in SQLite's busy
handler, which sleeps up to 100 ms between attempts — and runs every write on one connection per
engine that stays open (``BEGIN IMMEDIATE`` … ``COMMIT``): no pool checkout, isolation-level
switch or reset-on-return per transaction. PostgreSQL transactions are ordinary pooled ones;
replicas coordinate with row locks.

:func:`run` executes hot statements on the driver connection of a SQLAlchemy connection (same
transaction), with ``:name`` parameters turned into the driver's style by :func:`driver_sql`
(``%(name)s`` for psycopg): no statement compilation or result-object set-up per call, which
is most of a statement's cost on SQLite.

:func:`carpool` and :func:`ride_along`: a small write that must commit no later than the work
around it (a token's one-use record) joins the first write transaction the same thread opens
on the same engine inside the block, instead of paying a transaction of its own (on SQLite
``BEGIN IMMEDIATE``/``COMMIT``, the lock hand-over and the WAL frames cost more than the
statement).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per database file
    fcntl = None  # type: ignore[assignment]
from sqlalchemy.exc import DBAPIError, NoResultFound

_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


class _Writer:
    """The open write connection of one SQLite engine."""

    def __init__(self, engine: Engine) -> None:
        self.lock = _file_lock(engine)
        self.conn: Connection | None = None
        database = engine.url.database
        self.lock_path = (
            f"{database}.writer-lock"
            if fcntl is not None and database and database != ":memory:"
            else None
        )
        self.lock_fd: int | None = None
        event.listen(engine, "engine_disposed", self._disposed)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the OS closes it anyway
            self._close_lock_file()

    def _close_lock_file(self) -> None:
        descriptor, self.lock_fd = self.lock_fd, None
        if descriptor is not None:
            os.close(descriptor)

    @contextmanager
    def file_lock(self) -> Iterator[None]:
        """The database's write lock across processes (``flock`` on ``<file>.writer-lock``,
        which the kernel hands to waiters in turn), held inside this process's thread lock.
        Without it, writers of other processes would meet SQLite's busy handler, which polls
        with sleeps of up to 100 ms. Not on platforms without ``fcntl``."""
        if self.lock_path is None or fcntl is None:
            yield
            return
        if self.lock_fd is None:
            self.lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        descriptor = self.lock_fd
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)

    def connection(self, engine: Engine) -> Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    def discard(self) -> None:
        """Drop the connection after a failure that may have left it mid-transaction."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: S110 - already broken; a new one is opened next time
                pass

    def _disposed(self, _engine: Engine) -> None:
        with self.lock:
            conn, self.conn = self.conn, None
            if conn is not None:
                conn.close()
            self._close_lock_file()


_WRITERS: weakref.WeakKeyDictionary[Engine, _Writer] = weakref.WeakKeyDictionary()


def _file_lock(engine: Engine) -> threading.Lock:
    key = str(engine.url)
    with _GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _writer(engine: Engine) -> _Writer:
    with _GUARD:
        writer = _WRITERS.get(engine)
    if writer is None:
        created = _Writer(engine)
        with _GUARD:
            writer = _WRITERS.setdefault(engine, created)
    return writer


class _Ride:
    """A write waiting for a transaction to join (:func:`ride_along`)."""

    __slots__ = ("done", "engine", "write")

    def __init__(self, engine: Engine, write: Callable[[Connection], None]) -> None:
        self.engine = engine
        self.write = write
        self.done = False


_POOLS = threading.local()


def _waiting(engine: Engine) -> list[_Ride]:
    pools: list[list[_Ride]] = getattr(_POOLS, "stack", [])
    return [r for pool in pools for r in pool if not r.done and r.engine is engine]


@contextmanager
def carpool() -> Iterator[None]:
    """A block in which :func:`ride_along` writes of this thread join its write transactions.

    A ride's write runs right after the ``BEGIN`` of the first write transaction this thread
    opens on the ride's engine, and is done when that transaction commits. A ride still
    waiting when the block ends — no transaction committed, or the block failed — gets a
    transaction of its own there, also when the block raised (the write must not be lost); an
    exception of that write then replaces the block's own (with it as context)."""
    stack: list[list[_Ride]] = getattr(_POOLS, "stack", None) or []
    _POOLS.stack = stack
    pool: list[_Ride] = []
    stack.append(pool)
    try:
        yield
    finally:
        stack.pop()
        for ride in pool:
            if not ride.done:
                with write_transaction(ride.engine) as conn:
                    ride.write(conn)
                ride.done = True


def ride_along(engine: Engine, write: Callable[[Connection], None]) -> bool:
    """Let ``write`` join this thread's next write transaction on ``engine`` inside the
    innermost open :func:`carpool`; ``False`` (nothing registered) when no carpool is open."""
    stack: list[list[_Ride]] = getattr(_POOLS, "stack", None) or []
    if not stack:
        return False
    stack[-1].append(_Ride(engine, write))
    return True


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its start (SQLite) or a normal one (PG).

    Commits when the block ends, rolls back on any exception. Waiting :func:`ride_along`
    writes of this thread on ``engine`` run first and commit or roll back with it."""
    rides = _waiting(engine) if getattr(_POOLS, "stack", None) else []
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn, conn.begin():
            for ride in rides:
                ride.write(conn)
            yield conn
        for ride in rides:
            ride.done = True
        return
    writer = _writer(engine)
    with writer.lock, writer.file_lock():
        conn = writer.connection(engine)
        raw: Any = conn.connection.driver_connection  # sqlite3, autocommit mode
        run(conn, "BEGIN IMMEDIATE")
        try:
            for ride in rides:
                ride.write(conn)
            yield conn
            run(conn, "COMMIT")
        except BaseException:
            _rollback(writer, raw)
            raise
    for ride in rides:
        ride.done = True


def _rollback(writer: _Writer, raw: Any) -> None:
    try:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
    except Exception:
        writer.discard()


@functools.cache
def driver_sql(sql: str, dialect: str) -> str:
    """``sql`` with ``:name`` parameters in the driver's style (SQLite takes them as they are).
    ``sql`` must not contain ``%`` (it would be a placeholder for psycopg)."""
    if "%" in sql:
        raise ValueError("driver_sql statements must not contain '%'")
    if dialect == "postgresql":
        return _PARAM.sub(r"%(\1)s", sql)
    return sql


class Rows:
    """The outcome of one statement run by :func:`run`: its rows (fetched at once) and count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise NoResultFound(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]


def run(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> Rows:
    """Execute ``sql`` (``:name`` parameters) on ``conn``'s driver connection, in its current
    transaction, without SQLAlchemy compiling it or building a result object; driver errors
    become the matching ``sqlalchemy.exc.DBAPIError`` subclass (as ``conn.execute`` raises)."""
    dialect = conn.dialect
    statement = driver_sql(sql, dialect.name)
    raw: Any = conn.connection.driver_connection
    cursor = raw.cursor()
    try:
        cursor.execute(statement, params or {})
        rows = cursor.fetchall() if cursor.description is not None else []
        return Rows(rows, cursor.rowcount)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, params, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    finally:
        cursor.close()
