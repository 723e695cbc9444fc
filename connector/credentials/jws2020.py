"""JsonWebSignature2020 proofs (Gaia-X Tagus 22.10 import): verify both flavours, sign the W3C one.

Two payloads travel under the same proof type, both as a detached JWS with an unencoded
payload (``{"alg": …, "b64": false, "crit": ["b64"]}``, ``jws = header..signature``):

* ``gaia-x`` (the Tagus compliance service and wizard): payload = the lowercase hex string of
  SHA-256 of the canonical form (RDFC-1.0, formerly URDNA2015) of the document without proof.
  The proof's own members (``created``, ``verificationMethod``) are not signed.
* ``w3c`` (the JWS 2020 suite of jsonld-signatures): payload = SHA-256(canonical proof options
  with the document's ``@context``) || SHA-256(canonical document without proof).

A verifier accepts either (trying the flavour named in the header's absence of ambiguity: both
payloads are computed, the signature decides). Signing produces the W3C flavour. Algorithms:
PS256 (RSA-PSS, SHA-256, salt = 32 bytes), ES256 (P-256, ``r || s``), EdDSA (Ed25519).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from connector.clock import parse_instant, utc_isoformat
from connector.credentials.canonical import UndefinedTerms, canonical_nquads
from connector.credentials.jsonld import DEFAULT_LIMITS, Engine, Limits, PinnedLoader
from connector.credentials.keys import PrivateKey
from connector.credentials.methods import (
    MethodResolver,
    PublicKey,
    Relationship,
    VerificationMethod,
)
from connector.errors import Invalid, VerificationFailed

PROOF_TYPE = "JsonWebSignature2020"
ALGORITHMS = frozenset({"PS256", "ES256", "EdDSA"})
Flavour = Literal["gaia-x", "w3c"]
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


@dataclass(frozen=True)
class VerifiedJws2020:
    """A JsonWebSignature2020 proof that verified."""

    method: VerificationMethod
    alg: str
    flavour: Flavour
    proof_purpose: str
    created: str | None


def _fail(detail: str, reason: str) -> VerificationFailed:
    return VerificationFailed(detail, reason=reason)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text):
        raise _fail("JWS segment is not base64url", "malformed_proof")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def algorithm_of(key: PrivateKey | PublicKey) -> str:
    """The JWS algorithm of a key: EdDSA (Ed25519), ES256 (P-256) or PS256 (RSA)."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        raise Invalid("only P-256 EC keys sign JsonWebSignature2020 here", reason="wrong_key_type")
    return "PS256"


def _payloads(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    *,
    loader: PinnedLoader,
    limits: Limits,
    engine: Engine,
) -> dict[Flavour, bytes]:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k not in ("jws", "proofValue", "signatureValue")}
    options["@context"] = document.get("@context")
    canonical_document = canonical_nquads(unsecured, loader=loader, limits=limits, engine=engine)
    document_hash = hashlib.sha256(canonical_document.encode()).digest()
    payloads: dict[Flavour, bytes] = {"gaia-x": document_hash.hex().encode()}
    try:
        canonical_options = canonical_nquads(options, loader=loader, limits=limits, engine=engine)
    except UndefinedTerms:
        return payloads  # proof options not expressible in the document's contexts: no W3C form
    payloads["w3c"] = hashlib.sha256(canonical_options.encode()).digest() + document_hash
    return payloads


def sign(
    document: Mapping[str, Any],
    *,
    key: PrivateKey,
    verification_method: str,
    created: dt.datetime | str,
    loader: PinnedLoader,
    proof_purpose: Relationship | str = "assertionMethod",
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
) -> dict[str, Any]:
    """A copy of ``document`` with a JsonWebSignature2020 proof (W3C flavour)."""
    alg = algorithm_of(key)
    instant = created if isinstance(created, dt.datetime) else parse_instant(created)
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "created": utc_isoformat(instant),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {**proof, "@context": document.get("@context")}
    canonical_document = canonical_nquads(unsecured, loader=loader, limits=limits, engine=engine)
    canonical_options = canonical_nquads(options, loader=loader, limits=limits, engine=engine)
    payload = (
        hashlib.sha256(canonical_options.encode()).digest()
        + hashlib.sha256(canonical_document.encode()).digest()
    )
    header = _b64url(json.dumps({"alg": alg, "b64": False, "crit": ["b64"]}).encode())
    signing_input = header.encode() + b"." + payload
    proof["jws"] = f"{header}..{_b64url(_sign(key, signing_input))}"
    return {**document, "proof": proof}


