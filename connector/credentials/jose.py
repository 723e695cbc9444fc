"""VC-JOSE-COSE: credentials as ``vc+jwt`` and presentations as ``vp+jwt`` compact JWS (pure).

The JWT payload *is* the VCDM 2.0 credential (or presentation); ``iss`` repeats the issuer for
JWT tooling. A presentation carries its credentials as ``EnvelopedVerifiableCredential`` entries
whose ``id`` is ``data:application/vc+jwt,<jwt>`` (the Loire transport of the Gaia-X compliance
service and the XFSC federated catalogue; ``data:application/vc+ld+json+jwt,`` from Gaia-X ICAM
24.07 is accepted too).

Signing and verification are done here directly on ``cryptography`` (RFC 7515/7518 compact
serialization; the tests check interoperability with jwcrypto both ways). Verification uses the
public key the :class:`MethodResolver` returns (already parsed and cached), which keeps the
per-token cost below a raw jwcrypto verify (see ``docs/decisions/20261201-proof-formats.md``):

* algorithms: ``EdDSA`` (Ed25519), ``ES256`` (P-256), ``PS256`` (RSA ≥ 2048); the algorithm must
  fit the key type (and the JWK's ``alg`` when it names one); ``none``/``HS*``/others refused;
* the key comes only from ``kid`` through the resolver — ``jwk``/``jku``/``x5u``/``x5c`` headers
  are never used; ``crit`` and ``b64`` are refused;
* the method must be listed under ``assertionMethod`` (credentials) or ``authentication``
  (presentations), and its controller must be the issuer / holder.

Every failure is ``VerificationFailed`` with one of the reasons ``jwt_too_large``,
``malformed_jwt``, ``alg_not_allowed``, ``bad_typ``, ``bad_signature``, ``issuer_mismatch``,
``holder_mismatch``, ``expired``, ``not_yet_valid``, ``audience_mismatch``, ``nonce_mismatch``,
``missing_expiry``, ``bad_credential``, ``bad_presentation``, ``unsupported_credential_format``,
or one of the resolver's (``method_not_authorized``, ``unknown_did``, …). The JSON-LD content is
not processed here: the caller checks contexts and undefined terms on :attr:`VerifiedJwt.document`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from connector.clock import parse_instant
from connector.credentials.keys import PrivateKey
from connector.credentials.methods import (
    MethodResolver,
    PublicKey,
    Relationship,
    VerificationMethod,
)
from connector.errors import Invalid, VerificationFailed

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_TYPS = frozenset({"vc+jwt", "vc+ld+jwt", "vc+ld+json+jwt"})
VP_TYPS = frozenset({"vp+jwt", "vp+ld+jwt", "vp+ld+json+jwt"})
ALGORITHMS = frozenset({"EdDSA", "ES256", "PS256"})
ENVELOPE_PREFIXES = (
    "data:application/vc+jwt,",
    "data:application/vc+ld+json+jwt,",
    "data:application/vc+ld+jwt,",
)
MAX_JWT_BYTES = 256 * 1024
MAX_VP_BYTES = 2 * 1024 * 1024
MAX_CREDENTIALS = 64
DEFAULT_SKEW_SECONDS = 60
JWT_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "nonce", "cnf"})
"""Registered JWT claims a payload may carry beside the VCDM document (not JSON-LD terms)."""

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


@dataclass(frozen=True)
class VerifiedJwt:
    """A verified compact JWS: protected header, payload and the method that signed it."""

    header: dict[str, Any]
    payload: dict[str, Any]
    method: VerificationMethod
    token: str

    @property
    def document(self) -> dict[str, Any]:
        """The VCDM credential / presentation: the payload without the JWT claims."""
        return {k: v for k, v in self.payload.items() if k not in JWT_CLAIMS}


@dataclass(frozen=True)
class VerifiedPresentation(VerifiedJwt):
    """A verified ``vp+jwt`` and its verified enveloped credentials, in order."""

    credentials: tuple[VerifiedJwt, ...] = ()


def _fail(detail: str, reason: str) -> VerificationFailed:
    return VerificationFailed(detail, reason=reason)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str, what: str) -> bytes:
    data = segment.encode("ascii")
    if b"+" in data or b"/" in data or b"=" in data:
        raise _fail(f"JWT {what} is not unpadded base64url", "malformed_jwt")
    try:
        return base64.b64decode(
            data.translate(_TO_STANDARD) + b"=" * (-len(data) % 4), validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise _fail(f"JWT {what} is not base64url", "malformed_jwt") from exc


def _no_constants(value: str) -> Any:
    raise ValueError(f"JSON constant {value} not allowed")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member in JOSE header")
    return result


_PAYLOAD_DECODER = json.JSONDecoder(parse_constant=_no_constants)
_HEADER_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique_object)


def _json_object(data: bytes, what: str, *, unique: bool = False) -> dict[str, Any]:
    decoder = _HEADER_DECODER if unique else _PAYLOAD_DECODER
    try:
        value = decoder.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _fail(f"JWT {what} is not JSON: {str(exc)[:80]}", "malformed_jwt") from exc
    if not isinstance(value, dict):
        raise _fail(f"JWT {what} is not a JSON object", "malformed_jwt")
    return value


def _typ_matches(typ: Any, typs: frozenset[str]) -> bool:
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return (typ[len("application/") :] if typ.startswith("application/") else typ) in typs


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def algorithm_for(key: PrivateKey | PublicKey) -> str:
    """The JWS ``alg`` for a key: EdDSA, ES256 or PS256."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise Invalid("only P-256 EC keys are supported", reason="alg_not_allowed")
        return "ES256"
    return "PS256"


