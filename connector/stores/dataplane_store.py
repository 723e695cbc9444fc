"""The data plane's tables: pull tokens (hashed) and access counts, shared by replicas.

* ``dataplane_tokens`` — one row per token: its SHA-256 (never the token), the transfer,
  agreement, consumer DID and dataset it is bound to, issue/expiry/revocation times.
  Revocation is a row update, so every replica refuses the token on its next request.
* ``dataplane_access_counts`` — accesses per agreement. :meth:`SqlAccessCounter.admit` reads,
  decides and increments under the row lock (PostgreSQL ``SELECT … FOR UPDATE``; SQLite
  ``BEGIN IMMEDIATE``), so two replicas cannot both grant the last allowed access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import Unavailable
from connector.stores.transactions import write_transaction


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def _at(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def dataplane_tables(dialect: str) -> list[str]:
    """Migration 5: the data plane's tables."""
    count = "BIGINT" if dialect == "postgresql" else "INTEGER"
    return [
        "CREATE TABLE dataplane_tokens ("
        " token_hash TEXT PRIMARY KEY,"
        " transfer_id TEXT NOT NULL,"
        " agreement_id TEXT NOT NULL,"
        " consumer_did TEXT NOT NULL,"
        " dataset_id TEXT NOT NULL,"
        " issued_at TEXT NOT NULL,"
        " expires_at TEXT NOT NULL,"
        " revoked_at TEXT)",
        "CREATE INDEX dataplane_tokens_transfer ON dataplane_tokens (transfer_id)",
        "CREATE TABLE dataplane_access_counts ("
        " agreement_id TEXT PRIMARY KEY,"
        f" count {count} NOT NULL)",
    ]


class SqlTokenStore:
    """:class:`connector.dataplane.tokens.TokenStore` on SQL (grants as mappings)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, token_hash: str, grant: Mapping[str, Any]) -> None:
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    text(
                        "INSERT INTO dataplane_tokens (token_hash, transfer_id, agreement_id,"
                        " consumer_did, dataset_id, issued_at, expires_at, revoked_at)"
                        " VALUES (:h, :t, :a, :c, :d, :i, :e, NULL)"
                    ),
                    {
                        "h": token_hash,
                        "t": grant["transfer_id"],
                        "a": grant["agreement_id"],
                        "c": grant["consumer_did"],
                        "d": grant["dataset_id"],
                        "i": _iso(grant["issued_at"]),
                        "e": _iso(grant["expires_at"]),
                    },
                )
        except SQLAlchemyError as exc:
            raise Unavailable("token store not writable", reason="database") from exc

    def find(self, token_hash: str) -> tuple[str, dict[str, Any]] | None:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT token_hash, transfer_id, agreement_id, consumer_did, dataset_id,"
                        " issued_at, expires_at, revoked_at FROM dataplane_tokens"
                        " WHERE token_hash = :h"
                    ),
                    {"h": token_hash},
                ).first()
        except SQLAlchemyError as exc:
            raise Unavailable("token store not readable", reason="database") from exc
        if row is None:
            return None
        return row[0], {
            "transfer_id": row[1],
            "agreement_id": row[2],
            "consumer_did": row[3],
            "dataset_id": row[4],
            "issued_at": _at(row[5]),
            "expires_at": _at(row[6]),
            "revoked_at": _at(row[7]),
        }

    def revoke_transfer(self, transfer_id: str, at: dt.datetime) -> int:
        try:
            with write_transaction(self.engine) as conn:
                result = conn.execute(
                    text(
                        "UPDATE dataplane_tokens SET revoked_at = :at"
                        " WHERE transfer_id = :t AND revoked_at IS NULL"
                    ),
                    {"at": _iso(at), "t": transfer_id},
                )
                return int(result.rowcount or 0)
        except SQLAlchemyError as exc:
            raise Unavailable("token store not writable", reason="database") from exc

    def revoke(self, token_hash: str, at: dt.datetime) -> None:
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    text(
                        "UPDATE dataplane_tokens SET revoked_at = :at"
                        " WHERE token_hash = :h AND revoked_at IS NULL"
                    ),
                    {"at": _iso(at), "h": token_hash},
                )
        except SQLAlchemyError as exc:
            raise Unavailable("token store not writable", reason="database") from exc


class SqlAccessCounter:
    """:class:`connector.dataplane.enforcement.AccessCounter` on SQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """The counter's transaction: it holds the write lock from its start (SQLite), like
        every writer (:func:`write_transaction`), or locks the counter row (PostgreSQL)."""
        with write_transaction(self.engine) as conn:
            yield conn

    def admit(self, agreement_id: str, decide: Callable[[int], bool]) -> tuple[bool, int]:
        insert = (
            "INSERT INTO dataplane_access_counts (agreement_id, count) VALUES (:a, 0)"
            " ON CONFLICT (agreement_id) DO NOTHING"
        )
        select = "SELECT count FROM dataplane_access_counts WHERE agreement_id = :a"
        if self._postgres:
            select += " FOR UPDATE"
        try:
            with self._locked() as conn:
                conn.execute(text(insert), {"a": agreement_id})
                prior = int(conn.execute(text(select), {"a": agreement_id}).scalar_one())
                allowed = decide(prior)
                if allowed:
                    conn.execute(
                        text(
                            "UPDATE dataplane_access_counts SET count = count + 1"
                            " WHERE agreement_id = :a"
                        ),
                        {"a": agreement_id},
                    )
                return allowed, prior
        except SQLAlchemyError as exc:
            raise Unavailable("access counter not available", reason="database") from exc

    def count(self, agreement_id: str) -> int:
        """Accesses granted so far under an agreement."""
        with self.engine.connect() as conn:
            value = conn.execute(
                text("SELECT count FROM dataplane_access_counts WHERE agreement_id = :a"),
                {"a": agreement_id},
            ).scalar()
        return int(value or 0)
