"""Fixtures for the data plane tests: demo data, a migrated database, a memory counter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connector.stores.database import create_db_engine, migrate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of Hagen demo data (``connector demo --days 2``)."""
    data = tmp_path_factory.mktemp("data")
    out = data / "demo"
    subprocess.run(
        [sys.executable, "-m", "connector.cli", "demo", "--days", "2", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database."""
    db = create_db_engine(f"sqlite:///{tmp_path / 'connector.db'}")
    migrate(db)
    yield db
    db.dispose()


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at the given offsets."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


Splitter = Callable[[bytes, list[int]], list[bytes]]
