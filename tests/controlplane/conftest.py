"""A control plane on a real SQLite database with a fixed clock, for the use-case tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.clock import FixedClock
from connector.controlplane.catalog import Catalogue
from connector.controlplane.listings import Listings
from connector.controlplane.negotiations import Negotiations
from connector.controlplane.ports import Caller, Facts
from connector.controlplane.transfers import Transfers
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.stores.database import create_db_engine, migrate
from connector.stores.outbox_store import SqlOutbox
from connector.stores.process_queries import SqlProcessQueries

ROOT = Path(__file__).resolve().parents[2]
US = "did:web:daten.hagen.de"
PARTNER = "did:web:partner.example"
STRANGER = "did:web:stranger.example"
CALLBACK = "https://partner.example/api/dsp"
OPEN_POLICY: dict[str, Any] = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/open",
    "permission": [{"action": "use"}],
}


@dataclass
class Plane:
    clock: FixedClock
    store: SqlControlPlaneStore
    catalog: SqlCatalogStore
    outbox: SqlOutbox
    queries: SqlProcessQueries
    listings: Listings
    catalogue: Catalogue
    negotiations: Negotiations
    transfers: Transfers


@pytest.fixture
def plane(tmp_path: Path) -> Plane:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'cp.db'}")
    migrate(engine)
    clock = FixedClock("2026-03-01T08:00:00Z")
    store = SqlControlPlaneStore(engine, clock)
    catalog = SqlCatalogStore(engine, clock)
    listings = Listings(catalog)
    listings.load_policy_folder(ROOT / "policies")
    counter = iter(range(1, 10_000))
    return Plane(
        clock=clock,
        store=store,
        catalog=catalog,
        outbox=SqlOutbox(engine),
        queries=SqlProcessQueries(engine),
        listings=listings,
        catalogue=Catalogue(catalog, clock, participant_id=US, dsp_url="https://us/api/dsp"),
        negotiations=Negotiations(
            store,
            clock,
            catalog,
            own_did=US,
            callback_url="https://us/api/dsp",
            ids=lambda: f"urn:uuid:id-{next(counter)}",
        ),
        transfers=Transfers(
            store, clock, catalog, None, own_did=US, callback_url="https://us/api/dsp"
        ),
    )


def caller(did: str = PARTNER) -> Caller:
    return Caller(did=did)


def facts_of(did: str = PARTNER, **kwargs: Any) -> Any:
    return lambda: Facts(did, **{"trusted": False, **kwargs})


def dataset(plane: Plane, dataset_id: str = "energy", **extra: Any) -> Any:
    body = {
        "id": dataset_id,
        "title": "Energie",
        "source": {"type": "file", "path": "energy.csv", "mediaType": "text/csv"},
        "policy": OPEN_POLICY,
        **extra,
    }
    return plane.listings.create_dataset(body)