def _sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(data, _PSS, hashes.SHA256())


def _check(key: PublicKey, alg: str, signature: bytes, data: bytes) -> bool:
    try:
        if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif (
            alg == "ES256"
            and isinstance(key, ec.EllipticCurvePublicKey)
            and isinstance(key.curve, ec.SECP256R1)
            and len(signature) == 64
        ):
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        elif alg == "PS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _PSS, hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _header(jws: str) -> tuple[str, str, bytes]:
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise _fail("jws must be a detached JWS (header..signature)", "malformed_proof")
    try:
        header = json.loads(_b64url_decode(parts[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail("JWS header is not JSON", "malformed_proof") from exc
    if not isinstance(header, dict):
        raise _fail("JWS header is not an object", "malformed_proof")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _fail(f"JWS algorithm {alg!r} is not allowed", "alg_not_allowed")
    if header.get("b64") is not False or header.get("crit") != ["b64"]:
        raise _fail("JsonWebSignature2020 needs b64=false with crit [b64]", "malformed_proof")
    if set(header) - {"alg", "b64", "crit", "kid", "typ"}:
        raise _fail("unexpected JWS header members", "malformed_proof")
    return parts[0], str(alg), _b64url_decode(parts[2])


def verify(
    document: Mapping[str, Any],
    *,
    resolve: MethodResolver,
    loader: PinnedLoader,
    relationship: Relationship = "assertionMethod",
    expected_controller: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
) -> VerifiedJws2020:
    """Verify the JsonWebSignature2020 proof of ``document`` (either flavour).

    Reasons: ``missing_proof``, ``unknown_proof_type``, ``malformed_proof``,
    ``alg_not_allowed``, ``wrong_proof_purpose``, ``undefined_term``, ``method_not_authorized``,
    ``bad_signature``.
    """
    proof = document.get("proof")
    if proof is None:
        raise _fail("document has no proof", "missing_proof")
    if not isinstance(proof, dict):
        raise _fail("exactly one JsonWebSignature2020 proof object expected", "malformed_proof")
    if proof.get("type") != PROOF_TYPE:
        raise _fail(f"unsupported proof type {proof.get('type')!r}", "unknown_proof_type")
    if proof.get("proofPurpose") != relationship:
        raise _fail(
            f"proof purpose {proof.get('proofPurpose')!r} is not {relationship}",
            "wrong_proof_purpose",
        )
    jws, method_id = proof.get("jws"), proof.get("verificationMethod")
    if not isinstance(jws, str) or not isinstance(method_id, str):
        raise _fail("proof needs jws and verificationMethod strings", "malformed_proof")
    header, alg, signature = _header(jws)
    method = resolve(method_id, relationship)
    if expected_controller is not None and method.controller != expected_controller:
        raise _fail(
            f"{method.id} is not controlled by {expected_controller}", "method_not_authorized"
        )
    try:
        payloads = _payloads(document, proof, loader=loader, limits=limits, engine=engine)
    except UndefinedTerms as exc:
        raise _fail(exc.detail, "undefined_term") from exc
    for flavour, payload in payloads.items():
        if _check(method.public_key, alg, signature, header.encode() + b"." + payload):
            return VerifiedJws2020(
                method=method,
                alg=alg,
                flavour=flavour,
                proof_purpose=str(proof["proofPurpose"]),
                created=proof.get("created") if isinstance(proof.get("created"), str) else None,
            )
    raise _fail(f"signature does not verify with {method.id}", "bad_signature")
