from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from connector.errors import Invalid, Unavailable
from connector.stores.database import create_db_engine, migrate, normalise_url, ping
from connector.stores.migrations import MIGRATIONS


def test_url_normalisation() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(Invalid):
        normalise_url("mysql://u@h/db")


def test_sqlite_migrates_once(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'sub' / 'c.db'}")
    assert migrate(engine) == [m.name for m in MIGRATIONS]
    assert migrate(engine) == []
    ping(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 5000


def test_ping_fails_on_unmigrated_database(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(Unavailable):
        ping(engine)


@pytest.mark.postgres
def test_postgres_concurrent_migration_is_safe(fresh_postgres_url: str) -> None:
    engines = [create_db_engine(fresh_postgres_url) for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results.append(migrate(engines[i]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(len(r) for r in results) == [0, 0, 0, len(MIGRATIONS)]
        ping(engines[0])
    finally:
        for engine in engines:
            engine.dispose()
