"""Seen ``jti`` values of self-issued ID tokens, in SQL, shared by every replica.

One row per (issuer, ``jti``) key until the token's expiry. :meth:`SqlReplayStore.remember`
is a single ``INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`` statement, so two
replicas receiving the same token at once cannot both accept it: the database's unique key
decides (SQLite ≥ 3.35 and PostgreSQL). Expired rows are deleted at most every
``cleanup_interval_seconds``.

Inside a :func:`connector.stores.transactions.carpool` (the DSP endpoints open one around a
message's authentication and its work) the record joins the first write transaction of the
work instead of taking one of its own: it commits with the message's state change, and a
replay is refused there (``Unauthorized``, reason ``replayed_jti``) before anything else is
written. Work that writes nothing, or fails, has the record written when the carpool ends.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from connector.clock import Clock
from connector.errors import Unauthorized, Unavailable
from connector.stores.transactions import ride_along, run, write_transaction

_meta = MetaData()
replay_table = Table(
    "token_replay",
    _meta,
    Column("key", String, primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)


_REMEMBER = (
    "INSERT INTO token_replay (key, expires_at) VALUES (:k, :u) ON CONFLICT (key)"
    " DO UPDATE SET expires_at = excluded.expires_at WHERE token_replay.expires_at < :now"
    " RETURNING key"
)


class SqlReplayStore:
    """A :class:`~connector.identity.tokens.ReplayStore` on the connector database."""

    def __init__(
        self, engine: Engine, clock: Clock, *, cleanup_interval_seconds: float = 60.0
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._interval = cleanup_interval_seconds
        self._next_cleanup = clock.monotonic()
        self._lock = threading.Lock()

    def remember(self, jti: str, expires_at: dt.datetime) -> bool:
        """Record ``jti`` until ``expires_at``; ``False`` if a live record exists (a replay).

        Inside a carpool the record joins the caller's next write transaction and this returns
        ``True`` at once; a replay then fails that transaction with ``Unauthorized``."""
        now = int(self._clock.now().timestamp())
        params = {"k": jti, "u": int(expires_at.timestamp()), "now": now}
        if ride_along(self._engine, lambda conn: self._insist(conn, params)):
            self._maybe_cleanup(now)
            return True
        try:
            with write_transaction(self._engine) as conn:
                accepted = run(conn, _REMEMBER, params).first()
            self._maybe_cleanup(now)
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"replay store unavailable: {exc.__class__.__name__}", reason="database"
            ) from exc
        return accepted is not None

    @staticmethod
    def _insist(conn: Connection, params: dict[str, object]) -> None:
        """The record as a carpool ride: a replay fails the transaction it joined."""
        if run(conn, _REMEMBER, params).first() is None:
            raise Unauthorized("the token was used before", reason="replayed_jti")

    def _maybe_cleanup(self, now: int) -> None:
        with self._lock:
            if self._clock.monotonic() < self._next_cleanup:
                return
            self._next_cleanup = self._clock.monotonic() + self._interval
        self.cleanup(now)

    def cleanup(self, now: int | None = None) -> int:
        """Delete the records that expired before ``now`` (default: the clock); their count."""
        cutoff = int(self._clock.now().timestamp()) if now is None else now
        with write_transaction(self._engine) as conn:
            return conn.execute(
                delete(replay_table).where(replay_table.c.expires_at < cutoff)
            ).rowcount

    def count(self) -> int:
        """How many records are kept (live or not yet cleaned up)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(replay_table)).scalar_one())
