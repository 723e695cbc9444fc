from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk, jws
from pyld import jsonld as pyld_jsonld

from connector.credentials import jws2020
from connector.credentials.jsonld import default_loader
from connector.credentials.methods import Relationship, VerificationMethod
from connector.errors import VerificationFailed

TAGUS = "https://registry.lab.gaia-x.eu/development/api/trusted-shape-registry/v1/shapes/jsonld/trustframework#"
DID = "did:web:hagen.example"
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P256 = ec.generate_private_key(ec.SECP256R1())
ED = ed25519.Ed25519PrivateKey.generate()
KEYS: dict[str, Any] = {"rsa": RSA, "p256": P256, "ed25519": ED}


def _resolve(method_id: str, relationship: Relationship) -> VerificationMethod:
    if relationship != "assertionMethod":
        raise VerificationFailed("not listed", reason="method_not_authorized")
    key = KEYS[method_id.split("#")[1]]
    return VerificationMethod(
        id=method_id, controller=DID, type="JsonWebKey2020", public_key=key.public_key()
    )


def _participant() -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/suites/jws-2020/v1",
            TAGUS,
        ],
        "type": ["VerifiableCredential"],
        "id": "https://hagen.example/tagus/participant.json",
        "issuer": DID,
        "issuanceDate": "2023-06-01T00:00:00Z",
        "credentialSubject": {
            "id": "https://hagen.example/tagus/participant.json#cs",
            "type": "gx:LegalParticipant",
            "gx:legalName": "Stadt Hagen",
            "gx:legalRegistrationNumber": {"id": "https://hagen.example/tagus/lrn.json#cs"},
            "gx:headquarterAddress": {"gx:countrySubdivisionCode": "DE-NW"},
            "gx:legalAddress": {"gx:countrySubdivisionCode": "DE-NW"},
        },
    }


def _gaia_x_flavour(document: dict[str, Any], kind: str, alg: str) -> dict[str, Any]:
    """Sign as the Tagus compliance service does, independently of our code (pyld + jwcrypto)."""
    canonical = pyld_jsonld.normalize(
        document,
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": default_loader(),
        },
    )
    payload = hashlib.sha256(canonical.encode()).hexdigest().encode()
    pem = KEYS[kind].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = jws.JWS(payload)
    token.add_signature(
        jwk.JWK.from_pem(pem), None, json.dumps({"alg": alg, "b64": False, "crit": ["b64"]})
    )
    header, _, signature = token.serialize(compact=True).split(".")
    return {
        **document,
        "proof": {
            "type": "JsonWebSignature2020",
            "created": "2023-06-01T00:00:00Z",
            "proofPurpose": "assertionMethod",
            "verificationMethod": f"{DID}#{kind}",
            "jws": f"{header}..{signature}",
        },
    }


@pytest.mark.parametrize(
    ("kind", "alg"), [("rsa", "PS256"), ("p256", "ES256"), ("ed25519", "EdDSA")]
)
def test_gaia_x_flavour_verifies(kind: str, alg: str) -> None:
    signed = _gaia_x_flavour(_participant(), kind, alg)
    verified = jws2020.verify(signed, resolve=_resolve, loader=default_loader())
    assert (verified.flavour, verified.alg) == ("gaia-x", alg)
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["gx:legalName"] = "Stadt Hagen (gefälscht)"
    with pytest.raises(VerificationFailed) as caught:
        jws2020.verify(tampered, resolve=_resolve, loader=default_loader())
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("kind", "alg"), [("rsa", "PS256"), ("p256", "ES256"), ("ed25519", "EdDSA")]
)
def test_w3c_flavour_round_trip(kind: str, alg: str) -> None:
    signed = jws2020.sign(
        _participant(),
        key=KEYS[kind],
        verification_method=f"{DID}#{kind}",
        created="2024-01-01T00:00:00Z",
        loader=default_loader(),
    )
    verified = jws2020.verify(signed, resolve=_resolve, loader=default_loader())
    assert (verified.flavour, verified.alg) == ("w3c", alg)
    # In the W3C flavour the proof options are signed too.
    moved = copy.deepcopy(signed)
    moved["proof"]["created"] = "2025-01-01T00:00:00Z"
    with pytest.raises(VerificationFailed, match="signature"):
        jws2020.verify(moved, resolve=_resolve, loader=default_loader())


def test_refusals() -> None:
    signed = _gaia_x_flavour(_participant(), "p256", "ES256")
    loader = default_loader()

    def reason(document: dict[str, Any], **kw: Any) -> str:
        with pytest.raises(VerificationFailed) as caught:
            jws2020.verify(document, resolve=_resolve, loader=loader, **kw)
        return caught.value.reason

    proof = signed["proof"]
    assert reason({k: v for k, v in signed.items() if k != "proof"}) == "missing_proof"
    assert (
        reason({**signed, "proof": {**proof, "type": "Ed25519Signature2018"}})
        == "unknown_proof_type"
    )
    assert reason({**signed, "proof": {**proof, "jws": "a.b.c"}}) == "malformed_proof"
    none_header = jws2020._b64url(
        json.dumps({"alg": "none", "b64": False, "crit": ["b64"]}).encode()
    )
    assert (
        reason(
            {**signed, "proof": {**proof, "jws": none_header + ".." + proof["jws"].split("..")[1]}}
        )
        == "alg_not_allowed"
    )
    hs = jws2020._b64url(json.dumps({"alg": "HS256", "b64": False, "crit": ["b64"]}).encode())
    assert (
        reason({**signed, "proof": {**proof, "jws": hs + ".." + proof["jws"].split("..")[1]}})
        == "alg_not_allowed"
    )
    assert reason(signed, relationship="authentication") == "wrong_proof_purpose"
    assert reason(signed, expected_controller="did:web:other.example") == "method_not_authorized"
    wrong_key = {**signed, "proof": {**proof, "verificationMethod": f"{DID}#rsa"}}
    assert reason(wrong_key) == "bad_signature"
    undefined = copy.deepcopy(signed)
    undefined["credentialSubject"]["legalName"] = "no prefix"
    assert reason(undefined) == "undefined_term"
