from __future__ import annotations

import pytest

from connector.credentials.did_web import build_did_document, did_from_url, url_from_did
from connector.credentials.keys import public_jwk
from connector.credentials.multikey import decode_public_key, encode_public_key
from connector.errors import Invalid
from connector.testing import throwaway_keyset


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("http://127.0.0.1:8181", "did:web:127.0.0.1%3A8181"),
        ("https://daten.hagen.de", "did:web:daten.hagen.de"),
        ("https://Daten.Hagen.de/connector/v1/", "did:web:daten.hagen.de:connector:v1"),
    ],
)
def test_did_from_url(url: str, did: str) -> None:
    assert did_from_url(url) == did


def test_url_from_did() -> None:
    assert url_from_did("did:web:daten.hagen.de") == "https://daten.hagen.de/.well-known/did.json"
    assert (
        url_from_did("did:web:daten.hagen.de:connector")
        == "https://daten.hagen.de/connector/did.json"
    )
    assert (
        url_from_did("did:web:127.0.0.1%3A8181", allow_http=True)
        == "http://127.0.0.1:8181/.well-known/did.json"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "did:key:z6Mk",
        "did:web:",
        "did:web:a.example#frag",
        "did:web:a::b",
        "did:web:user%40evil.example",
    ],
)
def test_url_from_did_rejects_malformed(bad: str) -> None:
    with pytest.raises(Invalid):
        url_from_did(bad)


def test_did_document_lists_every_key_for_assertion_and_authentication() -> None:
    keyset = throwaway_keyset("did:web:127.0.0.1%3A8181", with_rsa=True)
    doc = build_did_document(keyset, x5u="http://127.0.0.1:8181/.well-known/x5u/rsa-chain.pem")
    assert doc["id"] == keyset.did
    ids = [m["id"] for m in doc["verificationMethod"]]
    assert ids == [
        f"{keyset.did}#ed25519",
        f"{keyset.did}#ed25519-multikey",
        f"{keyset.did}#p256",
        f"{keyset.did}#p256-multikey",
        f"{keyset.did}#rsa",
    ]
    assert doc["assertionMethod"] == ids
    assert doc["authentication"] == ids
    for method in doc["verificationMethod"]:
        assert method["controller"] == keyset.did
        jwk = method.get("publicKeyJwk", {})
        assert "d" not in jwk and "p" not in jwk
    rsa = doc["verificationMethod"][-1]["publicKeyJwk"]
    assert rsa["x5u"].endswith("rsa-chain.pem")
    assert rsa["alg"] == "PS256"


def test_multikey_round_trip() -> None:
    keyset = throwaway_keyset()
    for key in (keyset.ed25519.public_key(), keyset.p256.public_key()):
        encoded = encode_public_key(key)
        assert encoded.startswith("z6Mk") or encoded.startswith("zDn")
        assert public_jwk_of(decode_public_key(encoded)) == public_jwk_of(key)


def public_jwk_of(key: object) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]


def test_public_jwk_has_no_private_part() -> None:
    keyset = throwaway_keyset()
    jwk = public_jwk(keyset.p256)
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk


@pytest.mark.parametrize("bad", ["abc", "z", "z0OIl", "zAAAA"])
def test_multikey_rejects_garbage(bad: str) -> None:
    with pytest.raises(Invalid):
        decode_public_key(bad)
