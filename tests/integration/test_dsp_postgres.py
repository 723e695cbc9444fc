"""The negotiation and transfer flows between two real connectors on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from connector.stores.database import create_db_engine

from .dsp_helpers import ENV, add_dataset, did_of, mgmt, negotiate, wait_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema_urls(postgres_url: str) -> Iterator[list[str]]:
    """Two throwaway schemas on the test server, as database URLs."""
    admin = create_db_engine(postgres_url, pool_size=1)
    names = [f"it_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f"CREATE SCHEMA {name}"))
    sep = "&" if "?" in postgres_url else "?"
    try:
        yield [f"{postgres_url}{sep}options=-csearch_path%3D{name}" for name in names]
    finally:
        try:
            with admin.begin() as conn:
                for name in names:
                    conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        finally:
            admin.dispose()


def test_negotiation_and_transfer_on_postgresql(
    schema_urls: list[str], start_connector: Any
) -> None:
    # schema_urls first: its teardown (DROP SCHEMA) runs after the connectors have stopped
    provider = start_connector(
        "provider", CONNECTOR_DATABASE_URL=schema_urls[0], CONNECTOR_LOG_LEVEL="info", **ENV
    ).url
    consumer = start_connector("consumer", CONNECTOR_DATABASE_URL=schema_urls[1], **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "energy")
    add_dataset(provider, "manual", negotiation="manual")
    started = negotiate(consumer, provider, provider_did, "energy")
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    manual = negotiate(consumer, provider, provider_did, "manual")
    waiting = wait_for(consumer, f"/negotiations/{manual['id']}", {"REQUESTED"})
    assert (
        mgmt("POST", provider, f"/negotiations/{waiting['providerPid']}/agree").status_code == 200
    )
    wait_for(consumer, f"/negotiations/{manual['id']}", {"FINALIZED"})
    answer = mgmt(
        "POST",
        consumer,
        "/transfers",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "agreementId": done["agreementId"],
            "format": "HttpData-PULL",
        },
    )
    assert answer.status_code == 201, answer.text
    started_transfer = wait_for(consumer, f"/transfers/{answer.json()['id']}", {"STARTED"})
    assert started_transfer["dataAddress"]["endpoint"].startswith(provider)
