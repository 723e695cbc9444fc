from __future__ import annotations

import base64
import datetime as dt
import gzip
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.credentials.status_list import (
    MIN_BITS,
    Bitstring,
    build_status_list_credential,
    check_status,
    status_entry,
)
from connector.errors import Invalid, Unavailable, VerificationFailed

ISSUER = "did:web:hagen.example"
LIST = "https://hagen.example/status/1"
SUSPENSIONS = "https://hagen.example/status/2"
AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
# The example encodedList of the W3C Bitstring Status List v1.0 spec: 16 KiB of zeros.
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def encoded(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_spec_example_decodes_to_an_empty_list() -> None:
    bits = Bitstring.decode(SPEC_EXAMPLE)
    assert len(bits) == MIN_BITS
    assert Bitstring.decode(Bitstring().encode()).get(MIN_BITS - 1) is False
    assert not any(bits.get(i) for i in range(0, MIN_BITS, 997))


def test_index_zero_is_the_leftmost_bit() -> None:
    bits = Bitstring()
    bits.set(0)
    bits.set(9)
    raw = gzip.decompress(base64.urlsafe_b64decode(bits.encode()[1:] + "=="))
    assert raw[:2] == bytes([0x80, 0x40])
    bits.set(0, False)
    assert (bits.get(0), bits.get(9)) == (False, True)


def test_encoding_is_deterministic() -> None:
    one, two = Bitstring(), Bitstring()
    one.set(42)
    two.set(42)
    assert one.encode() == two.encode()
    assert one.encode().startswith("uH4sI")


@settings(max_examples=40, deadline=None)
@given(indices=st.sets(st.integers(0, MIN_BITS - 1), max_size=50))
def test_round_trip(indices: set[int]) -> None:
    bits = Bitstring()
    for index in indices:
        bits.set(index)
    decoded = Bitstring.decode(bits.encode())
    probes = indices | {0, MIN_BITS - 1} | {(i + 1) % MIN_BITS for i in indices}
    assert {i for i in probes if decoded.get(i)} == indices


def test_length_must_be_at_least_16_kib() -> None:
    with pytest.raises(Invalid):
        Bitstring(MIN_BITS - 8)
    short = encoded(gzip.compress(bytes(1024), mtime=0))
    with pytest.raises(VerificationFailed) as info:
        Bitstring.decode(short)
    assert info.value.reason == "bad_status_list"


@pytest.mark.parametrize(
    "value",
    [
        SPEC_EXAMPLE[1:],  # no multibase prefix
        "z" + SPEC_EXAMPLE[1:],  # base58btc is not the encoding
        "u" + "!!!!",
        encoded(b"not gzip at all"),
        encoded(gzip.compress(bytes(16384), mtime=0) + b"trailing"),
        encoded(gzip.compress(bytes(16384), mtime=0) * 2),
        encoded(gzip.compress(bytes(16384), mtime=0)[:-10]),
        SPEC_EXAMPLE.replace("-", "+"),
        42,
    ],
)
def test_malformed_encoded_lists(value: Any) -> None:
    with pytest.raises(VerificationFailed) as info:
        Bitstring.decode(value)
    assert info.value.reason == "bad_status_list"


def test_decompression_bomb_is_refused() -> None:
    bomb = encoded(gzip.compress(bytes(8 * 1024 * 1024), mtime=0))
    assert len(bomb) < 20_000
    with pytest.raises(VerificationFailed) as info:
        Bitstring.decode(bomb)
    assert info.value.reason == "status_list_too_large"
    with pytest.raises(VerificationFailed) as info:
        Bitstring.decode(encoded(gzip.compress(bytes(32 * 1024), mtime=0)), max_bytes=16 * 1024)
    assert info.value.reason == "status_list_too_large"


# --- checking credentials -----------------------------------------------------------------


class Lists:
    """The issuer's published lists, as the injected lookup sees them (already verified)."""

    def __init__(self) -> None:
        self.revocations = Bitstring()
        self.suspensions = Bitstring()
        self.overrides: dict[str, Any] = {}

    def __call__(self, url: str) -> Mapping[str, Any]:
        if url == LIST:
            listed = build_status_list_credential(
                list_id=LIST,
                issuer=ISSUER,
                purpose="revocation",
                bits=self.revocations,
                valid_from=AT - dt.timedelta(days=1),
                valid_until=AT + dt.timedelta(days=1),
            )
        elif url == SUSPENSIONS:
            listed = build_status_list_credential(
                list_id=SUSPENSIONS, issuer=ISSUER, purpose="suspension", bits=self.suspensions
            )
        else:
            raise Unavailable(f"{url} unreachable")
        listed.update(self.overrides)
        return listed


def credential(*entries: dict[str, Any]) -> dict[str, Any]:
    vc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": {"id": ISSUER, "name": "Stadt Hagen"},
        "credentialSubject": {"id": "https://hagen.example/datasets/luftqualitaet"},
    }
    if entries:
        vc["credentialStatus"] = entries[0] if len(entries) == 1 else list(entries)
    return vc


