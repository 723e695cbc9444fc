"""The replay store: one use per token id, shared by replicas on one database, expiry cleanup."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connector.errors import Unauthorized
from connector.identity.replay import MemoryReplayStore
from connector.identity.tokens import SelfIssuedAuthenticator
from connector.stores.database import create_db_engine, migrate
from connector.stores.replay_store import SqlReplayStore
from connector.testing import FixedClock

from .conftest import PROVIDER, World

NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


def test_sql_store_remembers_once(engine: Engine) -> None:
    store = SqlReplayStore(engine, FixedClock(NOW))
    until = NOW + dt.timedelta(minutes=5)
    assert store.remember("a", until) is True
    assert store.remember("a", until) is False
    assert store.remember("b", until) is True


def test_an_expired_record_no_longer_blocks_and_is_cleaned_up(engine: Engine) -> None:
    clock = FixedClock(NOW)
    store = SqlReplayStore(engine, clock, cleanup_interval_seconds=60)
    store.remember("old", NOW + dt.timedelta(seconds=30))
    store.remember("live", NOW + dt.timedelta(minutes=10))
    clock.advance(61)
    assert store.remember("other", NOW + dt.timedelta(minutes=10)) is True
    assert store.count() == 2  # "old" was deleted by the periodic cleanup
    assert store.remember("old", NOW + dt.timedelta(minutes=10)) is True


def test_a_replay_is_caught_across_two_replicas_on_one_database(
    world: World, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [create_db_engine(url), create_db_engine(url)]
    migrate(engines[0])
    replicas = [
        SelfIssuedAuthenticator(
            world.resolver, PROVIDER, SqlReplayStore(engine, world.clock), world.clock
        )
        for engine in engines
    ]
    header = world.source().token_for(PROVIDER)
    replicas[0].authenticate(header)
    with pytest.raises(Unauthorized) as info:
        replicas[1].authenticate(header)
    assert info.value.reason == "replayed_jti"


def test_concurrent_replicas_accept_a_token_id_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    engines = [create_db_engine(url) for _ in range(4)]
    migrate(engines[0])
    stores = [SqlReplayStore(e, FixedClock(NOW)) for e in engines]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def race(store: SqlReplayStore) -> None:
        barrier.wait()
        results.append(store.remember("contested", NOW + dt.timedelta(minutes=5)))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


@pytest.mark.postgres
def test_postgres_replicas_share_the_store(postgres_url: str) -> None:
    engines = [create_db_engine(postgres_url), create_db_engine(postgres_url)]
    migrate(engines[0])
    key = f"pg-{NOW.timestamp()}-{id(engines)}"
    first, second = (SqlReplayStore(e, FixedClock(NOW)) for e in engines)
    assert first.remember(key, NOW + dt.timedelta(minutes=5)) is True
    assert second.remember(key, NOW + dt.timedelta(minutes=5)) is False
    first.cleanup(int((NOW + dt.timedelta(minutes=6)).timestamp()))
    assert second.remember(key, NOW + dt.timedelta(minutes=5)) is True
    for engine in engines:
        engine.dispose()


def test_memory_store_expires_and_fails_closed_when_full() -> None:
    clock = FixedClock(NOW)
    store = MemoryReplayStore(clock, max_entries=2)
    assert store.remember("a", NOW + dt.timedelta(seconds=10))
    assert not store.remember("a", NOW + dt.timedelta(seconds=10))
    assert store.remember("b", NOW + dt.timedelta(minutes=10))
    assert not store.remember("c", NOW + dt.timedelta(minutes=10))  # full of live ids
    clock.advance(11)
    assert store.remember("c", NOW + dt.timedelta(minutes=10))  # "a" expired and dropped
    assert len(store) == 2
