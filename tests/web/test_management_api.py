"""The management API's input checks and how it reports a counterparty's answer.

The counterparty of the catalogue requests is a second connector app served over real HTTP on
loopback (uvicorn in a thread); it knows our DID document (pinned, as a DID host would serve it).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from connector.clock import SystemClock
from connector.credentials.did_web import build_did_document
from connector.identity.tokens import SelfIssuedTokenSource
from connector.model.contract import Agreement
from connector.stores.outbox_store import SqlOutbox
from connector.testing import make_settings, throwaway_keyset
from connector.web.app import create_app

KEY = {"X-Api-Key": "test-management-key"}
CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]
PEER = "did:web:peer.test"
POLICY = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/open",
    "permission": [{"action": "use"}],
}


def _dataset(dataset_id: str) -> dict[str, Any]:
    return {
        "id": dataset_id,
        "title": dataset_id,
        "source": {"type": "http", "url": "https://example.org/data.csv"},
        "policy": POLICY,
        "negotiation": "manual",
    }


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Our connector (in process, its delivery threads not started), allowed to reach
    loopback counterparties."""
    folder = tmp_path_factory.mktemp("ours")
    settings = make_settings(folder, port=8181, allow_private_addresses=["127.0.0.1"])
    client = TestClient(create_app(settings))
    yield client
    client.app.state.runtime.controlplane.close()  # type: ignore[attr-defined]
    client.close()