def _check_signature(method: VerificationMethod, alg: str, data: bytes, signature: bytes) -> None:
    key = method.public_key
    jwk_alg = method.jwk.get("alg")
    try:
        fits = algorithm_for(key) == alg and (jwk_alg is None or jwk_alg == alg)
    except Invalid:
        fits = False
    if not fits:
        raise _fail(f"alg {alg} does not fit the key of {method.id}", "alg_not_allowed")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            key.verify(signature, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        else:
            if len(signature) != (key.key_size + 7) // 8:
                raise InvalidSignature
            key.verify(signature, data, _PSS, hashes.SHA256())
    except InvalidSignature as exc:
        raise _fail(f"signature does not verify with {method.id}", "bad_signature") from exc


def verify_jws(
    token: str,
    *,
    resolver: MethodResolver,
    relationship: Relationship,
    typs: frozenset[str] | None,
    max_bytes: int = MAX_JWT_BYTES,
    default_kid: str | None = None,
) -> VerifiedJwt:
    """Verify a compact JWS whose key is found through ``kid`` (the building block of the
    VC/VP checks here and of self-issued tokens). ``typs=None`` skips the ``typ`` check.
    ``default_kid`` (an absolute method id the caller chose, e.g. the only key of a DID
    document) stands in for a header without ``kid``; it is still resolved for ``relationship``.

    A relative ``kid`` (``#key-1``) is resolved against the payload's ``iss`` (or issuer/holder).
    Claims are *not* checked here: see :func:`verify_vc_jwt`, :func:`verify_vp_jwt`.
    """
    if not isinstance(token, str) or not token.isascii():
        raise _fail("a JWT must be an ASCII string", "malformed_jwt")
    if len(token) > max_bytes:
        raise _fail(f"JWT of {len(token)} bytes is over {max_bytes}", "jwt_too_large")
    parts = token.split(".")
    if len(parts) != 3:
        raise _fail("not a compact JWS (three dot-separated parts)", "malformed_jwt")
    header_b64, payload_b64, signature_b64 = parts
    header = _json_object(_b64decode(header_b64, "header"), "header", unique=True)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _fail(f"alg {str(alg)[:20]!r} is not allowed", "alg_not_allowed")
    if typs is not None and not _typ_matches(header.get("typ"), typs):
        raise _fail(f"typ {str(header.get('typ'))[:40]!r} is not one of {sorted(typs)}", "bad_typ")
    if "crit" in header or "b64" in header:
        raise _fail("JWS crit/b64 header parameters are not supported", "malformed_jwt")
    kid = header.get("kid", default_kid)
    if not isinstance(kid, str) or not kid:
        raise _fail("JWT header has no kid", "malformed_jwt")
    signature = _b64decode(signature_b64, "signature")
    if _b64encode(signature) != signature_b64:
        raise _fail("JWT signature is not canonical base64url", "malformed_jwt")
    payload = _json_object(_b64decode(payload_b64, "payload"), "payload")
    if kid.startswith("#"):
        base = _id_of(payload.get("iss")) or _id_of(payload.get("issuer"))
        base = base or _id_of(payload.get("holder"))
        if base is None:
            raise _fail("relative kid without iss/issuer/holder", "malformed_jwt")
        kid = base + kid
    method = resolver(kid, relationship)
    _check_signature(method, alg, f"{header_b64}.{payload_b64}".encode("ascii"), signature)
    return VerifiedJwt(header=header, payload=payload, method=method, token=token)


def _numeric(payload: Mapping[str, Any], claim: str) -> float | None:
    value = payload.get(claim)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"JWT claim {claim} is not a number", "malformed_jwt")
    return float(value)


def _instant(payload: Mapping[str, Any], member: str, reason: str) -> float | None:
    value = payload.get(member)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"{member} is not a dateTime string", reason)
    try:
        return parse_instant(value).timestamp()
    except ValueError as exc:
        raise _fail(f"{member} is not a dateTime: {value[:40]!r}", reason) from exc