def reason_of(vc: dict[str, Any], lists: Lists, at: dt.datetime = AT) -> str | None:
    try:
        check_status(vc, lookup=lists, at=at)
    except VerificationFailed as exc:
        return exc.reason
    return None


def test_status_list_credential_shape() -> None:
    listed = build_status_list_credential(
        list_id=LIST,
        issuer=ISSUER,
        purpose="revocation",
        bits=Bitstring(),
        valid_from=AT,
    )
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["validFrom"] == "2026-06-01T00:00:00Z"
    assert listed["credentialSubject"] == {
        "id": f"{LIST}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": Bitstring().encode(),
    }
    assert status_entry(LIST, 94567) == {
        "id": f"{LIST}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": LIST,
    }


def test_revocation_and_suspension() -> None:
    lists = Lists()
    vc = credential(status_entry(LIST, 7), status_entry(SUSPENSIONS, 7, "suspension"))
    assert reason_of(vc, lists) is None
    assert reason_of(credential(), lists) is None
    lists.suspensions.set(7)
    assert reason_of(vc, lists) == "suspended"
    lists.suspensions.set(7, False)
    lists.revocations.set(7)
    assert reason_of(vc, lists) == "revoked"
    assert reason_of(credential(status_entry(LIST, 8)), lists) is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (status_entry(SUSPENSIONS, 1, "revocation"), "status_list_mismatch"),
        (status_entry(LIST, 1, "suspension"), "status_list_mismatch"),
        (status_entry(LIST, MIN_BITS), "status_index_out_of_range"),
        (status_entry(LIST, 1) | {"statusListIndex": "-1"}, "bad_status_entry"),
        (status_entry(LIST, 1) | {"statusListIndex": "1e3"}, "bad_status_entry"),
        (status_entry(LIST, 1) | {"statusListIndex": " 5"}, "bad_status_entry"),
        (status_entry(LIST, 1) | {"statusListIndex": "٣"}, "bad_status_entry"),
        (status_entry(LIST, 1) | {"statusListIndex": True}, "bad_status_entry"),
        (status_entry(LIST, 1) | {"statusListCredential": None}, "bad_status_entry"),
        (status_entry(LIST, 1) | {"statusPurpose": "message"}, "unsupported_status"),
        (status_entry(LIST, 1) | {"statusSize": 2}, "unsupported_status"),
        (status_entry(LIST, 1) | {"type": "StatusList2021Entry"}, "unsupported_status"),
        (status_entry("https://gone.example/status", 1), "status_list_unavailable"),
        ("revoked?", "bad_status_entry"),
    ],
)
def test_bad_entries(entry: Any, expected: str) -> None:
    assert reason_of(credential(entry), Lists()) == expected


def test_integer_index_is_accepted() -> None:
    lists = Lists()
    lists.revocations.set(3)
    assert reason_of(credential(status_entry(LIST, 1) | {"statusListIndex": 3}), lists) == "revoked"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"id": "https://hagen.example/status/other"}, "status_list_mismatch"),
        ({"issuer": "did:web:evil.example"}, "status_list_mismatch"),
        ({"type": ["VerifiableCredential"]}, "bad_status_list"),
        (
            {"credentialSubject": {"type": "BitstringStatusList", "statusPurpose": "revocation"}},
            "bad_status_list",
        ),
        ({"validUntil": "2026-05-31T00:00:00Z"}, "status_list_expired"),
        ({"validFrom": "2026-07-01T00:00:00Z"}, "status_list_expired"),
        ({"validFrom": "soon"}, "bad_status_list"),
    ],
)
def test_the_list_itself_is_checked(overrides: dict[str, Any], expected: str) -> None:
    lists = Lists()
    lists.overrides = overrides
    assert reason_of(credential(status_entry(LIST, 1)), lists) == expected


def test_multi_purpose_list_and_lookup_verification_failures_pass_through() -> None:
    lists = Lists()
    lists.overrides = {
        "credentialSubject": {
            "id": f"{LIST}#list",
            "type": "BitstringStatusList",
            "statusPurpose": ["suspension", "revocation"],
            "encodedList": SPEC_EXAMPLE,
        }
    }
    assert reason_of(credential(status_entry(LIST, 1)), lists) is None

    def forged(url: str) -> Mapping[str, Any]:
        raise VerificationFailed("status list signature", reason="bad_signature")

    with pytest.raises(VerificationFailed) as info:
        check_status(credential(status_entry(LIST, 1)), lookup=forged, at=AT)
    assert info.value.reason == "bad_signature"