@pytest.fixture(scope="module")
def counterparty(
    ours: TestClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """``(DSP address, DID)`` of another connector answering over HTTP on loopback."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(make_settings(tmp_path_factory.mktemp("theirs"), port=port))
    document = dict(ours.app.state.runtime.did_document)  # type: ignore[attr-defined]
    document.pop("service", None)  # no credential service to ask: we present no credentials
    app.state.runtime.resolver.pin(document)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the counterparty did not start"
        time.sleep(0.02)
    did = app.state.runtime.did
    yield f"http://127.0.0.1:{port}/api/dsp", did
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def _catalog_request(client: TestClient, address: str, did: str, **extra: Any) -> Any:
    body = {"counterPartyAddress": address, "counterPartyId": did, **extra}
    return client.post("/api/management/catalog/request", headers=KEY, json=body)


# catalogue requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"@id": "x"}, "x", 1, True])
def test_a_filter_that_is_not_an_array_is_a_400(
    ours: TestClient, counterparty: tuple[str, str], value: Any
) -> None:
    response = _catalog_request(ours, *counterparty, filter=value)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["reason"] == "invalid_field"
    assert problem["detail"] == "filter must be an array (DSP CatalogRequestMessage)"
    assert response.headers["content-type"] == "application/problem+json"


def test_the_counterparty_catalogue_is_passed_on(
    ours: TestClient, counterparty: tuple[str, str]
) -> None:
    response = _catalog_request(ours, *counterparty)
    assert response.status_code == 200, response.text
    assert response.json()["@type"] == "Catalog"


def test_a_refusal_by_the_counterparty_is_a_502_with_its_code_and_reason(
    ours: TestClient, counterparty: tuple[str, str]
) -> None:
    response = _catalog_request(ours, *counterparty, filter=[{"dct:title": "x"}])
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["reason"] == "counterparty_error"
    assert problem["title"] == "Bad Gateway"
    assert problem["detail"] == (
        "the counterparty answered 400 (unsupported_filter): catalogue filters are not supported"
    )
    assert problem["counterparty"] == {
        "status": 400,
        "code": "unsupported_filter",
        "reason": ["catalogue filters are not supported"],
    }


def test_a_counterparty_that_cannot_be_reached_is_a_503(ours: TestClient) -> None:
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{closed.getsockname()[1]}/api/dsp"
        response = _catalog_request(ours, address, PEER)
    assert response.status_code == 503, response.text
    assert response.json()["reason"] == "transport"


# list filters -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_negotiations(ours: TestClient) -> tuple[str, str]:
    """``(consumer pid, provider pid)``: one we started (INITIAL: its request is not
    delivered) and one a peer requested from us (REQUESTED, manual)."""
    assert ours.post("/api/management/datasets", headers=KEY, json=_dataset("ds-1")).status_code
    offer_id = ours.get("/api/management/datasets/ds-1", headers=KEY).json()["offers"][0]["@id"]
    started = ours.post(
        "/api/management/negotiations",
        headers=KEY,
        json={
            "counterPartyAddress": "https://unknown.invalid/api/dsp",
            "counterPartyId": "did:web:unknown.invalid",
            "offer": {
                "@id": "urn:uuid:their-offer",
                "target": "their-ds",
                "permission": [{"action": "use"}],
            },
        },
    )
    assert started.status_code == 201, started.text

    keyset = throwaway_keyset(PEER)
    document = build_did_document(keyset)
    document["capabilityInvocation"] = list(document["authentication"])
    runtime = ours.app.state.runtime  # type: ignore[attr-defined]
    runtime.resolver.pin(document)
    tokens = SelfIssuedTokenSource(keyset, SystemClock())
    catalog = ours.post(
        "/api/dsp/catalog/request",
        json={"@context": CTX, "@type": "CatalogRequestMessage"},
        headers={"Authorization": tokens.token_for(runtime.did)},
    ).json()
    (entry,) = [d for d in catalog["dataset"] if d["@id"] == "ds-1"]
    assert entry["hasPolicy"][0]["@id"] == offer_id
    requested = ours.post(
        "/api/dsp/negotiations/request",
        json={
            "@context": CTX,
            "@type": "ContractRequestMessage",
            "consumerPid": "urn:uuid:peer-1",
            "callbackAddress": "https://peer.test/api/dsp",
            "offer": {**entry["hasPolicy"][0], "target": "ds-1"},
        },
        headers={"Authorization": tokens.token_for(runtime.did)},
    )
    assert requested.status_code == 201, requested.text
    return started.json()["id"], requested.json()["providerPid"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "INITIAL"}, "consumer"),
        ({"state": "initial"}, "consumer"),
        ({"state": "requested"}, "provider"),
        ({"state": "Requested"}, "provider"),
        ({"state": "finalized"}, None),
        ({"role": "consumer"}, "consumer"),
        ({"role": "PROVIDER"}, "provider"),
        ({"role": "provider", "state": "requested"}, "provider"),
        ({"role": "provider", "state": "initial"}, None),
    ],
)
def test_state_and_role_filters_take_any_case(
    ours: TestClient, two_negotiations: tuple[str, str], query: dict[str, str], expected: str | None
) -> None:
    consumer, provider = two_negotiations
    response = ours.get("/api/management/negotiations", headers=KEY, params=query)
    assert response.status_code == 200, response.text
    wanted = {"consumer": [consumer], "provider": [provider], None: []}[expected]
    assert [n["id"] for n in response.json()] == wanted


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "BOGUS"}, "state"),
        ({"state": ""}, "state"),
        ({"state": "STARTED"}, "state"),  # a transfer state, not a negotiation's
        ({"role": "x"}, "role"),
        ({"role": "provider", "state": "done"}, "state"),
    ],
)
def test_an_unknown_state_or_role_is_a_400(
    ours: TestClient, two_negotiations: tuple[str, str], query: dict[str, str], field: str
) -> None:
    response = ours.get("/api/management/negotiations", headers=KEY, params=query)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["reason"] == "invalid_field"
    allowed = {
        "state": "INITIAL, REQUESTED, OFFERED, ACCEPTED, AGREED, VERIFIED, FINALIZED, TERMINATED",
        "role": "CONSUMER, PROVIDER",
    }[field]
    assert problem["detail"].startswith(f"{field} must be one of {allowed} (in any case)")


def test_a_message_waiting_for_its_counterparty_shows_how_its_delivery_goes(
    ours: TestClient,
) -> None:
    """A negotiation whose request cannot be delivered stays INITIAL; its view says which
    message waits, how many attempts failed, the last error and when the next one is due."""
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{closed.getsockname()[1]}/api/dsp"
        offer = {"@id": "urn:uuid:o1", "target": "remote", "permission": [{"action": "use"}]}
        started = ours.post(
            "/api/management/negotiations",
            json={"counterPartyAddress": address, "counterPartyId": PEER, "offer": offer},
            headers=KEY,
        )
        assert started.status_code == 201, started.text
        pid = started.json()["id"]
        before = ours.get(f"/api/management/negotiations/{pid}", headers=KEY).json()
        assert before["state"] == "INITIAL"
        assert before["pending"]["message"] == "ContractRequestMessage"
        assert before["pending"]["attempts"] == 0
        runtime = ours.app.state.runtime  # type: ignore[attr-defined]
        # take the message over as if its lease had run out, and try it: connection refused
        later = time.time() + 3600
        (message,) = [
            m for m in SqlOutbox(runtime.engine).lease("test", later) if m.process_id == pid
        ]
        assert runtime.controlplane.runner.deliver(message) is False
        after = ours.get(f"/api/management/negotiations/{pid}", headers=KEY).json()
    assert after["state"] == "INITIAL"
    assert after["pending"]["attempts"] == 1
    assert after["pending"]["lastError"].startswith("transport")
    assert after["pending"]["nextAttemptAt"] is not None
    listed = ours.get("/api/management/negotiations", headers=KEY).json()
    assert all("pending" not in item for item in listed)  # lists read no outbox rows


def test_a_body_that_is_not_json_or_not_an_object_gets_a_clear_400(ours: TestClient) -> None:
    cases = (
        (b'{"a": 1,, }', "application/json", "the body is not valid JSON (at character 8: "),
        (b'{"a": 1}', "text/plain", "the body must be a JSON object (sent as application/json)"),
        (b"[1, 2]", "application/json", "the body must be a JSON object"),
    )
    for body, media_type, expected in cases:
        answer = ours.post(
            "/api/management/negotiations",
            content=body,
            headers={**KEY, "content-type": media_type},
        )
        assert answer.status_code == 400
        assert answer.json()["detail"].startswith(expected), answer.text


def test_transfers_are_filtered_like_negotiations(ours: TestClient) -> None:
    """``GET /transfers`` takes ``state``, ``role`` and ``counterPartyId`` as the negotiation
    list does (any case; 400 for a value that is no transfer state or role)."""
    runtime = ours.app.state.runtime  # type: ignore[attr-defined]
    agreement = Agreement(
        "urn:uuid:a-filters",
        "remote-ds",
        PEER,
        runtime.controlplane.negotiations.own_did,
        dt.datetime.now(dt.UTC),
        {"permission": [{"action": "use"}]},
    )
    with runtime.controlplane.store.transaction() as tx:
        tx.save_agreement(agreement, negotiation_id="urn:uuid:n-filters")
    started = ours.post(
        "/api/management/transfers",
        json={
            "counterPartyAddress": "http://127.0.0.1:9/api/dsp",
            "counterPartyId": PEER,
            "agreementId": agreement.id,
            "format": "HttpData-PULL",
        },
        headers=KEY,
    )
    assert started.status_code == 201, started.text
    ours_id = started.json()["id"]

    def listed(**query: str) -> list[str]:
        found = ours.get("/api/management/transfers", headers=KEY, params=query)
        assert found.status_code == 200, found.text
        return [t["id"] for t in found.json()]

    assert ours_id in listed(state="initial")
    assert ours_id in listed(role="Consumer", counterPartyId=PEER)
    assert ours_id not in listed(state="STARTED")
    assert ours_id not in listed(role="provider")
    assert ours_id not in listed(counterPartyId="did:web:other.test")
    for query in ({"state": "FINALIZED"}, {"role": "broker"}):
        refused = ours.get("/api/management/transfers", headers=KEY, params=query)
        assert refused.status_code == 400, refused.text
