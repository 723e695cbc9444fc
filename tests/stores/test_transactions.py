"""Write transactions: driver-level SQL, and the SQLite write lock shared by processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from connector.stores.database import create_db_engine
from connector.stores.transactions import driver_sql, run, write_transaction


def test_driver_sql_parameter_styles() -> None:
    sql = "SELECT body::text FROM t WHERE id = :id AND x = :x"
    assert driver_sql(sql, "sqlite") == sql
    assert driver_sql(sql, "postgresql") == (
        "SELECT body::text FROM t WHERE id = %(id)s AND x = %(x)s"
    )
    with pytest.raises(ValueError):
        driver_sql("SELECT 1 WHERE a LIKE 'x%'", "postgresql")


def _engine(path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{path}")
    with write_transaction(engine) as conn:
        run(conn, "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, v INTEGER)")
        run(conn, "INSERT OR IGNORE INTO counter (id, v) VALUES (1, 0)")
    return engine


def test_a_failed_transaction_is_rolled_back_and_the_connection_reused(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "db.sqlite")
    with pytest.raises(IntegrityError), write_transaction(engine) as conn:
        run(conn, "UPDATE counter SET v = 5 WHERE id = 1")
        run(conn, "INSERT INTO counter (id, v) VALUES (1, 9)")  # duplicate key
    with write_transaction(engine) as conn:
        assert run(conn, "SELECT v FROM counter WHERE id = 1").scalar_one() == 0
    engine.dispose()


def _bump(path: str, times: int) -> None:
    engine = create_db_engine(f"sqlite:///{path}")
    for _ in range(times):
        with write_transaction(engine) as conn:
            value = run(conn, "SELECT v FROM counter WHERE id = 1").scalar_one()
            run(conn, "UPDATE counter SET v = :v WHERE id = 1", {"v": value + 1})
    engine.dispose()


def test_processes_take_turns_and_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    engine = _engine(path)
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_bump, args=(str(path), 150)) for _ in range(3)]
    for worker in workers:
        worker.start()
    _bump(str(path), 150)
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with write_transaction(engine) as conn:
        assert run(conn, "SELECT v FROM counter WHERE id = 1").scalar_one() == 600
    engine.dispose()


def test_the_lock_file_is_held_during_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    engine = _engine(path)
    lock_file = os.open(f"{path}.writer-lock", os.O_RDWR)
    try:
        # another open file of the lock (as another process has) is refused meanwhile
        with write_transaction(engine), pytest.raises(BlockingIOError):
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
        fcntl.flock(lock_file, fcntl.LOCK_UN)
    finally:
        os.close(lock_file)
    engine.dispose()
