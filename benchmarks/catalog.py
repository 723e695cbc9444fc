"""Time for one catalogue page of 100 datasets, with 1,000 / 10,000 / 100,000 datasets and
per-requester access policies.

Run: ``.venv/bin/python benchmarks/catalog.py``. Builds a SQLite catalogue (the real
``SqlCatalogStore``; rows written in bulk) where every other dataset carries the city's
``partner-only`` access policy and the rest are open, then times
``Catalogue.page`` + serialisation to DSP JSON for a federation member (sees all) and for a
stranger (sees half, so the page reads ~200 rows), at random cursors. Prints p50/p95 per size
and the ratio to the 1,000-dataset time.

Targets (issue 4): p50 <= 25 ms at 100,000, at most 1.5x the time at 1,000.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from connector.clock import SystemClock
from connector.controlplane.catalog import Catalogue
from connector.controlplane.decisions import FEDERATION
from connector.controlplane.listings import Listings
from connector.controlplane.policies import offer_id, offer_rules
from connector.controlplane.ports import CredentialFact, Facts
from connector.dsp.codec import serialize
from connector.model.contract import Offer
from connector.model.dataset import Dataset
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import dump_json
from connector.stores.database import create_db_engine, migrate
from connector.stores.records import dataset_json

ROOT = Path(__file__).resolve().parents[1]
US = "did:web:daten.hagen.de"
MEMBER = Facts(
    "did:web:stadtwerke.example",
    trusted=False,
    credentials=(
        CredentialFact(
            types=("https://w3id.org/klimakommune/policy#MembershipCredential",),
            issuer="did:web:federation.klimakommune.de",
            subject="did:web:stadtwerke.example",
        ),
    ),
)
STRANGER = Facts("did:web:stranger.example", trusted=False)
assert FEDERATION


def _build(folder: Path, count: int) -> Catalogue:
    engine = create_db_engine(f"sqlite:///{folder / f'catalog-{count}.db'}")
    migrate(engine)
    clock = SystemClock()
    store = SqlCatalogStore(engine, clock)
    listings = Listings(store)
    listings.load_policy_folder(ROOT / "policies")
    contract = store.policy("open-data-dl-de-by-2-0")
    access = store.policy("partner-only")
    assert contract is not None and access is not None
    rows = []
    for i in range(count):
        dataset_id = f"https://w3id.org/klimakommune/hagen/datasets/{i:07d}"
        offer = Offer(
            offer_id(dataset_id, contract.hash),
            dataset_id,
            offer_rules(contract.body),
            contract.id,
            contract.hash,
        )
        restricted = i % 2 == 0
        dataset = Dataset(
            id=dataset_id,
            title=f"Messreihe {i}",
            description="Stündliche Messwerte eines Sensors im Stadtgebiet Hagen.",
            offers=(offer,),
            formats=("HttpData-PULL", "HttpData-PUSH"),
            access_policy={"policyId": access.id, "version": access.version, "hash": access.hash}
            if restricted
            else None,
            source={"type": "file", "path": f"sensors/{i}.csv", "mediaType": "text/csv"},
        )
        rows.append(
            {
                "id": dataset_id,
                "h": access.hash if restricted else None,
                "at": "2026-01-01T00:00:00Z",
                "body": dump_json(dataset_json(dataset)),
            }
        )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cp_datasets (id, access_hash, created_at, body)"
                " VALUES (:id, :h, :at, :body)"
            ),
            rows,
        )
    return Catalogue(store, clock, participant_id=US, dsp_url="https://daten.hagen.de/api/dsp")


def _time_pages(catalogue: Catalogue, count: int, facts: Facts, runs: int = 60) -> list[float]:
    rng = random.Random(7)
    times = []
    for _ in range(runs):
        start_at = rng.randrange(0, max(1, count - 300))
        cursor = f"https://w3id.org/klimakommune/hagen/datasets/{start_at:07d}"
        t = time.perf_counter()
        page = catalogue.page(lambda: facts, after=cursor, limit=100)
        json.dumps(serialize(page.catalog))
        times.append(time.perf_counter() - t)
        assert page.catalog.dataset is not None and len(page.catalog.dataset) == 100
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base: dict[str, float] = {}
        for count in (1_000, 10_000, 100_000):
            catalogue = _build(Path(tmp), count)
            for label, facts in (("member", MEMBER), ("stranger", STRANGER)):
                _time_pages(catalogue, count, facts, runs=5)  # warm-up (policy compile)
                times = _time_pages(catalogue, count, facts)
                p50 = statistics.median(times) * 1000
                p95 = sorted(times)[int(0.95 * len(times))] * 1000
                base.setdefault(label, p50)
                print(
                    f"{count:>7} datasets, {label:8}: page of 100 p50 {p50:6.1f} ms, "
                    f"p95 {p95:6.1f} ms, x{p50 / base[label]:.2f} of 1,000"
                )


if __name__ == "__main__":
    main()
