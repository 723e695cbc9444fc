"""DSP catalogue paging: ``limit`` from 1 to 500; anything else malformed is a 400 CatalogError,
a larger one is served as 500 (and the page links say so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from connector.clock import SystemClock
from connector.controlplane.catalog import MAX_PAGE
from connector.credentials.did_web import build_did_document
from connector.identity.tokens import SelfIssuedTokenSource
from connector.testing import make_settings, throwaway_keyset
from connector.web.app import create_app

PEER = "did:web:peer.test"
KEY = {"X-Api-Key": "test-management-key"}
REQUEST = {
    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
    "@type": "CatalogRequestMessage",
}
IDS = ["page-a", "page-b", "page-c"]


class Peer:
    def __init__(self, client: TestClient, tokens: SelfIssuedTokenSource, own: str) -> None:
        self.client = client
        self.tokens = tokens
        self.own = own

    def catalog(self, query: str) -> httpx.Response:
        return self.client.post(
            f"/api/dsp/catalog/request{query}",
            json=REQUEST,
            headers={"Authorization": self.tokens.token_for(self.own)},
        )


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    folder: Path = tmp_path_factory.mktemp("paging")
    client = TestClient(create_app(make_settings(folder, port=8181)))
    keyset = throwaway_keyset(PEER)
    document = build_did_document(keyset)
    document["capabilityInvocation"] = list(document["authentication"])
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.resolver.pin(document)
    for dataset_id in IDS:
        created = client.post(
            "/api/management/datasets",
            headers=KEY,
            json={
                "id": dataset_id,
                "title": dataset_id,
                "source": {"type": "http", "url": "https://example.org/data.csv"},
                "policy": {
                    "@context": "http://www.w3.org/ns/odrl.jsonld",
                    "@type": "Set",
                    "uid": "https://example.org/policies/open",
                    "permission": [{"action": "use"}],
                },
            },
        )
        assert created.status_code == 201, created.text
    yield Peer(client, SelfIssuedTokenSource(keyset, SystemClock()), runtime.did)
    runtime.controlplane.close()
    client.close()


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "", "1.5"])
def test_a_limit_that_is_not_a_positive_integer_is_a_400(peer: Peer, limit: str) -> None:
    response = peer.catalog(f"?limit={limit}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["@type"] == "CatalogError"
    assert body["code"] == "invalid_field"
    assert body["reason"] == [f"limit must be an integer from 1 to {MAX_PAGE}"]


def test_the_next_link_keeps_a_valid_limit(peer: Peer) -> None:
    response = peer.catalog("?limit=1")
    assert response.status_code == 200, response.text
    assert len(response.json()["dataset"]) == 1
    assert response.links["next"]["url"].endswith("&limit=1")


def test_a_limit_over_the_maximum_is_served_as_the_maximum(peer: Peer) -> None:
    response = peer.catalog(f"?after={IDS[0]}&limit={MAX_PAGE * 20}")
    assert response.status_code == 200, response.text
    shown = [d["@id"] for d in response.json()["dataset"]]
    assert shown[:2] == IDS[1:]
    previous = response.links["previous"]["url"]
    assert previous.endswith(f"&limit={MAX_PAGE}")
