"""Seen ``jti`` values of self-issued ID tokens, in SQL, shared by every replica.

One row per (issuer, ``jti``) key until the token's expiry. :meth:`SqlReplayStore.remember`
is a single ``INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`` statement, so two
replicas receiving the same token at once cannot both accept it: the database's unique key
decides (SQLite ≥ 3.35 and PostgreSQL). Expired rows are deleted at most every
``cleanup_interval_seconds``.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from connector.clock import Clock
from connector.errors import Unavailable
from connector.stores.transactions import run, write_transaction

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
        """Record ``jti`` until ``expires_at``; ``False`` if a live record exists (a replay)."""
        now = int(self._clock.now().timestamp())
        until = int(expires_at.timestamp())
        try:
            with write_transaction(self._engine) as conn:
                accepted = run(conn, _REMEMBER, {"k": jti, "u": until, "now": now}).first()
            self._maybe_cleanup(now)
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"replay store unavailable: {exc.__class__.__name__}", reason="database"
            ) from exc
        return accepted is not None

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
