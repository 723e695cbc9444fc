"""Verification methods and the port through which proofs find their keys.

Verifiers never fetch anything themselves: they receive a :class:`MethodResolver`, which looks a
verification method up (in a DID document obtained through an injected resolver, or a did:key)
and checks that the DID document lists it under the verification relationship the proof claims
(``assertionMethod`` for credentials, ``authentication`` for presentations and tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
Relationship = Literal["assertionMethod", "authentication", "capabilityInvocation"]


@dataclass(frozen=True)
class VerificationMethod:
    id: str
    """Absolute id, e.g. ``did:web:hagen.example#ed25519-multikey``."""
    controller: str
    """The DID that controls the key (the issuer must equal it)."""
    type: str
    """``Multikey``, ``JsonWebKey``, ``JsonWebKey2020`` …"""
    public_key: PublicKey
    jwk: dict[str, Any] = field(default_factory=dict)
    """The public JWK (always filled, also for Multikey methods)."""


class MethodResolver(Protocol):
    def __call__(self, method_id: str, relationship: Relationship) -> VerificationMethod:
        """Return the method, or raise ``VerificationFailed`` (unknown DID, key not listed
        under ``relationship``, unreachable DID document…)."""
        ...