def _check_times(payload: Mapping[str, Any], at: dt.datetime, skew: float, reason: str) -> None:
    now = at.timestamp()
    for claim, late in (
        ("exp", _numeric(payload, "exp")),
        ("validUntil", _instant(payload, "validUntil", reason)),
    ):
        if late is not None and now > late + skew:
            raise _fail(f"expired ({claim})", "expired")
    for claim, early in (
        ("nbf", _numeric(payload, "nbf")),
        ("iat", _numeric(payload, "iat")),
        ("validFrom", _instant(payload, "validFrom", reason)),
    ):
        if early is not None and now < early - skew:
            raise _fail(f"not yet valid ({claim})", "not_yet_valid")


def _check_document(payload: Mapping[str, Any], required_type: str, reason: str) -> None:
    context = payload.get("@context")
    first = context[0] if isinstance(context, list) and context else context
    if first != VC_CONTEXT:
        raise _fail(f"the first @context must be {VC_CONTEXT} (VCDM 2.0)", reason)
    types = payload.get("type")
    if not (types == required_type or (isinstance(types, list) and required_type in types)):
        raise _fail(f"type must include {required_type}", reason)


def _signature(key: PrivateKey, data: bytes) -> bytes:
    """The JWS signature of ``data`` (RFC 7518: Ed25519 raw, ES256 as r‖s, PS256 salt 32)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(data, _PSS, hashes.SHA256())


def _sign(payload: Mapping[str, Any], key: PrivateKey, header: dict[str, Any]) -> str:
    """A compact JWS (the key's algorithm is already in ``header``)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    protected = json.dumps(header, separators=(",", ":")).encode("utf-8")
    signing_input = f"{_b64encode(protected)}.{_b64encode(body)}"
    return f"{signing_input}.{_b64encode(_signature(key, signing_input.encode('ascii')))}"


def sign_jws(
    payload: Mapping[str, Any],
    *,
    key: PrivateKey,
    kid: str,
    typ: str | None,
    cty: str | None = None,
) -> str:
    """A compact JWS of ``payload``, protected header ``alg``/``typ``/``kid``/``cty``."""
    header: dict[str, Any] = {"alg": algorithm_for(key), "kid": kid}
    if typ is not None:
        header["typ"] = typ
    if cty is not None:
        header["cty"] = cty
    return _sign(payload, key, header)


def issue_vc_jwt(
    credential: Mapping[str, Any],
    *,
    key: PrivateKey,
    method_id: str,
    typ: str = "vc+jwt",
    cty: str | None = None,
) -> str:
    """Secure a VCDM 2.0 credential as a ``vc+jwt`` (payload = the credential, plus ``iss``)."""
    issuer = _id_of(credential.get("issuer"))
    if issuer is None or method_id.partition("#")[0] != issuer:
        raise Invalid(f"issuer {issuer} does not control {method_id}", reason="issuer_mismatch")
    if typ not in VC_TYPS:
        raise Invalid(f"not a credential typ: {typ}", reason="bad_typ")
    try:
        _check_document(credential, "VerifiableCredential", "bad_credential")
    except VerificationFailed as exc:
        raise Invalid(exc.detail, reason=exc.reason) from exc
    return sign_jws({**credential, "iss": issuer}, key=key, kid=method_id, typ=typ, cty=cty)


def verify_vc_jwt(
    token: str,
    *,
    resolver: MethodResolver,
    at: dt.datetime,
    skew_seconds: float = DEFAULT_SKEW_SECONDS,
    max_bytes: int = MAX_JWT_BYTES,
) -> VerifiedJwt:
    """Verify a ``vc+jwt``: signed by an ``assertionMethod`` of its issuer, valid at ``at``."""
    verified = verify_jws(
        token, resolver=resolver, relationship="assertionMethod", typs=VC_TYPS, max_bytes=max_bytes
    )
    payload = verified.payload
    _check_document(payload, "VerifiableCredential", "bad_credential")
    issuer = _id_of(payload.get("issuer"))
    if issuer is None:
        raise _fail("the credential names no issuer", "bad_credential")
    iss = payload.get("iss")
    if (iss is not None and iss != issuer) or verified.method.controller != issuer:
        raise _fail(
            f"issuer {issuer[:80]} does not control {verified.method.id}", "issuer_mismatch"
        )
    _check_times(payload, at, skew_seconds, "bad_credential")
    return verified


def envelope(vc_jwt: str, media_type: str = "application/vc+jwt") -> dict[str, Any]:
    """An ``EnvelopedVerifiableCredential`` entry carrying ``vc_jwt``."""
    prefix = f"data:{media_type},"
    if prefix not in ENVELOPE_PREFIXES:
        raise Invalid(f"unsupported envelope media type {media_type}", reason="bad_typ")
    return {"@context": VC_CONTEXT, "id": prefix + vc_jwt, "type": "EnvelopedVerifiableCredential"}


def unenvelope(entry: Any) -> str:
    """The compact JWT inside an ``EnvelopedVerifiableCredential`` entry."""
    if not isinstance(entry, dict):
        raise _fail("a presented credential is not an object", "unsupported_credential_format")
    types = entry.get("type")
    if not (
        types == "EnvelopedVerifiableCredential"
        or (isinstance(types, list) and "EnvelopedVerifiableCredential" in types)
    ):
        raise _fail(
            "only EnvelopedVerifiableCredential entries are accepted",
            "unsupported_credential_format",
        )
    ident = entry.get("id")
    if isinstance(ident, str):
        for prefix in ENVELOPE_PREFIXES:
            if ident.startswith(prefix):
                return ident[len(prefix) :]
    raise _fail(
        "the envelope is not a data:application/vc+jwt URL", "unsupported_credential_format"
    )


def issue_vp_jwt(
    credentials: Sequence[str],
    *,
    key: PrivateKey,
    method_id: str,
    audience: str,
    issued_at: dt.datetime,
    nonce: str | None = None,
    lifetime_seconds: int = 300,
    presentation_id: str | None = None,
    typ: str = "vp+jwt",
    envelope_media_type: str = "application/vc+jwt",
) -> str:
    """A ``vp+jwt`` by the holder that controls ``method_id``, enveloping ``credentials``
    (compact vc+jwt strings), bound to ``audience`` (and ``nonce``), valid ``lifetime_seconds``."""
    if typ not in VP_TYPS:
        raise Invalid(f"not a presentation typ: {typ}", reason="bad_typ")
    holder = method_id.partition("#")[0]
    iat = int(issued_at.timestamp())
    payload: dict[str, Any] = {"@context": [VC_CONTEXT], "type": ["VerifiablePresentation"]}
    if presentation_id is not None:
        payload["id"] = presentation_id
    payload["holder"] = holder
    payload["verifiableCredential"] = [envelope(c, envelope_media_type) for c in credentials]
    payload.update({"iss": holder, "aud": audience, "iat": iat, "exp": iat + lifetime_seconds})
    if nonce is not None:
        payload["nonce"] = nonce
    return sign_jws(payload, key=key, kid=method_id, typ=typ)


def verify_vp_jwt(
    token: str,
    *,
    resolver: MethodResolver,
    at: dt.datetime,
    audience: str,
    nonce: str | None = None,
    skew_seconds: float = DEFAULT_SKEW_SECONDS,
    max_bytes: int = MAX_VP_BYTES,
    max_credentials: int = MAX_CREDENTIALS,
) -> VerifiedPresentation:
    """Verify a ``vp+jwt`` for ``audience`` (and ``nonce``) and every enveloped ``vc+jwt``.

    The holder signs with an ``authentication`` method; without a ``nonce`` to match, the
    presentation must carry ``exp`` (it cannot be replayed forever).
    """
    verified = verify_jws(
        token, resolver=resolver, relationship="authentication", typs=VP_TYPS, max_bytes=max_bytes
    )
    payload = verified.payload
    _check_document(payload, "VerifiablePresentation", "bad_presentation")
    holder, iss = _id_of(payload.get("holder")), payload.get("iss")
    presenter = holder or iss
    if presenter is None or (iss is not None and iss != presenter):
        raise _fail("the presentation names no consistent holder", "holder_mismatch")
    if verified.method.controller != presenter:
        raise _fail(
            f"holder {str(presenter)[:80]} does not control {verified.method.id}", "holder_mismatch"
        )
    aud = payload.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise _fail("the presentation is for another audience", "audience_mismatch")
    if nonce is not None and payload.get("nonce") != nonce:
        raise _fail("the presentation answers another nonce", "nonce_mismatch")
    if nonce is None and payload.get("exp") is None:
        raise _fail("a presentation without nonce must carry exp", "missing_expiry")
    _check_times(payload, at, skew_seconds, "bad_presentation")
    entries = payload.get("verifiableCredential", [])
    entries = entries if isinstance(entries, list) else [entries]
    if len(entries) > max_credentials:
        raise _fail(f"more than {max_credentials} credentials", "bad_presentation")
    credentials: list[VerifiedJwt] = []
    for index, entry in enumerate(entries):
        try:
            credentials.append(
                verify_vc_jwt(
                    unenvelope(entry), resolver=resolver, at=at, skew_seconds=skew_seconds
                )
            )
        except VerificationFailed as exc:
            raise VerificationFailed(
                f"credential {index}: {exc.detail}", reason=exc.reason, credential_index=index
            ) from exc
    return VerifiedPresentation(
        header=verified.header,
        payload=payload,
        method=verified.method,
        token=token,
        credentials=tuple(credentials),
    )
