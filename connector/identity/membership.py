"""Membership credentials: a federation authority says that a participant belongs to it.

A ``MembershipCredential`` (terms in the pinned context :data:`MEMBERSHIP_CONTEXT`) is issued
by the authority's DID about the member's DID (``credentialSubject.id``), optionally naming the
federation (``memberOf``, default: the authority) and roles. It is secured as a ``vc+jwt``
(ES256) or with a Data Integrity proof (``eddsa-rdfc-2022``), with the authority's keys.

:func:`describe` reads what a holder's store needs to know about any credential it was given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connector.clock import parse_instant, utc_isoformat
from connector.credentials import data_integrity, jose
from connector.credentials.jsonld import PinnedLoader, undefined_terms
from connector.credentials.keys import KeySet
from connector.credentials.verifier import issuer_of, types_of
from connector.errors import Invalid

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
MEMBERSHIP_CONTEXT = "https://w3id.org/klimakommune/contexts/membership/v1"
Format = Literal["vc+jwt", "ldp_vc"]


def membership_credential(
    *,
    issuer: str,
    subject: str,
    issued_at: dt.datetime,
    valid_until: dt.datetime | None = None,
    credential_type: str = "MembershipCredential",
    member_of: str | None = None,
    roles: Sequence[str] = (),
    credential_id: str | None = None,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsigned credential (VCDM 2.0)."""
    if not subject.startswith("did:"):
        raise Invalid(f"the subject must be a DID: {subject[:80]}", reason="invalid_subject")
    if valid_until is not None and valid_until <= issued_at:
        raise Invalid("valid-until must be after the issuance time", reason="invalid_validity")
    claims: dict[str, Any] = {"id": subject}
    if credential_type == "MembershipCredential":
        claims["memberOf"] = member_of or issuer
        if roles:
            claims["role"] = list(roles)
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, MEMBERSHIP_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", credential_type],
        "issuer": issuer,
        "validFrom": utc_isoformat(issued_at),
    }
    if valid_until is not None:
        credential["validUntil"] = utc_isoformat(valid_until)
    credential["credentialSubject"] = claims
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


def secure(
    credential: Mapping[str, Any],
    *,
    keyset: KeySet,
    loader: PinnedLoader,
    fmt: Format,
    now: dt.datetime,
) -> str | dict[str, Any]:
    """Sign ``credential`` as ``keyset``'s DID: a compact ``vc+jwt`` or a DI-secured document.

    Every term must be defined by a pinned context (``Invalid``, reason ``undefined_term``)."""
    terms = undefined_terms(credential, loader=loader)
    if terms:
        names = ", ".join(t.term for t in terms[:5])
        raise Invalid(f"terms not defined by a pinned context: {names}", reason="undefined_term")
    if fmt == "vc+jwt":
        return jose.issue_vc_jwt(credential, key=keyset.p256, method_id=keyset.method_id("p256"))
    return data_integrity.sign(
        credential,
        key=keyset.ed25519,
        verification_method=keyset.method_id("ed25519", multikey=True),
        created=now,
        loader=loader,
        cryptosuite=data_integrity.EDDSA,
    )


@dataclass(frozen=True)
class Description:
    """What a holder keeps next to a credential: enough to select it for a scope."""

    id: str
    format: Format
    types: tuple[str, ...]
    issuer: str
    subject: str | None
    valid_until: str | None
    body: str
    """The compact JWT, or the JSON document."""


def _payload(token: str) -> dict[str, Any]:
    import base64

    try:
        segment = token.split(".")[1]
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError) as exc:
        raise Invalid("not a compact vc+jwt", reason="malformed_jwt") from exc
    if not isinstance(value, dict):
        raise Invalid("not a compact vc+jwt", reason="malformed_jwt")
    return value


def describe(item: str | Mapping[str, Any]) -> Description:
    """Describe a credential given as a compact ``vc+jwt`` (or an enveloped one) or a
    Data Integrity document. Its signature is *not* checked here."""
    if isinstance(item, Mapping) and "EnvelopedVerifiableCredential" in types_of(item):
        item = jose.unenvelope(item)
    if isinstance(item, str):
        token = item.strip()
        document = _payload(token)
        fmt: Format = "vc+jwt"
        body = token
    else:
        document = dict(item)
        if "proof" not in document:
            raise Invalid("the credential has no proof", reason="missing_proof")
        fmt = "ldp_vc"
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    types = tuple(types_of(document))
    if "VerifiableCredential" not in types:
        raise Invalid("not a VerifiableCredential", reason="bad_credential")
    subject = document.get("credentialSubject")
    subject_id = subject.get("id") if isinstance(subject, Mapping) else None
    valid_until = document.get("validUntil")
    if valid_until is not None:
        if not isinstance(valid_until, str):
            raise Invalid("validUntil is not a dateTime", reason="bad_credential")
        try:
            parse_instant(valid_until)
        except ValueError as exc:
            raise Invalid("validUntil is not a dateTime", reason="bad_credential") from exc
    ident = document.get("id")
    if not isinstance(ident, str):
        ident = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    return Description(
        id=ident,
        format=fmt,
        types=types,
        issuer=issuer_of(document),
        subject=subject_id if isinstance(subject_id, str) else None,
        valid_until=valid_until,
        body=body,
    )
