"""did:web identifiers and this participant's DID document (pure; resolution is in did_resolver).

``http://127.0.0.1:8181`` → ``did:web:127.0.0.1%3A8181``;
``https://hagen.example/connector`` → ``did:web:hagen.example:connector``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from connector.credentials import keys as keymod
from connector.credentials.multikey import encode_public_key
from connector.errors import Invalid

DID_CONTEXTS = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/jwk/v1",
    "https://w3id.org/security/multikey/v1",
]


def did_from_url(url: str) -> str:
    """The did:web DID of a base URL (port percent-encoded, path segments as ``:``)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid(f"not an http(s) URL: {url}", reason="bad_did")
    host = parts.hostname.lower()
    if parts.port is not None:
        host = f"{host}%3A{parts.port}"
    segments = [quote(seg, safe="") for seg in parts.path.split("/") if seg]
    return ":".join(["did", "web", host, *segments])


def url_from_did(did: str, *, allow_http: bool = False) -> str:
    """The URL of the DID document of a did:web DID (``/.well-known/did.json`` without a path).

    ``https`` always; ``http`` only where ``allow_http`` (``CONNECTOR_ALLOW_INSECURE_DID_WEB``).
    """
    if not did.startswith("did:web:"):
        raise Invalid(f"not a did:web DID: {did}", reason="bad_did")
    body = did[len("did:web:") :]
    if "#" in body or "?" in body or "/" in body:
        raise Invalid(f"malformed did:web DID: {did}", reason="bad_did")
    segments = body.split(":")
    host = unquote(segments[0])
    if not host or any(not seg for seg in segments):
        raise Invalid(f"malformed did:web DID: {did}", reason="bad_did")
    if any(c in host for c in "@/\\ ") or host.count(":") > 1:
        raise Invalid(f"malformed did:web host: {did}", reason="bad_did")
    path = "/".join(unquote(seg) for seg in segments[1:])
    scheme = "http" if allow_http else "https"
    if path:
        return f"{scheme}://{host}/{path}/did.json"
    return f"{scheme}://{host}/.well-known/did.json"


def _methods(
    did: str,
    kind: keymod.KeyKind,
    public: keymod.PublicKey,
    fragment: str,
    x5u: str | None,
) -> list[dict[str, Any]]:
    """The JsonWebKey method (and, for Ed25519/P-256, the Multikey method) of one public key."""
    method_id = f"{did}#{fragment}"
    jwk = keymod.public_jwk(public)
    jwk["kid"] = method_id
    jwk["alg"] = keymod.JWS_ALG[kind]
    if x5u:
        jwk["x5u"] = x5u
    methods: list[dict[str, Any]] = [
        {"id": method_id, "type": "JsonWebKey", "controller": did, "publicKeyJwk": jwk}
    ]
    if kind in keymod.MULTIKEY_FRAGMENTS and not isinstance(public, rsa.RSAPublicKey):
        methods.append(
            {
                "id": f"{method_id}-multikey",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": encode_public_key(public),
            }
        )
    return methods


def build_did_document(
    keyset: keymod.KeySet,
    *,
    services: list[dict[str, Any]] | None = None,
    x5u: str | None = None,
) -> dict[str, Any]:
    """This participant's DID document: every key as JsonWebKey, Ed25519/P-256 also as Multikey.

    The current keys are listed under ``assertionMethod`` (credentials) and ``authentication``
    (self-issued tokens); retired keys (``keyset.retired``) only under ``assertionMethod``, so
    credentials signed before a rotation still verify but no token is accepted from them.
    """
    did = keyset.did
    methods: list[dict[str, Any]] = []
    for kind in keyset.kinds():
        fragment = keyset.method_id(kind).split("#", 1)[1]
        public = keyset.key(kind).public_key()
        methods.extend(_methods(did, kind, public, fragment, x5u if kind == "rsa" else None))
    current = [m["id"] for m in methods]
    for retired in keyset.retired:
        methods.extend(_methods(did, retired.kind, retired.public_key, retired.fragment, None))
    document: dict[str, Any] = {
        "@context": list(DID_CONTEXTS),
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
        "authentication": current,
    }
    if services:
        document["service"] = services
    return document
