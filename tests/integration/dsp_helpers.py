"""Helpers for the DSP integration tests: two real connectors, management calls, polling."""

from __future__ import annotations

import time
from typing import Any

import httpx

KEY = {"X-Api-Key": "it-management-key"}
ENV = {
    "CONNECTOR_ALLOW_INSECURE_DID_WEB": "true",
    "CONNECTOR_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1",
}
OPEN_POLICY: dict[str, Any] = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/open",
    "permission": [{"action": "use"}],
}


def did_of(url: str) -> str:
    """The connector's DID, from its did:web document."""
    doc = httpx.get(url + "/.well-known/did.json", timeout=5).json()
    did: str = doc["id"]
    return did


def mgmt(method: str, url: str, path: str, body: Any = None) -> httpx.Response:
    """A management API call."""
    return httpx.request(method, url + "/api/management" + path, json=body, headers=KEY, timeout=10)


def wait_for(url: str, path: str, states: set[str], *, timeout: float = 20.0) -> dict[str, Any]:
    """Poll a management resource until its ``state`` is one of ``states``."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = mgmt("GET", url, path).json()
        if last.get("state") in states:
            return last
        time.sleep(0.02)
    raise AssertionError(f"{path} stayed {last.get('state')}: {last}")


def add_dataset(
    url: str,
    dataset_id: str,
    *,
    negotiation: str = "auto",
    transfer: str = "auto",
    policy: Any = None,
    access: Any = None,
) -> None:
    """Add a dataset to a connector's catalogue."""
    body: dict[str, Any] = {
        "id": dataset_id,
        "title": f"Dataset {dataset_id}",
        "source": {"type": "http", "url": "https://example.org/data.csv"},
        "policy": policy if policy is not None else OPEN_POLICY,
        "negotiation": negotiation,
        "transfer": transfer,
    }
    if access is not None:
        body["accessPolicy"] = access
    response = mgmt("POST", url, "/datasets", body)
    assert response.status_code == 201, response.text


def offer_for(consumer: str, provider: str, provider_did: str, dataset_id: str) -> dict[str, Any]:
    """The offer of ``dataset_id`` from the provider's catalogue, fetched by the consumer."""
    response = mgmt(
        "POST",
        consumer,
        "/catalog/request",
        {"counterPartyAddress": provider + "/api/dsp", "counterPartyId": provider_did},
    )
    assert response.status_code == 200, response.text
    for dataset in response.json().get("dataset", []):
        if dataset["@id"] == dataset_id:
            offer: dict[str, Any] = dict(dataset["hasPolicy"][0])
            offer["target"] = dataset_id
            return offer
    raise AssertionError(f"{dataset_id} not in the catalogue: {response.text}")


def dsp_as(participant: Any, participant_url: str, audience_did: str) -> Any:
    """A function ``(method, url, body) -> response`` that calls DSP endpoints authenticated
    as ``participant`` (a started connector: its own keys sign the self-issued tokens)."""
    from connector.clock import SystemClock
    from connector.identity.keystore import load_keys
    from connector.identity.tokens import SelfIssuedTokenSource

    keyset = load_keys(participant.data_dir / "keys", did_of(participant_url))
    tokens = SelfIssuedTokenSource(keyset, SystemClock())

    def call(method: str, url: str, body: Any = None) -> httpx.Response:
        headers = {"authorization": tokens.token_for(audience_did)}
        return httpx.request(method, url, json=body, headers=headers, timeout=10)

    return call


def negotiate(consumer: str, provider: str, provider_did: str, dataset_id: str) -> dict[str, Any]:
    """Start a negotiation from ``consumer`` for ``dataset_id``; returns the 201 body."""
    offer = offer_for(consumer, provider, provider_did, dataset_id)
    started = mgmt(
        "POST",
        consumer,
        "/negotiations",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "offer": offer,
        },
    )
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body
