"""Signed checkpoints: "the chain had ``seq`` entries and its head was ``head`` at ``time``".

A checkpoint is a compact JWS (EdDSA with the connector's Ed25519 key, or ES256 with its P-256
key) over the JCS bytes of::

    {"type": "AuditCheckpoint", "v": 1, "issuer": <DID>, "kid": <verification method>,
     "kind": "periodic" | "on_demand" | "pruned", "seq": N, "head": <hash of entry N>,
     "time": <UTC time>}

``kind = "pruned"`` says "entries up to N were deleted by retention; entry N's hash was
``head``": the verifier starts the chain there. Any JWS library can check a checkpoint
with the public key from the connector's DID document.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from connector.audit.event import canonical, format_time
from connector.errors import Invalid

CheckpointKind = Literal["periodic", "on_demand", "pruned"]
KINDS: frozenset[str] = frozenset({"periodic", "on_demand", "pruned"})
ALGORITHMS = ("EdDSA", "ES256")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    head: str
    time: str
    kind: str
    issuer: str
    kid: str
    jwk: Mapping[str, Any]
    """The signer's public JWK, so an export is self-contained (pin it with trusted keys)."""
    jws: str

    def payload(self) -> dict[str, Any]:
        return payload(
            seq=self.seq,
            head=self.head,
            time=self.time,
            kind=self.kind,
            issuer=self.issuer,
            kid=self.kid,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "head": self.head,
            "time": self.time,
            "kind": self.kind,
            "issuer": self.issuer,
            "kid": self.kid,
            "jwk": dict(self.jwk),
            "jws": self.jws,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Checkpoint:
        try:
            seq = record["seq"]
            key = record["jwk"]
            if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(key, Mapping):
                raise TypeError("seq/jwk")
            strings = {n: record[n] for n in ("head", "time", "kind", "issuer", "kid", "jws")}
            if not all(isinstance(v, str) for v in strings.values()):
                raise TypeError("fields")
        except (KeyError, TypeError) as exc:
            raise Invalid(f"not a checkpoint record ({exc})", reason="audit_record") from exc
        return cls(seq=seq, jwk=dict(key), **strings)


def payload(*, seq: int, head: str, time: str, kind: str, issuer: str, kid: str) -> dict[str, Any]:
    return {
        "type": "AuditCheckpoint",
        "v": 1,
        "issuer": issuer,
        "kid": kid,
        "kind": kind,
        "seq": seq,
        "head": head,
        "time": time,
    }


@dataclass(frozen=True)
class CheckpointSigner:
    """Signs checkpoints with one of the connector's keys.

    Build it from the key set: ``CheckpointSigner(keyset.ed25519, keyset.method_id("ed25519"),
    keyset.did)`` (or the P-256 key for ES256).
    """

    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    kid: str
    issuer: str

    @property
    def algorithm(self) -> str:
        return "EdDSA" if isinstance(self.key, ed25519.Ed25519PrivateKey) else "ES256"

    def public_jwk(self) -> dict[str, Any]:
        exported: dict[str, Any] = jwk.JWK.from_pyca(self.key.public_key()).export_public(
            as_dict=True
        )
        exported.pop("kid", None)
        return exported

    def sign(self, *, seq: int, head: str, at: dt.datetime, kind: CheckpointKind) -> Checkpoint:
        time = format_time(at)
        body = canonical(
            payload(seq=seq, head=head, time=time, kind=kind, issuer=self.issuer, kid=self.kid)
        )
        token = jws.JWS(body)
        protected = {"alg": self.algorithm, "kid": self.kid, "typ": "audit-checkpoint+jws"}
        token.add_signature(
            jwk.JWK.from_pyca(self.key), alg=self.algorithm, protected=json.dumps(protected)
        )
        return Checkpoint(
            seq=seq,
            head=head,
            time=time,
            kind=kind,
            issuer=self.issuer,
            kid=self.kid,
            jwk=self.public_jwk(),
            jws=token.serialize(compact=True),
        )


def thumbprint(key: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK."""
    try:
        value: str = jwk.JWK(**{k: v for k, v in key.items() if k != "d"}).thumbprint()
    except (JWException, TypeError, ValueError) as exc:
        raise Invalid("not a usable JWK", reason="bad_key") from exc
    return value


def trusted_keys(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Public keys to pin, by thumbprint, from a JWK, a JWK set or a DID document."""
    candidates: Iterable[Any]
    if "kty" in document:
        candidates = [document]
    elif isinstance(document.get("keys"), list):
        candidates = document["keys"]
    else:
        methods = document.get("verificationMethod", [])
        candidates = [m.get("publicKeyJwk") for m in methods if isinstance(m, Mapping)]
    keys: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        if isinstance(candidate, Mapping) and candidate.get("kty") in {"OKP", "EC"}:
            public = {k: v for k, v in candidate.items() if k != "d"}
            keys[thumbprint(public)] = public
    if not keys:
        raise Invalid("no Ed25519 or EC public key found to trust", reason="bad_key")
    return keys


def check(checkpoint: Checkpoint, trusted: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """``None`` if the checkpoint's signature is valid, else what is wrong.

    With ``trusted`` keys (by thumbprint) the signer must be one of them; without, the key
    embedded in the checkpoint is used (which proves integrity, not origin).
    """
    if checkpoint.kind not in KINDS:
        return f"unknown checkpoint kind {checkpoint.kind!r}"
    try:
        print_ = thumbprint(checkpoint.jwk)
    except Invalid:
        return "checkpoint key is not a usable JWK"
    key_doc: Mapping[str, Any] = checkpoint.jwk
    if trusted is not None:
        if print_ not in trusted:
            return f"checkpoint signed by a key that is not trusted ({print_})"
        key_doc = trusted[print_]
    try:
        token = jws.JWS()
        token.deserialize(checkpoint.jws)
        header = token.jose_header
        alg = header.get("alg") if isinstance(header, dict) else None
        if alg not in ALGORITHMS:
            return f"checkpoint signature algorithm {alg!r} not allowed"
        token.allowed_algs = [alg]
        token.verify(jwk.JWK(**dict(key_doc)), alg=alg)
        signed = token.payload
    except (JWException, ValueError, TypeError):
        return "checkpoint signature does not verify"
    if signed != canonical(checkpoint.payload()):
        return "checkpoint fields differ from what was signed"
    return None
