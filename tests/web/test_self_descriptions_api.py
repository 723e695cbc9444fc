"""Published self-descriptions and the VC API, through the real app."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connector.testing import make_settings
from connector.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
MGMT = {"X-Api-Key": "test-management-key"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    data_dir = tmp_path_factory.mktemp("sd-api")
    settings = make_settings(
        data_dir, port=8181, participant_config=ROOT / "self-descriptions" / "hagen.toml"
    )
    return TestClient(create_app(settings))


def test_index_lists_every_credential(client: TestClient) -> None:
    index = client.get("/self-descriptions").json()
    assert index["issuer"] == "did:web:127.0.0.1%3A8181"
    ids = {entry["id"] for entry in index["selfDescriptions"]}
    assert {"legal-person", "registration-number", "service-offering", "status-list"} <= ids
    assert sum(1 for i in ids if i.startswith("dataset-")) == 9


def test_json_ld_and_jwt_forms_verify(client: TestClient) -> None:
    document = client.get("/self-descriptions/legal-person")
    assert document.headers["content-type"].startswith("application/ld+json")
    body = {"verifiableCredential": document.json()}
    result = client.post("/vc-api/credentials/verify", json=body)
    assert result.status_code == 200, result.text
    assert result.json()["verified"] is True
    token = client.get("/self-descriptions/legal-person", headers={"Accept": "application/vc+jwt"})
    assert token.headers["content-type"].startswith("application/vc+jwt")
    enveloped = {
        "id": f"data:application/vc+jwt,{token.text}",
        "type": "EnvelopedVerifiableCredential",
    }
    result = client.post("/vc-api/credentials/verify", json={"verifiableCredential": enveloped})
    assert result.status_code == 200, result.text


def test_presentation_for_an_audience(client: TestClient) -> None:
    token = client.get(
        "/self-descriptions/presentation", params={"audience": "did:web:cat.example", "nonce": "n1"}
    )
    assert token.headers["content-type"].startswith("application/vp+jwt")
    ok = client.post(
        "/vc-api/presentations/verify",
        json={
            "verifiablePresentation": token.text,
            "options": {"domain": "did:web:cat.example", "challenge": "n1"},
        },
    )
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["credentialResults"]) >= 12
    wrong = client.post(
        "/vc-api/presentations/verify",
        json={
            "verifiablePresentation": token.text,
            "options": {"domain": "did:web:cat.example", "challenge": "other"},
        },
    )
    assert wrong.status_code == 400
    assert wrong.json()["verified"] is False


def test_unknown_self_description_is_404(client: TestClient) -> None:
    for path in (
        "/self-descriptions/nope",
        "/self-descriptions/..%2Fkeys",
        "/self-descriptions/A B",
    ):
        response = client.get(path)
        assert response.status_code == 404, path


def test_tampered_credential_is_400_with_reason(client: TestClient) -> None:
    document = client.get("/self-descriptions/legal-person").json()
    tampered = copy.deepcopy(document)
    tampered["validUntil"] = "2099-01-01T00:00:00Z"
    response = client.post("/vc-api/credentials/verify", json={"verifiableCredential": tampered})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "bad_signature"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"[]", "malformed_json"),
        (json.dumps({"verifiableCredential": 5}).encode(), "invalid"),
        (json.dumps({"verifiableCredential": {"type": "VerifiableCredential"}}).encode(), None),
        (b'{"a":' * 500 + b"1" + b"}" * 500, None),
    ],
)
def test_bad_input_never_500(client: TestClient, body: bytes, reason: str | None) -> None:
    response = client.post(
        "/vc-api/credentials/verify", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    if reason:
        assert response.json()["reason"] == reason


def test_unknown_context_is_named(client: TestClient) -> None:
    document = client.get("/self-descriptions/legal-person").json()
    document["@context"].append("https://attacker.example/ctx.jsonld")
    response = client.post("/vc-api/credentials/verify", json={"verifiableCredential": document})
    assert response.status_code == 400
    assert "https://attacker.example/ctx.jsonld" in response.json()["detail"]


def test_poison_graph_is_refused_quickly(client: TestClient) -> None:
    nodes = [f"_:b{i}" for i in range(12)]
    graph = [
        {"@id": a, "http://example.org/p": [{"@id": b} for b in nodes if b != a]} for a in nodes
    ]
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:web:127.0.0.1%3A8181",
        "credentialSubject": {"id": "urn:x"},
        "@included": graph,
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "verificationMethod": "did:web:127.0.0.1%3A8181#ed25519-multikey",
            "proofPurpose": "assertionMethod",
            "proofValue": "z1111",
        },
    }
    response = client.post("/vc-api/credentials/verify", json={"verifiableCredential": credential})
    assert 400 <= response.status_code < 500


def test_issue_requires_management_key(client: TestClient) -> None:
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:web:partner.example"},
    }
    assert (
        client.post("/vc-api/credentials/issue", json={"credential": credential}).status_code == 401
    )
    wrong = client.post(
        "/vc-api/credentials/issue", json={"credential": credential}, headers={"X-Api-Key": "x"}
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "options",
    [{}, {"cryptosuite": "ecdsa-rdfc-2019"}, {"format": "vc+jwt"}],
)
def test_issue_then_verify(client: TestClient, options: dict[str, str]) -> None:
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:web:partner.example"},
    }
    issued = client.post(
        "/vc-api/credentials/issue",
        json={"credential": credential, "options": options},
        headers=MGMT,
    )
    assert issued.status_code == 201, issued.text
    vc = issued.json()["verifiableCredential"]
    verified = client.post("/vc-api/credentials/verify", json={"verifiableCredential": vc})
    assert verified.status_code == 200, verified.text


def test_issue_refuses_undefined_terms_and_foreign_issuer(client: TestClient) -> None:
    undefined = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:web:partner.example", "notInAnyContext": 1},
    }
    response = client.post(
        "/vc-api/credentials/issue", json={"credential": undefined}, headers=MGMT
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "undefined_term"
    foreign = dict(undefined, issuer="did:web:someone.else", credentialSubject={"id": "urn:x"})
    response = client.post("/vc-api/credentials/issue", json={"credential": foreign}, headers=MGMT)
    assert response.status_code == 400
    assert response.json()["reason"] == "issuer_mismatch"


def test_terms_documents_match_their_hashes(client: TestClient) -> None:
    import hashlib

    text = json.dumps(
        [
            client.get(f"/self-descriptions/{sd_id}").json()
            for sd_id in ("service-offering", "dataset-industrie-co2")
        ]
    )
    served = 0
    for name in ("nutzungsbedingungen-1.0.md", "datennutzung-1.0.md"):
        response = client.get(f"/self-descriptions/terms/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown")
        assert hashlib.sha256(response.content).hexdigest() in text
        served += 1
    assert served == 2
    for bad in ("../hagen.toml", "..%2Fhagen.toml", "missing.md", "hagen.toml"):
        assert client.get(f"/self-descriptions/terms/{bad}").status_code == 404
