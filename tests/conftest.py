from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONNECTOR_* variable of the developer's shell leaks into a test (except the PG URL)."""
    for name in list(os.environ):
        if name.startswith("CONNECTOR_") and name != "CONNECTOR_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.skip(
            f"reference vectors not found at {VECTORS} (../shared/vectors beside the checkout)"
        )
    return VECTORS


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("CONNECTOR_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (run the suite with 'make test', which starts one)")
    yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards (for schema-level tests)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    base, _, _ = postgres_url.rpartition("/")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
