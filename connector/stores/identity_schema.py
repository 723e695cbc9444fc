"""Migration 3 (identity): seen token ids, the trust list, the credentials we hold."""

from __future__ import annotations


def identity_tables(dialect: str) -> list[str]:
    """``token_replay`` (:mod:`.replay_store`), ``trusted_participants`` (:mod:`.trust_store`),
    ``held_credentials`` (:mod:`.credential_store`)."""
    return [
        "CREATE TABLE token_replay (key TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
        "CREATE INDEX token_replay_expires ON token_replay (expires_at)",
        "CREATE TABLE trusted_participants ("
        " did TEXT PRIMARY KEY,"
        " added_at TEXT NOT NULL,"
        " note TEXT)",
        "CREATE TABLE held_credentials ("
        " id TEXT PRIMARY KEY,"
        " format TEXT NOT NULL,"
        " types TEXT NOT NULL,"
        " issuer TEXT NOT NULL,"
        " subject TEXT,"
        " valid_until TEXT,"
        " added_at TEXT NOT NULL,"
        " body TEXT NOT NULL)",
    ]
