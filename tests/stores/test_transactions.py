"""Write transactions: driver-level SQL, and the SQLite write lock shared by processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from connector.stores.database import create_db_engine
from connector.stores.transactions import (
    carpool,
    driver_sql,
    ride_along,
    run,
    write_transaction,
)


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


# carpools -------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def pool_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with a table ``rides (name)`` on SQLite or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    else:
        engine = create_db_engine(request.getfixturevalue("fresh_postgres_url"))
    with write_transaction(engine) as conn:
        run(conn, "CREATE TABLE rides (name TEXT PRIMARY KEY)")
    yield engine
    engine.dispose()


def _names(engine: Engine) -> list[str]:
    """The committed rows, read on a connection of their own."""
    with engine.connect() as conn:
        return sorted(row[0] for row in run(conn, "SELECT name FROM rides").all())


def _insert(name: str) -> Callable[[Connection], None]:
    def write(conn: Connection) -> None:
        run(conn, "INSERT INTO rides (name) VALUES (:n)", {"n": name})

    return write


def test_without_a_carpool_nothing_rides_along(pool_engine: Engine) -> None:
    assert ride_along(pool_engine, _insert("token")) is False


def test_a_ride_commits_with_the_first_write_transaction(pool_engine: Engine) -> None:
    with carpool():
        assert ride_along(pool_engine, _insert("token")) is True
        assert _names(pool_engine) == []
        with write_transaction(pool_engine) as conn:
            run(conn, "INSERT INTO rides (name) VALUES ('work')")
        assert _names(pool_engine) == ["token", "work"]  # one commit, before the block ends
        with write_transaction(pool_engine) as conn:  # a second transaction does not repeat it
            run(conn, "INSERT INTO rides (name) VALUES ('more')")
    assert _names(pool_engine) == ["more", "token", "work"]


def test_a_rolled_back_ride_is_written_when_the_carpool_ends(pool_engine: Engine) -> None:
    with pytest.raises(RuntimeError), carpool():
        ride_along(pool_engine, _insert("token"))
        with write_transaction(pool_engine) as conn:
            run(conn, "INSERT INTO rides (name) VALUES ('work')")
            raise RuntimeError("the work fails")
    assert _names(pool_engine) == ["token"]  # the work is gone, the ride is not lost


def test_a_ride_without_a_transaction_gets_its_own(pool_engine: Engine) -> None:
    with carpool():
        ride_along(pool_engine, _insert("token"))
    assert _names(pool_engine) == ["token"]


def test_a_failing_ride_fails_the_transaction_it_joined(pool_engine: Engine) -> None:
    with write_transaction(pool_engine) as conn:
        run(conn, "INSERT INTO rides (name) VALUES ('token')")
    with pytest.raises(IntegrityError), carpool():
        ride_along(pool_engine, _insert("token"))  # a duplicate: the ride fails
        with write_transaction(pool_engine) as conn:
            run(conn, "INSERT INTO rides (name) VALUES ('work')")
    assert _names(pool_engine) == ["token"]  # the work was not written


def test_a_failing_ride_replaces_the_blocks_error(pool_engine: Engine) -> None:
    with write_transaction(pool_engine) as conn:
        run(conn, "INSERT INTO rides (name) VALUES ('token')")
    with pytest.raises(IntegrityError) as info, carpool():
        ride_along(pool_engine, _insert("token"))
        raise RuntimeError("the work fails before it writes")
    chain, error = [], info.value.__context__
    while error is not None:
        chain.append(error)
        error = error.__context__
    assert any(isinstance(e, RuntimeError) for e in chain)  # the block's error is kept as context


def test_rides_keep_to_their_engine(tmp_path: Path) -> None:
    engines = [_engine(tmp_path / "a.sqlite"), _engine(tmp_path / "b.sqlite")]
    for engine in engines:
        with write_transaction(engine) as conn:
            run(conn, "CREATE TABLE rides (name TEXT PRIMARY KEY)")
    with carpool():
        ride_along(engines[0], _insert("token"))
        with write_transaction(engines[1]) as conn:
            run(conn, "INSERT INTO rides (name) VALUES ('other')")
        assert _names(engines[0]) == []
    assert _names(engines[0]) == ["token"]
    assert _names(engines[1]) == ["other"]
