"""Every token attack of issue 5 against the app's DSP endpoints: 401 with a generic body, the
precise reason in the audit trail, and no process created."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connector.audit.query import AuditQuery
from connector.audit.vocabulary import EventType
from connector.clock import SystemClock
from connector.credentials.jose import sign_jws
from connector.credentials.keys import KeySet
from connector.testing import make_settings, throwaway_keyset
from connector.web.app import create_app

from .conftest import did_document

PEER = "did:web:peer.test"
KEY = {"X-Api-Key": "test-management-key"}
CATALOG_REQUEST = {
    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
    "@type": "CatalogRequestMessage",
}
CONTRACT_REQUEST = {
    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
    "@type": "ContractRequestMessage",
    "consumerPid": "urn:uuid:attacker-1",
    "callbackAddress": "https://peer.test/api/dsp",
    "offer": {"@id": "urn:offer:1", "@type": "Offer", "target": "any"},
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def app(tmp_path: Path) -> tuple[TestClient, KeySet]:
    client = TestClient(create_app(make_settings(tmp_path, port=8181)))
    keyset = throwaway_keyset(PEER)
    client.app.state.runtime.resolver.pin(did_document(keyset))  # type: ignore[attr-defined]
    return client, keyset


def _claims(audience: str, **overrides: Any) -> dict[str, Any]:
    iat = int(SystemClock().now().timestamp())
    claims = {"iss": PEER, "sub": PEER, "aud": audience, "jti": "j", "iat": iat, "exp": iat + 300}
    claims.update(overrides)
    return claims


def _hmac(keyset: KeySet, audience: str) -> str:
    header = {"alg": "HS256", "kid": keyset.method_id("p256"), "typ": "JWT"}
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(audience)).encode())}"
    mac = hmac.new(b"public-key-as-secret", signing.encode(), hashlib.sha256).digest()
    return f"Bearer {signing}.{_b64(mac)}"


def _none(keyset: KeySet, audience: str) -> str:
    header = {"alg": "none", "kid": keyset.method_id("p256")}
    return f"Bearer {_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(audience)).encode())}."


def _signed(keyset: KeySet, audience: str, **overrides: Any) -> str:
    token = sign_jws(
        _claims(audience, **overrides), key=keyset.p256, kid=keyset.method_id("p256"), typ="JWT"
    )
    return f"Bearer {token}"


def _stranger(keyset: KeySet, audience: str) -> str:
    return _signed(throwaway_keyset(PEER), audience)


def _expired(keyset: KeySet, audience: str) -> str:
    iat = int(SystemClock().now().timestamp()) - 3600
    return _signed(keyset, audience, iat=iat, exp=iat + 300)


def _future(keyset: KeySet, audience: str) -> str:
    iat = int(SystemClock().now().timestamp()) + 3600
    return _signed(keyset, audience, iat=iat, exp=iat + 300)


def _out_of_reach(keyset: KeySet, audience: str) -> str:
    remote = throwaway_keyset("did:web:127.0.0.1%3A9")  # https to a private address: refused
    return _signed(remote, audience, iss=remote.did, sub=remote.did)


ATTACKS: dict[str, tuple[Callable[[KeySet, str], str | None], str]] = {
    "no token": (lambda k, a: None, "missing_token"),
    "malformed": (lambda k, a: "Bearer not.a.jwt", "malformed_jwt"),
    "alg none": (_none, "alg_not_allowed"),
    "HMAC": (_hmac, "alg_not_allowed"),
    "wrong aud": (lambda k, a: _signed(k, "did:web:someone-else.test"), "audience_mismatch"),
    "expired": (_expired, "expired"),
    "iat in the future": (_future, "issued_in_future"),
    "key not in the DID document": (_stranger, "bad_signature"),
    "DID document out of reach": (_out_of_reach, "private_address"),
}


def _audited_reasons(client: TestClient) -> list[Any]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    events = runtime.audit.query(AuditQuery(type=EventType.AUTH_FAILED), limit=50)
    return [e.details.get("reason") for e in events]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_are_refused_and_create_nothing(
    app: tuple[TestClient, KeySet], attack: str
) -> None:
    client, keyset = app
    own = client.get("/.well-known/did.json").json()["id"]
    make, reason = ATTACKS[attack]
    header = make(keyset, own)
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/dsp/negotiations/request", json=CONTRACT_REQUEST, headers=headers)
    assert response.status_code == 401, response.text
    assert reason not in response.text  # generic to the caller …
    assert _audited_reasons(client) == [reason]  # … precise in the audit trail
    assert client.get("/api/management/negotiations", headers=KEY).json() == []


def test_a_replayed_token_is_refused(app: tuple[TestClient, KeySet]) -> None:
    client, keyset = app
    own = client.get("/.well-known/did.json").json()["id"]
    header = {"Authorization": _signed(keyset, own, jti="once")}
    first = client.post("/api/dsp/catalog/request", json=CATALOG_REQUEST, headers=header)
    assert first.status_code == 200, first.text
    again = client.post("/api/dsp/negotiations/request", json=CONTRACT_REQUEST, headers=header)
    assert again.status_code == 401
    assert _audited_reasons(client) == ["replayed_jti"]
    assert client.get("/api/management/negotiations", headers=KEY).json() == []


def test_an_unreachable_did_host_is_a_passing_failure(tmp_path: Path) -> None:
    """The caller's DID host does not answer (it may be starting): 503, so a DSP sender retries
    instead of giving its process up; the audit trail still records the failed attempt."""
    import socket

    settings = make_settings(
        tmp_path, port=8181, allow_insecure_did_web=True, allow_private_addresses=["127.0.0.1"]
    )
    client = TestClient(create_app(settings))
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        remote = throwaway_keyset(f"did:web:127.0.0.1%3A{closed.getsockname()[1]}")
        own = client.get("/.well-known/did.json").json()["id"]
        header = _signed(remote, own, iss=remote.did, sub=remote.did)
        response = client.post(
            "/api/dsp/negotiations/request",
            json=CONTRACT_REQUEST,
            headers={"Authorization": header},
        )
    assert response.status_code == 503, response.text
    assert _audited_reasons(client) == ["did_unavailable"]
    assert client.get("/api/management/negotiations", headers=KEY).json() == []


def test_a_token_of_a_refused_message_is_used_up(app: tuple[TestClient, KeySet]) -> None:
    """The one-use record commits with the message's own transaction; a message that fails
    (here: schema-invalid) still uses its token up, so it cannot be sent again with a body
    that would pass."""
    client, keyset = app
    own = client.get("/.well-known/did.json").json()["id"]
    header = {"Authorization": _signed(keyset, own, jti="failed-once")}
    broken = {**CONTRACT_REQUEST, "consumerPid": 42}
    first = client.post("/api/dsp/negotiations/request", json=broken, headers=header)
    assert first.status_code == 400, first.text
    again = client.post("/api/dsp/negotiations/request", json=CONTRACT_REQUEST, headers=header)
    assert again.status_code == 401, again.text
    assert _audited_reasons(client) == ["replayed_jti"]


def test_a_read_only_request_uses_its_token_up(app: tuple[TestClient, KeySet]) -> None:
    """A request whose work writes nothing (a process lookup) records its token at the end."""
    client, keyset = app
    own = client.get("/.well-known/did.json").json()["id"]
    header = {"Authorization": _signed(keyset, own, jti="lookup-once")}
    first = client.get("/api/dsp/negotiations/urn:uuid:unknown", headers=header)
    assert first.status_code == 404, first.text
    again = client.get("/api/dsp/negotiations/urn:uuid:unknown", headers=header)
    assert again.status_code == 401, again.text
    assert "urn:uuid:unknown" not in again.text
    assert _audited_reasons(client) == ["replayed_jti"]
