"""Every kind of message the control plane sends validates against the official schemas.

The bodies are built by the control plane's own code (``connector.controlplane.outbound``,
the catalogue use case, the ACK bodies of the DSP routes) from the city's real policies.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dsp_vectors import SCHEMA_OF

from connector.clock import FixedClock
from connector.controlplane.catalog import Catalogue
from connector.controlplane.listings import Listings
from connector.controlplane.outbound import negotiation_message, transfer_message
from connector.controlplane.ports import CredentialFact, Facts
from connector.dsp import codec
from connector.dsp.conversion import negotiation_ack, transfer_ack
from connector.model.contract import Agreement
from connector.model.negotiation import Negotiation, NegotiationEvent
from connector.model.process import Role
from connector.model.transfer import DataAddress, Transfer, TransferEvent
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.database import create_db_engine, migrate

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
US = "did:web:daten.hagen.de"
PARTNER = "did:web:partner.example"
CALLBACK = "https://partner.example/api/dsp"

Official = Callable[[str, Any], list[str]]


@pytest.fixture
def catalog_store(tmp_path: Path) -> SqlCatalogStore:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    store = SqlCatalogStore(engine, FixedClock(NOW))
    listings = Listings(store)
    listings.load_policy_folder(ROOT / "policies")
    for path in sorted((ROOT / "policies").glob("*.jsonld")):
        listings.create_dataset(
            {
                "id": f"https://w3id.org/klimakommune/hagen/datasets/{path.stem}",
                "title": path.stem,
                "source": {"type": "file", "path": "x.csv", "mediaType": "text/csv"},
                "policy": path.stem,
            }
        )
    return store


def test_the_demo_catalogue_validates(official: Official, catalog_store: SqlCatalogStore) -> None:
    config = ROOT / "datasets" / "hagen-demo.toml"
    if not config.is_file():
        pytest.skip("no demo datasets config (datasets/hagen-demo.toml)")
    listings = Listings(catalog_store)
    entries = tomllib.loads(config.read_text("utf-8"))["datasets"]
    for entry in entries:
        listings.create_dataset(entry)
    catalogue = Catalogue(catalog_store, FixedClock(NOW), participant_id=US, dsp_url=CALLBACK)
    member = CredentialFact(
        types=("VerifiableCredential", "https://w3id.org/klimakommune/policy#MembershipCredential"),
        issuer="did:web:federation.klimakommune.de",
        subject=PARTNER,
    )  # the partner-only datasets are listed to federation members only
    page = catalogue.page(lambda: Facts(PARTNER, trusted=True, credentials=(member,)), limit=100)
    body = codec.serialize(page.catalog)
    assert official("catalog-schema.json", body) == []
    shown = {d["@id"] for d in body["dataset"]}
    assert {e["id"] for e in entries} <= shown
    assert all("delivery" not in d for d in body["dataset"])


def _check(official: Official, body: dict[str, Any]) -> None:
    schema = SCHEMA_OF[body["@type"]]
    assert official(schema, body) == [], body


def test_catalogue_pages_validate(official: Official, catalog_store: SqlCatalogStore) -> None:
    catalogue = Catalogue(catalog_store, FixedClock(NOW), participant_id=US, dsp_url=CALLBACK)
    page = catalogue.page(lambda: Facts(PARTNER, trusted=False), limit=4)
    assert page.next_after is not None
    body = codec.serialize(page.catalog)
    assert official("catalog-schema.json", body) == []
    one = catalogue.dataset(lambda: Facts(PARTNER, trusted=False), page.catalog.dataset[0].id)  # type: ignore[index]
    assert official("dataset-schema.json", codec.serialize(one)) == []


def test_every_negotiation_message_validates(
    official: Official, catalog_store: SqlCatalogStore
) -> None:
    for dataset in catalog_store.iter_datasets():
        offer = dataset.offers[0]
        consumer = Negotiation.create(
            id="urn:uuid:c",
            role=Role.CONSUMER,
            counterparty_id=US,
            counterparty_address="https://daten.hagen.de/api/dsp",
            dataset_id=dataset.id,
            at=NOW,
            offer=offer,
        )
        _check(
            official,
            dict(
                negotiation_message(consumer, NegotiationEvent.REQUEST, callback_url=CALLBACK).body
            ),
        )
        known = Negotiation.create(
            id="urn:uuid:c",
            role=Role.CONSUMER,
            counterparty_id=US,
            counterparty_address="https://daten.hagen.de/api/dsp",
            dataset_id=dataset.id,
            at=NOW,
            offer=offer,
            counterpart_pid="urn:uuid:p",
        )
        for event in (
            NegotiationEvent.REQUEST,
            NegotiationEvent.ACCEPT,
            NegotiationEvent.VERIFY,
            NegotiationEvent.TERMINATE,
        ):
            message = negotiation_message(known, event, callback_url=CALLBACK, reason="no")
            assert message.url.startswith("https://daten.hagen.de/api/dsp/negotiations/urn:uuid:p")
            _check(official, dict(message.body))
        agreement = Agreement("urn:uuid:a", dataset.id, US, PARTNER, NOW, offer.policy)
        provider = Negotiation.create(
            id="urn:uuid:p",
            role=Role.PROVIDER,
            counterparty_id=PARTNER,
            counterparty_address=CALLBACK,
            dataset_id=dataset.id,
            at=NOW,
            counterpart_pid="urn:uuid:c",
            offer=offer,
        ).receive(NegotiationEvent.REQUEST, at=NOW, offer=offer)
        provider = provider.send(NegotiationEvent.AGREE, agreement=agreement)
        for event in (
            NegotiationEvent.OFFER,
            NegotiationEvent.AGREE,
            NegotiationEvent.FINALIZE,
            NegotiationEvent.TERMINATE,
        ):
            message = negotiation_message(provider, event, callback_url=CALLBACK)
            assert message.url.startswith(CALLBACK + "/negotiations/urn:uuid:c/")
            _check(official, dict(message.body))
        ack = codec.serialize(negotiation_ack(provider))
        assert official("contract-negotiation-schema.json", ack) == []


def test_every_transfer_message_validates(official: Official) -> None:
    address = DataAddress(
        "https://w3id.org/idsa/v4.1/HTTP",
        "https://x.example/data",
        {"authorization": "token", "authType": "bearer"},
    )
    consumer = Transfer.create(
        id="urn:uuid:c",
        role=Role.CONSUMER,
        counterparty_id=US,
        counterparty_address="https://daten.hagen.de/api/dsp",
        agreement_id="urn:uuid:a",
        format="HttpData-PUSH",
        at=NOW,
        data_address=address,
    )
    _check(
        official,
        dict(transfer_message(consumer, TransferEvent.REQUEST, callback_url=CALLBACK).body),
    )
    provider = Transfer.create(
        id="urn:uuid:p",
        role=Role.PROVIDER,
        counterparty_id=PARTNER,
        counterparty_address=CALLBACK,
        agreement_id="urn:uuid:a",
        format="HttpData-PULL",
        at=NOW,
        counterpart_pid="urn:uuid:c",
        data_address=address,
    ).receive(TransferEvent.REQUEST, at=NOW)
    for event in TransferEvent:
        if event is TransferEvent.REQUEST:
            continue
        message = transfer_message(provider, event, callback_url=CALLBACK, reason="why")
        _check(official, dict(message.body))
    assert official("transfer-process-schema.json", codec.serialize(transfer_ack(provider))) == []
