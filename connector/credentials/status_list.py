"""W3C Bitstring Status List v1.0: publish revocation/suspension bits and check entries (pure).

The list is a bitstring of at least 131,072 bits (16 KiB); index 0 is the left-most (most
significant) bit of the first byte. ``encodedList`` is ``u`` + base64url (no padding) of the
GZIP-compressed bitstring. This module builds the unsigned ``BitstringStatusListCredential``
(the caller signs it), flips bits, and checks a credential's ``BitstringStatusListEntry``
against a list credential obtained through an injected ``lookup`` — which must return the list
credential *already verified* (signature, issuer DID); nothing is fetched here.

Failures are ``VerificationFailed`` with the reasons ``revoked``, ``suspended``,
``bad_status_entry``, ``unsupported_status``, ``bad_status_list``, ``status_list_mismatch``
(id, issuer or purpose does not match the entry), ``status_list_expired``,
``status_index_out_of_range``, ``status_list_too_large`` (decompression bomb) and
``status_list_unavailable``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

from connector.clock import parse_instant, utc_isoformat
from connector.errors import ConnectorError, Invalid, VerificationFailed

MIN_BITS = 131_072
MAX_LIST_BYTES = 2 * 1024 * 1024
"""Decompressed cap: 16 Mi entries; a bigger list is refused as a decompression bomb."""
MAX_ENCODED_CHARS = 4 * 1024 * 1024
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
StatusPurpose = Literal["revocation", "suspension"]
PURPOSES: frozenset[str] = frozenset({"revocation", "suspension"})
_FAILURE_REASON = {"revocation": "revoked", "suspension": "suspended"}


def _fail(detail: str, reason: str) -> VerificationFailed:
    return VerificationFailed(detail, reason=reason)


class Bitstring:
    """A mutable status bitstring (one bit per credential)."""

    def __init__(self, length: int = MIN_BITS, *, data: bytes | None = None) -> None:
        if data is not None:
            self._bytes = bytearray(data)
        else:
            if length < MIN_BITS or length % 8:
                raise Invalid(
                    f"a status list has a multiple of 8 and >= {MIN_BITS} bits",
                    reason="bad_status_list",
                )
            self._bytes = bytearray(length // 8)

    def __len__(self) -> int:
        return len(self._bytes) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self):
            raise _fail(
                f"status index {index} outside 0..{len(self) - 1}", "status_index_out_of_range"
            )
        return index // 8, 0x80 >> (index % 8)

    def get(self, index: int) -> bool:
        """Whether bit ``index`` is set."""
        position, mask = self._locate(index)
        return bool(self._bytes[position] & mask)

    def set(self, index: int, value: bool = True) -> None:
        """Set (or clear, with ``value=False``) bit ``index``."""
        position, mask = self._locate(index)
        if value:
            self._bytes[position] |= mask
        else:
            self._bytes[position] &= ~mask & 0xFF

    def encode(self) -> str:
        """The ``encodedList`` value (deterministic: GZIP with mtime 0)."""
        compressed = gzip.compress(bytes(self._bytes), compresslevel=9, mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: Any, *, max_bytes: int = MAX_LIST_BYTES) -> Bitstring:
        """Parse an ``encodedList``; refuses lists under 16 KiB or over ``max_bytes``."""
        if (
            not isinstance(encoded, str)
            or not encoded.startswith("u")
            or len(encoded) > MAX_ENCODED_CHARS
        ):
            raise _fail("encodedList must be a multibase base64url ('u') string", "bad_status_list")
        body = encoded[1:].rstrip("=")
        if "+" in body or "/" in body:
            raise _fail("encodedList is not base64url", "bad_status_list")
        try:
            compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise _fail("encodedList is not base64url", "bad_status_list") from exc
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(compressed, max_bytes)
            if inflater.unconsumed_tail:
                raise _fail(
                    f"status list decompresses to more than {max_bytes} bytes",
                    "status_list_too_large",
                )
            data += inflater.flush()
            if len(data) > max_bytes:
                raise _fail(
                    f"status list decompresses to more than {max_bytes} bytes",
                    "status_list_too_large",
                )
        except zlib.error as exc:
            raise _fail("encodedList is not GZIP data", "bad_status_list") from exc
        if not inflater.eof or inflater.unused_data:
            raise _fail("encodedList is not exactly one GZIP member", "bad_status_list")
        if len(data) * 8 < MIN_BITS:
            raise _fail(f"status list shorter than {MIN_BITS} bits", "bad_status_list")
        return cls(data=data)


def build_status_list_credential(
    *,
    list_id: str,
    issuer: str,
    purpose: StatusPurpose,
    bits: Bitstring,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` published at ``list_id``."""
    if purpose not in PURPOSES:
        raise Invalid(f"unsupported status purpose {purpose}", reason="unsupported_status")
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
    }
    if valid_from is not None:
        credential["validFrom"] = utc_isoformat(valid_from)
    if valid_until is not None:
        credential["validUntil"] = utc_isoformat(valid_until)
    credential["credentialSubject"] = {
        "id": f"{list_id}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": bits.encode(),
    }
    return credential


