"""Sign a set of self-descriptions for publication (pure: values in, values out).

Every credential gets a ``credentialStatus`` entry in the issuer's revocation list (a W3C
Bitstring Status List), a Data Integrity proof (``eddsa-rdfc-2022`` with the Ed25519 Multikey
method) and a ``vc+jwt`` twin (ES256 with the P-256 JsonWebKey method). Status list indices stay
stable across rebuilds: existing assignments are passed in, new credentials take the next free one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.credentials import data_integrity, jose
from connector.credentials.jsonld import PinnedLoader
from connector.credentials.keys import KeySet
from connector.credentials.status_list import Bitstring, build_status_list_credential, status_entry
from connector.errors import Invalid

STATUS_LIST_ID = "status-list"


def status_list_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/self-descriptions/{STATUS_LIST_ID}"


@dataclass(frozen=True)
class SignedSet:
    credentials: dict[str, dict[str, Any]]
    """Short id → signed JSON-LD credential (embedded Data Integrity proof)."""
    jwts: dict[str, str]
    """Short id → compact ``vc+jwt`` of the same credential."""
    status_list: dict[str, Any]
    """The signed ``BitstringStatusListCredential``."""
    indices: dict[str, int]
    """Short id → status list index."""


def assign_indices(ids: list[str], existing: Mapping[str, int]) -> dict[str, int]:
    """Keep existing indices; give new ids the next free ones, in sorted order."""
    indices = {i: existing[i] for i in ids if i in existing}
    taken = set(existing.values())
    next_free = 0
    for sd_id in sorted(ids):
        if sd_id in indices:
            continue
        while next_free in taken:
            next_free += 1
        indices[sd_id] = next_free
        taken.add(next_free)
    return indices


def sign_credential(
    credential: Mapping[str, Any], *, keyset: KeySet, loader: PinnedLoader, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """The credential with a Data Integrity proof, and its ``vc+jwt`` form."""
    signed = data_integrity.sign(
        credential,
        key=keyset.ed25519,
        verification_method=keyset.method_id("ed25519", multikey=True),
        created=now,
        loader=loader,
        cryptosuite=data_integrity.EDDSA,
    )
    token = jose.issue_vc_jwt(credential, key=keyset.p256, method_id=keyset.method_id("p256"))
    return signed, token


def sign_status_list(
    bits: Bitstring,
    *,
    keyset: KeySet,
    base_url: str,
    loader: PinnedLoader,
    now: dt.datetime,
    valid_days: int,
) -> dict[str, Any]:
    unsigned = build_status_list_credential(
        list_id=status_list_url(base_url),
        issuer=keyset.did,
        purpose="revocation",
        bits=bits,
        valid_from=now,
        valid_until=now + dt.timedelta(days=valid_days),
    )
    signed, _ = sign_credential(unsigned, keyset=keyset, loader=loader, now=now)
    return signed


def sign_set(
    unsigned: Mapping[str, Mapping[str, Any]],
    *,
    keyset: KeySet,
    base_url: str,
    loader: PinnedLoader,
    now: dt.datetime,
    existing_indices: Mapping[str, int] | None = None,
    revoked: Bitstring | None = None,
    valid_days: int = 365,
) -> SignedSet:
    """Sign every credential (with a status entry) and the status list itself."""
    if STATUS_LIST_ID in unsigned:
        raise Invalid(f"{STATUS_LIST_ID!r} is reserved for the status list", reason="bad_id")
    for sd_id, credential in unsigned.items():
        issuer = credential.get("issuer")
        if issuer != keyset.did:
            raise Invalid(
                f"{sd_id}: issuer {issuer!r} is not this participant ({keyset.did})",
                reason="issuer_mismatch",
            )
    indices = assign_indices(list(unsigned), existing_indices or {})
    list_url = status_list_url(base_url)
    credentials: dict[str, dict[str, Any]] = {}
    jwts: dict[str, str] = {}
    for sd_id in sorted(unsigned):
        credential = dict(unsigned[sd_id])
        credential["credentialStatus"] = status_entry(list_url, indices[sd_id])
        credentials[sd_id], jwts[sd_id] = sign_credential(
            credential, keyset=keyset, loader=loader, now=now
        )
    bits = revoked if revoked is not None else Bitstring()
    status_list = sign_status_list(
        bits, keyset=keyset, base_url=base_url, loader=loader, now=now, valid_days=valid_days
    )
    return SignedSet(credentials=credentials, jwts=jwts, status_list=status_list, indices=indices)


def index_of(credential: Mapping[str, Any]) -> int | None:
    """The status list index a signed credential carries, if any."""
    status = credential.get("credentialStatus")
    if isinstance(status, Mapping):
        raw = status.get("statusListIndex")
        if isinstance(raw, str) and raw.isdigit():
            return int(raw)
    return None
