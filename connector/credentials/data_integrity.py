"""W3C Data Integrity proofs: ``eddsa-rdfc-2022`` (Ed25519) and ``ecdsa-rdfc-2019`` (P-256/P-384).

Following VC-DI-EdDSA 3.3 and VC-DI-ECDSA 3.3: the proof configuration (the proof without
``proofValue``, with the document's ``@context``) and the document without ``proof`` are
canonicalized with RDFC-1.0; ``hashData = H(canonical proof config) || H(canonical document)``
(SHA-256; SHA-384 for P-384); Ed25519 signs ``hashData``, ECDSA signs it with SHA-256/384 and
emits ``r || s``; ``proofValue`` is multibase base58btc (``z…``).

A document with terms its contexts do not define is refused for signing and rejected when
verifying (``reason="undefined_term"``): that content would not be covered by the signature.
Several proofs (a proof set) are verified independently over the same unsecured document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from connector.clock import Clock, parse_instant, utc_isoformat
from connector.credentials.canonical import UndefinedTerms, canonical_nquads
from connector.credentials.jsonld import DEFAULT_LIMITS, Engine, Limits, PinnedLoader
from connector.credentials.keys import PrivateKey
from connector.credentials.methods import (
    MethodResolver,
    Relationship,
    VerificationMethod,
)
from connector.credentials.multikey import b58decode, b58encode
from connector.errors import Invalid, VerificationFailed

PROOF_TYPE = "DataIntegrityProof"
EDDSA = "eddsa-rdfc-2022"
ECDSA = "ecdsa-rdfc-2019"
CRYPTOSUITES = frozenset({EDDSA, ECDSA})


@dataclass(frozen=True)
class VerifiedProof:
    """A proof that verified, and what it proves."""

    method: VerificationMethod
    cryptosuite: str
    proof_purpose: str
    created: str | None
    proof: Mapping[str, Any]


def _fail(detail: str, reason: str) -> VerificationFailed:
    return VerificationFailed(detail, reason=reason)


def hash_data(
    document: Mapping[str, Any],
    proof_config: Mapping[str, Any],
    *,
    loader: PinnedLoader,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
    sha384: bool = False,
    canonical_document: str | None = None,
) -> bytes:
    """``H(canonical proof config) || H(canonical unsecured document)`` (VC-DI 3.3.4)."""
    digest = hashlib.sha384 if sha384 else hashlib.sha256
    if canonical_document is None:
        canonical_document = canonical_nquads(
            unsecured(document), loader=loader, limits=limits, engine=engine
        )
    canonical_config = canonical_nquads(proof_config, loader=loader, limits=limits, engine=engine)
    return digest(canonical_config.encode()).digest() + digest(canonical_document.encode()).digest()


def unsecured(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its ``proof``."""
    return {key: value for key, value in document.items() if key != "proof"}


def _instant(value: dt.datetime | str) -> str:
    return (
        utc_isoformat(value)
        if isinstance(value, dt.datetime)
        else utc_isoformat(parse_instant(value))
    )


def sign(
    document: Mapping[str, Any],
    *,
    key: PrivateKey,
    verification_method: str,
    created: dt.datetime | str,
    loader: PinnedLoader,
    cryptosuite: str | None = None,
    proof_purpose: Relationship | str = "assertionMethod",
    expires: dt.datetime | str | None = None,
    proof_id: str | None = None,
    domain: str | None = None,
    challenge: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
) -> dict[str, Any]:
    """A copy of ``document`` with a Data Integrity proof added (appended to a proof set).

    ``cryptosuite`` defaults to the key's: ``eddsa-rdfc-2022`` for Ed25519, ``ecdsa-rdfc-2019``
    for P-256/P-384. Raises ``Invalid(reason="undefined_term")`` (:class:`UndefinedTerms`)
    when the document uses terms its contexts do not define.
    """
    suite = cryptosuite or (EDDSA if isinstance(key, ed25519.Ed25519PrivateKey) else ECDSA)
    if suite == EDDSA and not isinstance(key, ed25519.Ed25519PrivateKey):
        raise Invalid("eddsa-rdfc-2022 needs an Ed25519 key", reason="wrong_key_type")
    if suite == ECDSA and not (
        isinstance(key, ec.EllipticCurvePrivateKey)
        and isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1)
    ):
        raise Invalid("ecdsa-rdfc-2019 needs a P-256 or P-384 key", reason="wrong_key_type")
    if suite not in CRYPTOSUITES:
        raise Invalid(f"unsupported cryptosuite {suite}", reason="unknown_cryptosuite")
    if "@context" not in document:
        raise Invalid("a signed document needs an @context", reason="undefined_term")
    proof: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": suite}
    if proof_id:
        proof["id"] = proof_id
    proof["created"] = _instant(created)
    if expires is not None:
        proof["expires"] = _instant(expires)
    proof["verificationMethod"] = verification_method
    proof["proofPurpose"] = proof_purpose
    if domain is not None:
        proof["domain"] = domain
    if challenge is not None:
        proof["challenge"] = challenge
    config = {**proof, "@context": document["@context"]}
    sha384 = isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1)
    data = hash_data(document, config, loader=loader, limits=limits, engine=engine, sha384=sha384)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(data)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        size = (key.curve.key_size + 7) // 8
        algorithm = hashes.SHA384() if sha384 else hashes.SHA256()
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(algorithm)))
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    proof["proofValue"] = "z" + b58encode(signature)
    signed = dict(document)
    existing = document.get("proof")
    if existing is None:
        signed["proof"] = proof
    else:
        signed["proof"] = [*(existing if isinstance(existing, list) else [existing]), proof]
    return signed


