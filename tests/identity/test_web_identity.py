"""The identity surfaces of the app: our Credential Service, the trust list API, the DID document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connector.audit.query import AuditQuery
from connector.audit.vocabulary import EventType
from connector.clock import SystemClock
from connector.credentials.jsonld import default_loader
from connector.credentials.status_list import Bitstring
from connector.credentials.verifier import Verifier
from connector.identity.credential_service import DCP_CONTEXT
from connector.identity.issuance import IssuedRegistry
from connector.identity.membership import describe, membership_credential, secure
from connector.identity.scopes import MEMBERSHIP_SCOPE
from connector.identity.tokens import SelfIssuedTokenSource
from connector.testing import make_settings, throwaway_keyset
from connector.web.app import create_app

from .conftest import did_document

KEY = {"X-Api-Key": "test-management-key"}
PEER = "did:web:peer.test"
CONFIGURED = "did:web:configured.test"
QUERY = {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": [MEMBERSHIP_SCOPE]}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = make_settings(tmp_path, port=8181, trusted_participants=[CONFIGURED])
    return TestClient(create_app(settings))


def _runtime(client: TestClient) -> Any:
    return client.app.state.runtime  # type: ignore[attr-defined]


def _auth_reasons(client: TestClient) -> list[Any]:
    events = _runtime(client).audit.query(AuditQuery(type=EventType.AUTH_FAILED), limit=50)
    return [e.details.get("reason") for e in events]


@pytest.fixture
def peer(client: TestClient) -> SelfIssuedTokenSource:
    keyset = throwaway_keyset(PEER)
    _runtime(client).resolver.pin(did_document(keyset))
    return SelfIssuedTokenSource(keyset, SystemClock())


def _query_header(client: TestClient, peer: SelfIssuedTokenSource) -> str:
    """What a verifier sends: its ID token carrying the access token we granted it."""
    runtime = _runtime(client)
    access = runtime.token_source.access_token(PEER, [MEMBERSHIP_SCOPE])
    return "Bearer " + peer.issue(runtime.did, token=access)


def test_did_document_lists_the_credential_service(client: TestClient) -> None:
    document = client.get("/.well-known/did.json").json()
    service = [s for s in document["service"] if s["type"] == "CredentialService"]
    assert service == [
        {
            "id": document["id"] + "#credential-service",
            "type": "CredentialService",
            "serviceEndpoint": "http://127.0.0.1:8181/api/dcp",
        }
    ]
    assert document["capabilityInvocation"] == document["authentication"]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_token"),
        ("Bearer x.y.z", "malformed_jwt"),
        ("Basic abc", "malformed_authorization"),
    ],
)
def test_query_without_valid_token_is_401_generic_and_audited(
    client: TestClient, header: str | None, reason: str
) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/dcp/presentations/query", json=QUERY, headers=headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid_token"
    assert response.json()["detail"] == "authentication failed"
    assert reason in _auth_reasons(client)


def test_query_returns_our_membership_for_the_verifier(
    client: TestClient, peer: SelfIssuedTokenSource
) -> None:
    runtime = _runtime(client)
    authority = throwaway_keyset("did:web:authority.test")
    runtime.resolver.pin(did_document(authority))
    now = runtime.clock.now()
    credential = secure(
        membership_credential(issuer=authority.did, subject=runtime.did, issued_at=now),
        keyset=authority,
        loader=default_loader(),
        fmt="vc+jwt",
        now=now,
    )
    d = describe(credential)
    runtime.identity.credentials.add(
        id=d.id, format=d.format, types=d.types, issuer=d.issuer, subject=d.subject,
        valid_until=d.valid_until, body=d.body,
    )  # fmt: skip
    response = client.post(
        "/api/dcp/presentations/query",
        json=QUERY,
        headers={"Authorization": _query_header(client, peer)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "PresentationResponseMessage"
    (presentation,) = body["presentation"]
    verifier = Verifier(resolver=runtime.resolver, loader=default_loader(), clock=runtime.clock)
    verified = verifier.verify_presentation(presentation, audience=PEER)
    assert verified.issuer == runtime.did
    assert verified.credentials[0].issuer == authority.did


def test_a_replayed_query_token_is_refused(client: TestClient, peer: SelfIssuedTokenSource) -> None:
    header = {"Authorization": _query_header(client, peer)}
    assert (
        client.post("/api/dcp/presentations/query", json=QUERY, headers=header).status_code == 200
    )
    again = client.post("/api/dcp/presentations/query", json=QUERY, headers=header)
    assert again.status_code == 401
    assert "replayed_jti" in _auth_reasons(client)


def test_query_without_access_token_is_refused(
    client: TestClient, peer: SelfIssuedTokenSource
) -> None:
    header = {"Authorization": "Bearer " + peer.issue(_runtime(client).did)}
    response = client.post("/api/dcp/presentations/query", json=QUERY, headers=header)
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid_token"
    assert "no_access_token" in _auth_reasons(client)


def test_trust_list_api(client: TestClient) -> None:
    path = "/api/management/trust/participants"
    assert client.get(path).status_code == 401
    listed = client.get(path, headers=KEY).json()["participants"]
    assert listed == [{"did": CONFIGURED, "source": "configuration"}]
    added = client.post(path, json={"did": PEER, "note": "pilot"}, headers=KEY)
    assert added.status_code == 201
    assert client.post(path, json={"did": PEER}, headers=KEY).status_code == 200
    assert client.post(path, json={"did": "not a did"}, headers=KEY).status_code == 400
    entries = client.get(path, headers=KEY).json()["participants"]
    assert [e["did"] for e in entries] == [CONFIGURED, PEER]
    assert entries[1]["note"] == "pilot"
    assert _runtime(client).identity.trust_list.contains(PEER)
    assert client.delete(f"{path}/{CONFIGURED}", headers=KEY).status_code == 409
    assert client.delete(f"{path}/{PEER}", headers=KEY).status_code == 204
    assert client.delete(f"{path}/{PEER}", headers=KEY).status_code == 404
    assert not _runtime(client).identity.trust_list.contains(PEER)
    changes = _runtime(client).audit.query(AuditQuery(type=EventType.TRUST_LIST_CHANGED))
    assert [e.details["change"] for e in changes] == ["added", "removed"]


def test_a_presentation_definition_is_answered_501(
    client: TestClient, peer: SelfIssuedTokenSource
) -> None:
    query = {**QUERY, "presentationDefinition": {"id": "pd-1", "input_descriptors": []}}
    response = client.post(
        "/api/dcp/presentations/query",
        json=query,
        headers={"Authorization": _query_header(client, peer)},
    )
    assert response.status_code == 501, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 501
    assert body["title"] == "Not Implemented"
    assert body["reason"] == "presentation_definition_not_supported"
    # unauthenticated callers learn nothing about what we support
    anonymous = client.post("/api/dcp/presentations/query", json=query)
    assert anonymous.status_code == 401


def test_issued_status_list_is_served(client: TestClient) -> None:
    runtime = _runtime(client)
    assert client.get("/credentials/status/1").status_code == 404
    registry = IssuedRegistry.in_data_dir(runtime.settings.data_dir, runtime.settings.base_url)
    now = runtime.clock.now()
    registry.register("urn:uuid:one", subject=PEER, credential_type="MembershipCredential",
                      valid_from=now, valid_until=None)  # fmt: skip
    registry.set_revoked("urn:uuid:one")
    registry.publish(keyset=runtime.keyset, loader=default_loader(), now=now)
    response = client.get("/credentials/status/1")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    listed = response.json()
    assert listed["id"] == "http://127.0.0.1:8181/credentials/status/1"
    assert Bitstring.decode(listed["credentialSubject"]["encodedList"]).get(0)
    verified = runtime.verifier().verify_credential(listed)
    assert verified.issuer == runtime.did
    assert client.get("/credentials/status/2").status_code == 404
