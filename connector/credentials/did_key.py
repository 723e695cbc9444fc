"""did:key identifiers (Ed25519 ``z6Mk…`` and P-256 ``zDn…``): offline, no fetch (pure).

A did:key DID *is* its public key: ``did:key:<publicKeyMultibase>``. Its DID document is derived
from the identifier alone (did:key method v0.7): one ``Multikey`` verification method with the
id ``did:key:<mb>#<mb>``, listed under ``authentication``, ``assertionMethod``,
``capabilityInvocation`` and ``capabilityDelegation``. Encryption-key derivation (X25519
``keyAgreement``) is not offered: this connector only verifies signatures.
"""

from __future__ import annotations

import re
from typing import Any

from connector.credentials.multikey import PublicKey, decode_public_key, encode_public_key
from connector.errors import Invalid

PREFIX = "did:key:"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"

# base58btc, Ed25519 (34 bytes → 48 chars) and compressed P-256 (35 bytes → 49 chars).
_DID_KEY = re.compile(r"did:key:(z6Mk[1-9A-HJ-NP-Za-km-z]{44}|zDn[1-9A-HJ-NP-Za-km-z]{46})")

_RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


def is_did_key(did: str) -> bool:
    """True for anything using the did:key method (well-formed or not)."""
    return did.startswith(PREFIX)


def did_key_from_public_key(key: PublicKey) -> str:
    """The did:key DID of an Ed25519 or P-256 public key."""
    return PREFIX + encode_public_key(key)


def public_key_of(did: str) -> PublicKey:
    """The public key a did:key DID encodes; ``Invalid(reason="bad_did")`` if malformed."""
    match = _DID_KEY.fullmatch(did)
    if match is None:
        raise Invalid(
            f"malformed or unsupported did:key (Ed25519 z6Mk…/P-256 zDn… only): {did[:80]}",
            reason="bad_did",
        )
    try:
        key = decode_public_key(match.group(1))
    except Invalid as exc:
        raise Invalid(f"did:key does not encode a valid key: {did[:80]}", reason="bad_did") from exc
    # The prefix fixes the key type; refuse a value that decodes but re-encodes differently
    # (e.g. leading-zero tricks), so that one key has exactly one did:key.
    if encode_public_key(key) != match.group(1):
        raise Invalid(f"non-canonical did:key: {did[:80]}", reason="bad_did")
    return key


def did_key_document(did: str) -> dict[str, Any]:
    """The DID document of a did:key DID (derived, never fetched)."""
    public_key_of(did)
    multibase = did[len(PREFIX) :]
    method_id = f"{did}#{multibase}"
    document: dict[str, Any] = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {
                "id": method_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": multibase,
            }
        ],
    }
    for relationship in _RELATIONSHIPS:
        document[relationship] = [method_id]
    return document