def verify(
    document: Mapping[str, Any],
    *,
    resolve: MethodResolver,
    loader: PinnedLoader,
    relationship: Relationship = "assertionMethod",
    expected_controller: str | None = None,
    clock: Clock | None = None,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
) -> VerifiedProof:
    """Verify every proof of ``document``; return the first (see :func:`verify_proof_set`)."""
    return verify_proof_set(
        document,
        resolve=resolve,
        loader=loader,
        relationship=relationship,
        expected_controller=expected_controller,
        clock=clock,
        limits=limits,
        engine=engine,
    )[0]


def verify_proof_set(
    document: Mapping[str, Any],
    *,
    resolve: MethodResolver,
    loader: PinnedLoader,
    relationship: Relationship = "assertionMethod",
    expected_controller: str | None = None,
    clock: Clock | None = None,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
) -> list[VerifiedProof]:
    """Verify all proofs of ``document`` (each independently); raise on the first failure.

    Reasons: ``missing_proof``, ``malformed_proof``, ``unknown_proof_type``,
    ``unknown_cryptosuite``, ``wrong_proof_purpose``, ``undefined_term``, ``wrong_key_type``,
    ``method_not_authorized`` (controller is not ``expected_controller``; the resolver raises
    its own reasons for keys not listed under ``relationship``), ``proof_expired``,
    ``bad_signature``.
    """
    raw = document.get("proof")
    if raw is None or raw == []:
        raise _fail("document has no proof", "missing_proof")
    proofs = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(p, dict) for p in proofs):
        raise _fail("proof must be an object", "malformed_proof")
    for proof in proofs:
        _check_shape(proof, relationship, clock)
    try:
        canonical_document = canonical_nquads(
            unsecured(document), loader=loader, limits=limits, engine=engine
        )
    except UndefinedTerms as exc:
        raise _fail(exc.detail, "undefined_term") from exc
    return [
        _verify_one(
            document,
            proof,
            canonical_document,
            resolve=resolve,
            loader=loader,
            relationship=relationship,
            expected_controller=expected_controller,
            limits=limits,
            engine=engine,
        )
        for proof in proofs
    ]


def _check_shape(proof: Mapping[str, Any], relationship: str, clock: Clock | None) -> None:
    if proof.get("type") != PROOF_TYPE:
        raise _fail(f"unsupported proof type {proof.get('type')!r}", "unknown_proof_type")
    if proof.get("cryptosuite") not in CRYPTOSUITES:
        raise _fail(f"unsupported cryptosuite {proof.get('cryptosuite')!r}", "unknown_cryptosuite")
    if proof.get("proofPurpose") != relationship:
        raise _fail(
            f"proof purpose {proof.get('proofPurpose')!r} is not {relationship}",
            "wrong_proof_purpose",
        )
    value = proof.get("proofValue")
    method = proof.get("verificationMethod")
    if not isinstance(value, str) or not value.startswith("z") or not isinstance(method, str):
        raise _fail(
            "proof needs a base58btc proofValue and a verificationMethod", "malformed_proof"
        )
    for member in ("created", "expires"):
        if member in proof and not isinstance(proof[member], str):
            raise _fail(f"proof {member} must be a dateTime string", "malformed_proof")
    if clock is not None and isinstance(proof.get("expires"), str):
        try:
            expires = parse_instant(proof["expires"])
        except ValueError as exc:
            raise _fail("proof expires is not a dateTime", "malformed_proof") from exc
        if expires <= clock.now():
            raise _fail("proof has expired", "proof_expired")


def _verify_one(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    canonical_document: str,
    *,
    resolve: MethodResolver,
    loader: PinnedLoader,
    relationship: Relationship,
    expected_controller: str | None,
    limits: Limits,
    engine: Engine,
) -> VerifiedProof:
    context = document.get("@context")
    own = proof.get("@context")
    if own is not None and own != context:
        raise _fail("proof @context differs from the document's", "malformed_proof")
    config = {k: v for k, v in proof.items() if k not in ("proofValue", "@context")}
    config["@context"] = context
    try:
        signature = b58decode(proof["proofValue"][1:])
    except Invalid as exc:
        raise _fail("proofValue is not base58btc", "malformed_proof") from exc
    method = resolve(proof["verificationMethod"], relationship)
    if expected_controller is not None and method.controller != expected_controller:
        raise _fail(
            f"{method.id} is not controlled by {expected_controller}", "method_not_authorized"
        )
    key = method.public_key
    suite = proof["cryptosuite"]
    if suite == EDDSA and not isinstance(key, ed25519.Ed25519PublicKey):
        raise _fail(f"{method.id} is not an Ed25519 key", "wrong_key_type")
    if suite == ECDSA and not (
        isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1)
    ):
        raise _fail(f"{method.id} is not a P-256/P-384 key", "wrong_key_type")
    sha384 = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)
    try:
        data = hash_data(
            document,
            config,
            loader=loader,
            limits=limits,
            engine=engine,
            sha384=sha384,
            canonical_document=canonical_document,
        )
    except UndefinedTerms as exc:
        raise _fail(exc.detail, "undefined_term") from exc
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            key.verify(signature, data)
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise InvalidSignature
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            algorithm = hashes.SHA384() if sha384 else hashes.SHA256()
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(algorithm))
    except InvalidSignature as exc:
        raise _fail(f"signature does not verify with {method.id}", "bad_signature") from exc
    return VerifiedProof(
        method=method,
        cryptosuite=suite,
        proof_purpose=proof["proofPurpose"],
        created=proof.get("created"),
        proof=proof,
    )
