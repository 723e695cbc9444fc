from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.credentials.did_key import did_key_document, did_key_from_public_key, public_key_of
from connector.credentials.did_resolver import jwk_from_public_key
from connector.errors import Invalid

# did:key method spec / Digital Bazaar test vector: P-256 did:key and its JWK.
P256_DID = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"
P256_X = "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI"
P256_Y = "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU"


def test_p256_vector_decodes_to_the_published_jwk() -> None:
    key = public_key_of(P256_DID)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    jwk = jwk_from_public_key(key)
    assert (jwk["x"], jwk["y"], jwk["crv"]) == (P256_X, P256_Y, "P-256")
    assert did_key_from_public_key(key) == P256_DID


def test_w3c_eddsa_vector_key_is_the_did_key_of_its_proofs(vectors: Path) -> None:
    folder = vectors / "w3c-vc-di-eddsa" / "TestVectors"
    pair = json.loads((folder / "keyPair.json").read_text())
    signed = json.loads((folder / "eddsa-rdfc-2022" / "signedDataInt.json").read_text())
    did = "did:key:" + pair["publicKeyMultibase"]
    document = did_key_document(did)
    method = document["verificationMethod"][0]
    assert method["id"] == signed["proof"]["verificationMethod"]
    assert document["assertionMethod"] == [method["id"]]
    assert isinstance(public_key_of(did), ed25519.Ed25519PublicKey)


def test_document_lists_the_key_under_every_signing_relationship() -> None:
    document = did_key_document(P256_DID)
    method_id = f"{P256_DID}#{P256_DID.removeprefix('did:key:')}"
    assert document["id"] == P256_DID
    assert document["verificationMethod"][0]["type"] == "Multikey"
    assert document["verificationMethod"][0]["controller"] == P256_DID
    for relationship in ("authentication", "assertionMethod", "capabilityInvocation"):
        assert document[relationship] == [method_id]
    assert "keyAgreement" not in document


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32))
def test_ed25519_round_trip(seed: bytes) -> None:
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    did = did_key_from_public_key(public)
    assert did.startswith("did:key:z6Mk")
    raw = public_key_of(did).public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[union-attr]
    assert raw == public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_p256_round_trip() -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    did = did_key_from_public_key(public)
    assert did.startswith("did:key:zDn")
    assert public_key_of(did) == public


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com",
        "did:key:",
        "did:key:z6Mk",
        P256_DID[:-1],
        P256_DID + "1",
        P256_DID.replace("zDna", "zDnO"),  # 'O' is not base58
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",  # secp256k1
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#frag",
        "did:key:" + "z6Mk" + "1" * 44,  # right shape, not a valid encoding
    ],
)
def test_malformed_did_key_is_refused(did: str) -> None:
    with pytest.raises(Invalid) as info:
        public_key_of(did)
    assert info.value.reason == "bad_did"
