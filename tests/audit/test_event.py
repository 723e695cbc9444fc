from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.audit.event import (
    GENESIS,
    MAX_DETAILS_BYTES,
    AuditEntry,
    AuditEvent,
    canonical,
    format_time,
    redact,
    seal,
    self_consistent,
)
from connector.audit.vocabulary import INTEGER_DETAILS, REQUIRED_DETAILS, EventType, Result
from connector.errors import Invalid

AT = dt.datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=dt.UTC)


def _event(**overrides: object) -> AuditEvent:
    values: dict[str, object] = {
        "type": EventType.DATA_ACCESSED,
        "actor": "did:web:partner.example",
        "participant": "did:web:partner.example",
        "dataset": "urn:uuid:1",
        "agreement": "urn:uuid:2",
        "details": {"bytes": 42, "duration_ms": 3},
    }
    values.update(overrides)
    return AuditEvent(**values)  # type: ignore[arg-type]


def test_hash_is_sha256_of_the_jcs_header() -> None:
    entry = seal(_event(), seq=1, prev_hash=GENESIS, at=AT)
    body = rfc8785.dumps(entry.body())
    assert entry.body_digest == hashlib.sha256(body).hexdigest()
    header = {
        "v": 1,
        "seq": 1,
        "prev": GENESIS,
        "time": "2026-05-04T03:02:01.123456Z",
        "type": "data.accessed",
        "body": entry.body_digest,
    }
    assert entry.hash == hashlib.sha256(rfc8785.dumps(header)).hexdigest()
    assert self_consistent(entry)


def test_every_event_type_has_its_required_details() -> None:
    assert set(REQUIRED_DETAILS) == set(EventType)
    for type_ in EventType:
        with pytest.raises(Invalid):
            AuditEvent(type_, actor="system", details={})
        AuditEvent(type_, actor="system", details=dict.fromkeys(REQUIRED_DETAILS[type_], 0))


@pytest.mark.parametrize(
    "overrides",
    [
        {"actor": ""},
        {"details": {"bytes": -1, "duration_ms": 1}},
        {"details": {"bytes": True, "duration_ms": 1}},
        {"details": {"bytes": 1, "duration_ms": 1, "payload": "x" * MAX_DETAILS_BYTES}},
        {"details": {"bytes": 1, "duration_ms": float("nan")}},
        {"dataset": "x" * 2000},
        {"result": "maybe"},
        {"type": "data.leaked"},
    ],
)
def test_invalid_events_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises((Invalid, ValueError)):
        _event(**overrides)


def test_times_are_fixed_width_utc() -> None:
    other_zone = AT.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert format_time(other_zone) == "2026-05-04T03:02:01.123456Z"
    assert format_time(AT.replace(microsecond=0)) == "2026-05-04T03:02:01.000000Z"
    with pytest.raises(Invalid):
        format_time(dt.datetime(2026, 1, 1))


def test_record_round_trip_and_redaction() -> None:
    entry = seal(_event(result=Result.DENIED), seq=7, prev_hash="a" * 64, at=AT)
    again = AuditEntry.from_record(json.loads(json.dumps(entry.to_record())))
    assert again == entry
    hidden = redact(entry)
    assert hidden.participant is None and hidden.details is None
    assert self_consistent(hidden)
    assert hidden.to_record()["hash"] == entry.hash
    with pytest.raises(Invalid):
        AuditEntry.from_record({"seq": "1"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    extra=st.dictionaries(
        st.text(max_size=10).filter(lambda k: k not in INTEGER_DETAILS), json_values, max_size=4
    ),
    size=st.integers(0, 10**9),
)
def test_any_change_to_a_sealed_entry_is_visible(extra: dict[str, object], size: int) -> None:
    details = {**extra, "bytes": size, "duration_ms": 1}
    entry = seal(_event(details=details), seq=3, prev_hash=GENESIS, at=AT)
    assert self_consistent(entry)
    record = json.loads(json.dumps(entry.to_record()))
    assert self_consistent(AuditEntry.from_record(record))
    for name, value in [
        ("details", {**details, "bytes": size + 1}),
        ("participant", "did:web:other.example"),
        ("time", "2026-05-04T03:02:01.123457Z"),
        ("type", "auth.failed"),
        ("prev_hash", "1" * 64),
        ("seq", 4),
    ]:
        changed = AuditEntry.from_record({**record, name: value})
        assert not self_consistent(changed), name


any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(value=any_json)
def test_canonical_fast_path_equals_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except Exception:
        with pytest.raises(Invalid):
            canonical(value)
        return
    assert canonical(value) == expected


def test_canonical_key_order_is_by_utf16_units() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3, "\u00e9": 4}
    assert canonical(value) == rfc8785.dumps(value)
    with pytest.raises(Invalid):
        canonical({"x": "\ud800"})


@settings(max_examples=200, deadline=None)
@given(
    actor=st.text(min_size=1, max_size=20),
    others=st.lists(st.none() | st.text(max_size=20), min_size=4, max_size=4),
    details=st.dictionaries(st.text(max_size=6), any_json, max_size=4),
)
def test_assembled_body_jcs_equals_rfc8785_of_the_body(
    actor: str, others: list[str | None], details: dict[str, object]
) -> None:
    try:
        event = AuditEvent(
            EventType.POLICY_DECIDED,
            actor=actor,
            participant=others[0],
            dataset=others[1],
            agreement=others[2],
            process=others[3],
            details={
                "decision": "permit",
                "report_digest": "x",
                "explanation": "",
                "policy_hash": None,
                "stage": "contract",
                **details,
            },
        )
    except Invalid:
        return
    try:
        expected = rfc8785.dumps(event.body())
    except Exception:
        with pytest.raises(Invalid):
            event.body_jcs()
        return
    assert event.body_jcs() == expected
