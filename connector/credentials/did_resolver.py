"""DID resolution: did:web through an injected fetcher, did:key offline, with a TTL cache (pure).

The resolver is the :class:`~connector.credentials.methods.MethodResolver` that every verifier
receives: ``resolver(method_id, relationship)`` returns the verification method only if the DID
document lists it under that relationship (by reference or embedded), and raises
``VerificationFailed`` with a precise ``reason`` otherwise:

=============================  ================================================================
reason                         meaning
=============================  ================================================================
``bad_method_id``              not an absolute DID URL with a fragment
``unsupported_did_method``     neither did:web nor did:key (and not pinned)
``bad_did``                    a malformed did:web / did:key
``unknown_did``                the DID document does not exist (HTTP 404/410, or no fetcher)
``did_unavailable``            the host could not be reached / answered with an error
``did_document_too_large``     the DID document is over the size cap
``bad_did_document``           not JSON, wrong structure, duplicate method ids
``did_document_id_mismatch``   the document's ``id`` is not the DID that was resolved
``private_key_in_did_document``  a method carries private key material (``d`` …)
``method_not_authorized``      the method is not in the document under the relationship
``controller_mismatch``        the method's ``controller`` is not the DID
``unsupported_key_type``       a key type / curve this connector does not verify
``bad_key``                    a malformed key
=============================  ================================================================

Invalid documents are cached for ``negative_ttl_seconds`` (a hostile token cannot make us
hammer a host), a host that could not be reached (``did_unavailable``, usually passing) for
``unavailable_ttl_seconds``; valid documents for ``ttl_seconds``; pinned documents (our own
DID, tests) never expire and are never fetched. Time comes from the injected :class:`Clock`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from connector.clock import Clock
from connector.credentials import did_key
from connector.credentials.did_web import url_from_did
from connector.credentials.methods import PublicKey, Relationship, VerificationMethod
from connector.credentials.multikey import decode_public_key
from connector.errors import (
    ConnectorError,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    VerificationFailed,
)

MAX_DOCUMENT_BYTES = 64 * 1024
MAX_DID_LENGTH = 2048
MAX_METHODS = 100
RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
)
JWK_TYPES = frozenset({"JsonWebKey", "JsonWebKey2020"})
MULTIBASE_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020"})
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
PRIVATE_METHOD_MEMBERS = frozenset({"privateKeyJwk", "privateKeyMultibase", "privateKeyBase58"})
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192


class DidFetcher(Protocol):
    def fetch(self, url: str) -> bytes:
        """The body of the DID document at ``url``.

        Raises ``NotFound`` (no such document), ``Unavailable`` (unreachable, error status),
        ``PayloadTooLarge`` or ``Invalid`` (refused URL or response), each with a reason.
        """
        ...


@dataclass(frozen=True)
class DidDocument:
    """A validated DID document: its usable methods by absolute id, and who may do what."""

    did: str
    document: Mapping[str, Any]
    methods: Mapping[str, VerificationMethod]
    relationships: Mapping[str, frozenset[str]]
    rejected: Mapping[str, VerificationFailed] = field(default_factory=dict)
    """Methods present but unusable (unsupported key, foreign controller), with the reason."""

    def method(self, method_id: str, relationship: Relationship) -> VerificationMethod:
        """The method, if this document lists it under ``relationship``."""
        refused = self.rejected.get(method_id)
        method = self.methods.get(method_id)
        if method_id not in self.relationships.get(relationship, frozenset()) or (
            method is None and refused is None
        ):
            known = method is not None or refused is not None
            where = "listed elsewhere" if known else "not in the DID document"
            raise VerificationFailed(
                f"{method_id} is not a {relationship} method of {self.did} ({where})",
                reason="method_not_authorized",
                method=method_id,
            )
        if refused is not None:
            raise VerificationFailed(refused.detail, reason=refused.reason, method=method_id)
        assert method is not None
        return method

    def services(self, service_type: str) -> list[str]:
        """The string ``serviceEndpoint`` values of the services of ``service_type``."""
        found: list[str] = []
        services = self.document.get("service", [])
        for service in services if isinstance(services, list) else []:
            if not isinstance(service, dict):
                continue
            types = service.get("type")
            names = types if isinstance(types, list) else [types]
            endpoint = service.get("serviceEndpoint")
            if service_type in names and isinstance(endpoint, str):
                found.append(endpoint)
        return found


def _bad(detail: str, reason: str = "bad_did_document") -> VerificationFailed:
    return VerificationFailed(detail, reason=reason)


def _absolute(did: str, ref: Any) -> str:
    if not isinstance(ref, str) or not ref:
        raise _bad(f"DID document of {did}: a method id is not a string")
    if ref.startswith("#"):
        return did + ref
    if not ref.startswith("did:"):
        raise _bad(
            f"DID document of {did}: method id {ref[:80]!r} is neither #fragment nor DID URL"
        )
    return ref


def _b64url(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or any(c in value for c in "+/="):
        raise _bad(f"JWK member {what} is not base64url", "bad_key")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _bad(f"JWK member {what} is not base64url", "bad_key") from exc


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """An Ed25519 (OKP), P-256 (EC) or RSA (2048–8192 bit) public key from a public JWK."""
    if PRIVATE_JWK_MEMBERS & jwk.keys():
        raise _bad("the JWK carries private key material", "private_key_in_did_document")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    try:
        if kty == "OKP" and crv == "Ed25519":
            x = _b64url(jwk.get("x"), "x")
            if len(x) != 32:
                raise _bad("Ed25519 JWK: x must be 32 bytes", "bad_key")
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        if kty == "EC" and crv == "P-256":
            x, y = _b64url(jwk.get("x"), "x"), _b64url(jwk.get("y"), "y")
            if len(x) != 32 or len(y) != 32:
                raise _bad("P-256 JWK: x and y must be 32 bytes", "bad_key")
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            )
            return numbers.public_key()
        if kty == "RSA":
            n = int.from_bytes(_b64url(jwk.get("n"), "n"), "big")
            e = int.from_bytes(_b64url(jwk.get("e"), "e"), "big")
            if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
                raise _bad(f"RSA key of {n.bit_length()} bits", "unsupported_key_type")
            if e < 3 or e % 2 == 0 or e.bit_length() > 32:
                raise _bad("RSA public exponent must be odd, >= 3 and < 2**32", "bad_key")
            return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise _bad(f"invalid {kty} key: {exc}", "bad_key") from exc
    raise _bad(f"unsupported JWK (kty={kty!r}, crv={crv!r})", "unsupported_key_type")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_from_public_key(key: PublicKey) -> dict[str, Any]:
    """The public JWK of an Ed25519, P-256 or RSA public key."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw)),
        }
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
    numbers_rsa = key.public_numbers()
    return {
        "kty": "RSA",
        "n": _b64(numbers_rsa.n.to_bytes((numbers_rsa.n.bit_length() + 7) // 8, "big")),
        "e": _b64(numbers_rsa.e.to_bytes((numbers_rsa.e.bit_length() + 7) // 8, "big")),
    }


def _parse_method(did: str, raw: Any) -> tuple[str, VerificationMethod | VerificationFailed]:
    """Parse one method: the usable method, or the reason it cannot be used."""
    if not isinstance(raw, dict):
        raise _bad(f"DID document of {did}: a verification method is not an object")
    method_id = _absolute(did, raw.get("id"))
    if PRIVATE_METHOD_MEMBERS & raw.keys():
        raise _bad(f"{method_id} carries a private key", "private_key_in_did_document")
    jwk = raw.get("publicKeyJwk")
    if isinstance(jwk, dict) and PRIVATE_JWK_MEMBERS & jwk.keys():
        raise _bad(
            f"{method_id}: publicKeyJwk carries private key material", "private_key_in_did_document"
        )
    method_type, controller = raw.get("type"), raw.get("controller")
    if not isinstance(method_type, str) or not isinstance(controller, str):
        raise _bad(f"{method_id}: type and controller must be strings")
    if controller != did:
        return method_id, _bad(
            f"{method_id}: controller {controller[:80]} is not {did}", "controller_mismatch"
        )
    try:
        if method_type in JWK_TYPES:
            if not isinstance(jwk, dict) or "publicKeyMultibase" in raw:
                raise _bad(f"{method_id}: {method_type} needs publicKeyJwk (only)", "bad_key")
            key = public_key_from_jwk(jwk)
            public = dict(jwk)
        elif method_type in MULTIBASE_TYPES:
            multibase = raw.get("publicKeyMultibase")
            if not isinstance(multibase, str) or "publicKeyJwk" in raw:
                raise _bad(f"{method_id}: {method_type} needs publicKeyMultibase (only)", "bad_key")
            try:
                key = decode_public_key(multibase)
            except Invalid as exc:
                raise _bad(f"{method_id}: {exc.detail}", "bad_key") from exc
            if method_type == "Ed25519VerificationKey2020" and not isinstance(
                key, ed25519.Ed25519PublicKey
            ):
                raise _bad(f"{method_id}: not an Ed25519 key", "bad_key")
            public = jwk_from_public_key(key)
        else:
            raise _bad(
                f"{method_id}: unsupported method type {method_type[:60]}", "unsupported_key_type"
            )
    except VerificationFailed as exc:
        if exc.reason == "private_key_in_did_document":
            raise
        return method_id, exc
    return method_id, VerificationMethod(
        id=method_id, controller=controller, type=method_type, public_key=key, jwk=public
    )


def parse_did_document(did: str, document: Any) -> DidDocument:
    """Validate a DID document for ``did`` and index its methods and relationships."""
    if not isinstance(document, dict):
        raise _bad(f"DID document of {did} is not a JSON object")
    if document.get("id") != did:
        shown = str(document.get("id"))[:80]
        raise _bad(f"DID document id {shown} is not {did}", "did_document_id_mismatch")
    parsed: dict[str, tuple[Any, VerificationMethod | VerificationFailed]] = {}

    def add(raw: Any) -> str:
        if len(parsed) >= MAX_METHODS:
            raise _bad(f"DID document of {did} has more than {MAX_METHODS} methods")
        method_id, result = _parse_method(did, raw)
        if method_id in parsed and parsed[method_id][0] != raw:
            raise _bad(f"DID document of {did} defines {method_id} twice")
        parsed[method_id] = (raw, result)
        return method_id

    declared = document.get("verificationMethod", [])
    if not isinstance(declared, list):
        raise _bad(f"DID document of {did}: verificationMethod must be a list")
    for raw in declared:
        add(raw)
    relationships: dict[str, frozenset[str]] = {}
    for name in RELATIONSHIPS:
        entries = document.get(name, [])
        if not isinstance(entries, list):
            raise _bad(f"DID document of {did}: {name} must be a list")
        ids = {
            add(entry) if isinstance(entry, dict) else _absolute(did, entry) for entry in entries
        }
        relationships[name] = frozenset(ids)
    methods = {mid: r for mid, (_, r) in parsed.items() if isinstance(r, VerificationMethod)}
    rejected = {mid: r for mid, (_, r) in parsed.items() if isinstance(r, VerificationFailed)}
    return DidDocument(did, document, methods, relationships, rejected)


REFRESH_INTERVAL = 30.0
"""Seconds a cached DID document is kept before an unknown key id may trigger a re-fetch."""


@dataclass
class _Entry:
    expires: float
    result: DidDocument | VerificationFailed
    loaded: float = 0.0


class DidResolver:
    """Resolve DIDs and verification methods; an instance is a ``MethodResolver``."""

    def __init__(
        self,
        clock: Clock,
        fetcher: DidFetcher | None = None,
        *,
        allow_http: bool = False,
        ttl_seconds: float = 300.0,
        negative_ttl_seconds: float = 30.0,
        unavailable_ttl_seconds: float = 5.0,
        max_entries: int = 1024,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        pinned: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._clock = clock
        self._fetcher = fetcher
        self._allow_http = allow_http
        self._ttl = ttl_seconds
        self._negative_ttl = negative_ttl_seconds
        self._unavailable_ttl = min(unavailable_ttl_seconds, negative_ttl_seconds)
        self._max_entries = max_entries
        self._max_bytes = max_document_bytes
        self._pinned: dict[str, DidDocument] = {}
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        for document in pinned:
            self.pin(document)

    def pin(self, document: Mapping[str, Any]) -> DidDocument:
        """Serve ``document`` for its ``id`` from now on, without fetching or expiry."""
        did = document.get("id")
        if not isinstance(did, str):
            raise Invalid("a pinned DID document needs a string id", reason="bad_did_document")
        parsed = parse_did_document(did, copy.deepcopy(dict(document)))
        with self._lock:
            self._pinned[did] = parsed
        return parsed

    def invalidate(self, did: str) -> None:
        """Forget a cached (not pinned) document, e.g. after a key rotation was announced."""
        with self._lock:
            self._cache.pop(did, None)

    def resolve(self, did: str) -> DidDocument:
        """The validated DID document of ``did``; ``VerificationFailed`` with a reason otherwise."""
        pinned = self._pinned.get(did)
        if pinned is not None:
            return pinned
        now = self._clock.monotonic()
        with self._lock:
            entry = self._cache.get(did)
            if entry is not None and entry.expires > now:
                self._cache.move_to_end(did)
                result = entry.result
                if isinstance(result, DidDocument):
                    return result
                raise VerificationFailed(result.detail, reason=result.reason, did=did)
        try:
            result = self._load(did)
            ttl = self._ttl
        except VerificationFailed as exc:
            transient = exc.reason == "did_unavailable"
            result, ttl = exc, self._unavailable_ttl if transient else self._negative_ttl
        if ttl > 0:
            with self._lock:
                loaded = self._clock.monotonic()
                self._cache[did] = _Entry(loaded + ttl, result, loaded)
                self._cache.move_to_end(did)
                while len(self._cache) > self._max_entries:
                    self._cache.popitem(last=False)
        if isinstance(result, VerificationFailed):
            raise result
        return result

    def resolve_method(self, method_id: str, relationship: Relationship) -> VerificationMethod:
        """The method ``method_id`` if its DID lists it under ``relationship``."""
        did, hash_, fragment = method_id.partition("#")
        if (
            not hash_
            or not fragment
            or not did.startswith("did:")
            or len(method_id) > MAX_DID_LENGTH
        ):
            raise VerificationFailed(
                f"not a DID URL with a fragment: {method_id[:80]!r}", reason="bad_method_id"
            )
        document = self.resolve(did)
        try:
            return document.method(method_id, relationship)
        except VerificationFailed:
            if not self._may_refresh(did):
                raise
        # A key we have not seen (the controller may have rotated): fetch the document again,
        # at most once per REFRESH_INTERVAL per DID, so unknown key ids cannot force fetches.
        self.invalidate(did)
        return self.resolve(did).method(method_id, relationship)

    def _may_refresh(self, did: str) -> bool:
        if did in self._pinned or self._fetcher is None or did_key.is_did_key(did):
            return False
        with self._lock:
            entry = self._cache.get(did)
        return (
            entry is not None
            and isinstance(entry.result, DidDocument)
            and self._clock.monotonic() - entry.loaded >= REFRESH_INTERVAL
        )

    def __call__(self, method_id: str, relationship: Relationship) -> VerificationMethod:
        return self.resolve_method(method_id, relationship)

    def _load(self, did: str) -> DidDocument:
        if len(did) > MAX_DID_LENGTH:
            raise _bad(f"DID longer than {MAX_DID_LENGTH} characters", "bad_did")
        if did_key.is_did_key(did):
            try:
                return parse_did_document(did, did_key.did_key_document(did))
            except Invalid as exc:
                raise _bad(exc.detail, exc.reason) from exc
        if not did.startswith("did:web:"):
            method = ":".join(did.split(":")[:2])[:40]
            raise _bad(f"DID method not supported: {method}", "unsupported_did_method")
        try:
            url = url_from_did(did, allow_http=self._allow_http)
        except Invalid as exc:
            raise _bad(exc.detail, "bad_did") from exc
        if self._fetcher is None:
            raise _bad(f"{did} is not known to this offline resolver", "unknown_did")
        try:
            body = self._fetcher.fetch(url)
        except NotFound as exc:
            raise _bad(f"no DID document for {did}: {exc.detail}", "unknown_did") from exc
        except PayloadTooLarge as exc:
            raise _bad(f"DID document of {did}: {exc.detail}", "did_document_too_large") from exc
        except Unavailable as exc:
            raise _bad(f"DID document of {did}: {exc.detail}", "did_unavailable") from exc
        except ConnectorError as exc:
            raise _bad(f"DID document of {did}: {exc.detail}", exc.reason) from exc
        if len(body) > self._max_bytes:
            raise _bad(
                f"DID document of {did} is over {self._max_bytes} bytes", "did_document_too_large"
            )
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _bad(f"DID document of {did} is not JSON") from exc
        return parse_did_document(did, document)