def status_entry(list_id: str, index: int, purpose: StatusPurpose = "revocation") -> dict[str, Any]:
    """The ``credentialStatus`` entry pointing at bit ``index`` of the list ``list_id``."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise Invalid("a status list index is a non-negative integer", reason="bad_status_entry")
    return {
        "id": f"{list_id}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_id,
    }


def _index(entry: Mapping[str, Any]) -> int:
    raw = entry.get("statusListIndex")
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.isdigit() and raw.isascii() and len(raw) <= 12:
        value = int(raw)
    else:
        raise _fail("statusListIndex must be a non-negative integer string", "bad_status_entry")
    if value < 0:
        raise _fail("statusListIndex must be non-negative", "bad_status_entry")
    return value


def _issuer(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _check_list(
    entry_url: str, purpose: str, listed: Any, issuer: str | None, at: dt.datetime
) -> Bitstring:
    if not isinstance(listed, dict):
        raise _fail(f"status list {entry_url[:80]} is not a JSON object", "bad_status_list")
    types = listed.get("type")
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
        raise _fail("not a BitstringStatusListCredential", "bad_status_list")
    if listed.get("id") != entry_url:
        raise _fail(f"status list id is not {entry_url[:80]}", "status_list_mismatch")
    if _issuer(listed) != issuer:
        raise _fail(
            "status list issued by someone else than the credential", "status_list_mismatch"
        )
    for member, late in (("validFrom", False), ("validUntil", True)):
        value = listed.get(member)
        if value is None:
            continue
        try:
            instant = parse_instant(value) if isinstance(value, str) else None
        except ValueError:
            instant = None
        if instant is None:
            raise _fail(f"status list {member} is not a dateTime", "bad_status_list")
        if (late and at > instant) or (not late and at < instant):
            raise _fail(f"status list outside its validity ({member})", "status_list_expired")
    subject = listed.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise _fail("credentialSubject is not a BitstringStatusList", "bad_status_list")
    purposes = subject.get("statusPurpose")
    purposes = purposes if isinstance(purposes, list) else [purposes]
    if purpose not in purposes:
        raise _fail(f"status list is not for {purpose}", "status_list_mismatch")
    return Bitstring.decode(subject.get("encodedList"))


def check_status(
    credential: Mapping[str, Any],
    *,
    lookup: Callable[[str], Mapping[str, Any]],
    at: dt.datetime,
) -> None:
    """Raise ``VerificationFailed`` if any status entry of ``credential`` is set.

    ``lookup(url)`` returns the *verified* status list credential at ``url`` (a verification
    failure it raises is passed on; any other error becomes ``status_list_unavailable``).
    A credential without ``credentialStatus`` passes. Only ``BitstringStatusListEntry`` with the
    purposes revocation and suspension is understood; anything else fails closed.
    """
    status = credential.get("credentialStatus")
    if status is None:
        return
    entries = status if isinstance(status, list) else [status]
    for entry in entries:
        if not isinstance(entry, dict):
            raise _fail("credentialStatus entry is not an object", "bad_status_entry")
        if entry.get("type") != "BitstringStatusListEntry":
            raise _fail(
                f"status type {str(entry.get('type'))[:60]} not supported", "unsupported_status"
            )
        purpose = entry.get("statusPurpose")
        if purpose not in PURPOSES:
            raise _fail(f"status purpose {str(purpose)[:40]} not supported", "unsupported_status")
        if entry.get("statusSize", 1) != 1:
            raise _fail("only statusSize 1 is supported", "unsupported_status")
        url = entry.get("statusListCredential")
        if not isinstance(url, str) or not url:
            raise _fail("statusListCredential must be a URL", "bad_status_entry")
        index = _index(entry)
        try:
            listed = lookup(url)
        except VerificationFailed:
            raise
        except ConnectorError as exc:
            raise _fail(f"status list {url[:80]}: {exc.detail}", "status_list_unavailable") from exc
        bits = _check_list(url, str(purpose), listed, _issuer(credential), at)
        if bits.get(index):
            raise _fail(
                f"credential {_FAILURE_REASON[str(purpose)]} ({url[:80]} #{index})",
                _FAILURE_REASON[str(purpose)],
            )
