"""The trust list and held-credential stores, scopes, and credential descriptions."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from connector.clock import FixedClock
from connector.credentials import jose
from connector.credentials.jsonld import default_loader
from connector.errors import Conflict, Invalid
from connector.identity.membership import describe, membership_credential, secure
from connector.identity.scopes import (
    MEMBERSHIP_SCOPE,
    Scope,
    parse_scope,
    parse_scopes,
    scope_for_type,
)
from connector.identity.trust import TrustList
from connector.stores.credential_store import SqlCredentialStore
from connector.stores.trust_store import SqlTrustStore

from .conftest import AUTHORITY, CONSUMER, World

NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


def test_trust_store_and_list(engine: Engine) -> None:
    store = SqlTrustStore(engine, FixedClock(NOW))
    trust = TrustList(["did:web:configured.test"], store)
    assert trust.contains("did:web:configured.test")
    assert not trust.contains(CONSUMER)
    assert store.add(CONSUMER, "pilot") is True
    assert store.add(CONSUMER) is False
    assert trust.contains(CONSUMER)
    assert [(e.did, e.note, e.added_at) for e in store.entries()] == [
        (CONSUMER, "pilot", "2026-12-01T10:00:00Z")
    ]
    assert store.remove(CONSUMER) is True
    assert store.remove(CONSUMER) is False
    assert not trust.contains(CONSUMER)


def test_credential_store_selects_by_type_and_id(engine: Engine, world: World) -> None:
    store = SqlCredentialStore(engine, world.clock)
    credential = membership_credential(
        issuer=AUTHORITY, subject=CONSUMER, issued_at=NOW, credential_id="urn:uuid:m-1"
    )
    token = secure(
        credential, keyset=world.authority, loader=default_loader(), fmt="vc+jwt", now=NOW
    )
    d = describe(token)
    assert (d.id, d.format, d.issuer, d.subject) == ("urn:uuid:m-1", "vc+jwt", AUTHORITY, CONSUMER)
    assert d.types == ("VerifiableCredential", "MembershipCredential")
    fields = {
        "id": d.id, "format": d.format, "types": d.types, "issuer": d.issuer,
        "subject": d.subject, "valid_until": d.valid_until, "body": d.body,
    }  # fmt: skip
    store.add(**fields)
    with pytest.raises(Conflict):
        store.add(**fields)
    store.add(**fields, replace=True)
    assert [c.id for c in store.matching(types=["MembershipCredential"])] == ["urn:uuid:m-1"]
    assert [c.id for c in store.matching(ids=["urn:uuid:m-1"])] == ["urn:uuid:m-1"]
    assert store.matching(types=["OtherCredential"]) == []
    assert store.remove("urn:uuid:m-1") and store.all() == []


def test_describe_accepts_enveloped_and_data_integrity_credentials(world: World) -> None:
    credential = membership_credential(
        issuer=AUTHORITY,
        subject=CONSUMER,
        issued_at=NOW,
        valid_until=NOW + dt.timedelta(days=30),
    )
    token = secure(
        credential, keyset=world.authority, loader=default_loader(), fmt="vc+jwt", now=NOW
    )
    assert describe(jose.envelope(str(token))).body == token
    document = secure(
        credential, keyset=world.authority, loader=default_loader(), fmt="ldp_vc", now=NOW
    )
    assert isinstance(document, dict)
    described = describe(document)
    assert described.format == "ldp_vc"
    assert described.valid_until == "2026-12-31T10:00:00Z"
    with pytest.raises(Invalid):
        describe({k: v for k, v in document.items() if k != "proof"})


def test_membership_credential_refuses_bad_input(world: World) -> None:
    with pytest.raises(Invalid):
        membership_credential(issuer=AUTHORITY, subject="not-a-did", issued_at=NOW)
    with pytest.raises(Invalid):
        membership_credential(issuer=AUTHORITY, subject=CONSUMER, issued_at=NOW, valid_until=NOW)
    unknown = membership_credential(
        issuer=AUTHORITY, subject=CONSUMER, issued_at=NOW, credential_type="UnknownCredential"
    )
    with pytest.raises(Invalid) as info:
        secure(unknown, keyset=world.authority, loader=default_loader(), fmt="vc+jwt", now=NOW)
    assert info.value.reason == "undefined_term"


def test_scopes() -> None:
    assert parse_scope(MEMBERSHIP_SCOPE) == Scope("type", "MembershipCredential")
    assert parse_scope(MEMBERSHIP_SCOPE + ":read") == Scope("type", "MembershipCredential")
    assert parse_scope("org.eclipse.dspace.dcp.vc.id:urn:uuid:1") == Scope("id", "urn:uuid:1")
    assert scope_for_type("X") == "org.eclipse.dspace.dcp.vc.type:X"
    for bad in ["", "MembershipCredential", "org.eclipse.dspace.dcp.vc.type:", "a:b:c:d"]:
        with pytest.raises(Invalid):
            parse_scope(bad)
    with pytest.raises(Invalid):
        parse_scopes([MEMBERSHIP_SCOPE] * 33)


@settings(max_examples=100)
@given(st.text(max_size=120))
def test_any_scope_string_parses_or_is_invalid(value: str) -> None:
    try:
        parsed = parse_scope(value)
    except Invalid as exc:
        assert exc.reason == "invalid_scope"
    else:
        assert parsed.value and value.startswith("org.eclipse.dspace.dcp.vc.")
