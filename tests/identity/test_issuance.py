"""The authority's registry of issued credentials and its revocation list."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import default_loader
from connector.credentials.keys import KeySet
from connector.credentials.verifier import Verifier
from connector.errors import Conflict, Invalid, NotFound, VerificationFailed
from connector.identity.issuance import IssuedRegistry, issued_status_list_url
from connector.identity.membership import Format, membership_credential, secure
from connector.testing import throwaway_keyset

from .conftest import World, did_document

BASE = "http://127.0.0.1:9999"
AUTHORITY = "did:web:127.0.0.1%3A9999"
MEMBER = "did:web:member.test"
NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def authority() -> KeySet:
    return throwaway_keyset(AUTHORITY)


@pytest.fixture
def registry(tmp_path: Path) -> IssuedRegistry:
    return IssuedRegistry.in_data_dir(tmp_path, BASE)


def _register(registry: IssuedRegistry, ident: str) -> int:
    row, entry = registry.register(
        ident, subject=MEMBER, credential_type="MembershipCredential",
        valid_from=NOW, valid_until=NOW + dt.timedelta(days=30),
    )  # fmt: skip
    assert entry["statusListIndex"] == str(row.index)
    assert entry["statusListCredential"] == issued_status_list_url(BASE)
    return row.index


def test_indices_are_sequential_and_ids_unique(registry: IssuedRegistry) -> None:
    assert [_register(registry, f"urn:uuid:{i}") for i in range(3)] == [0, 1, 2]
    with pytest.raises(Conflict):
        _register(registry, "urn:uuid:1")
    row = registry.get("urn:uuid:2")
    assert (row.subject, row.type, row.revoked) == (MEMBER, "MembershipCredential", False)
    assert row.valid_until == "2026-12-31T10:00:00Z"
    with pytest.raises(NotFound):
        registry.set_revoked("urn:uuid:unknown")


def test_concurrent_issuers_never_share_an_index(registry: IssuedRegistry) -> None:
    with ThreadPoolExecutor(8) as pool:
        indices = list(pool.map(lambda i: _register(registry, f"urn:uuid:{i}"), range(40)))
    assert sorted(indices) == list(range(40))


def test_a_moved_base_url_is_refused(registry: IssuedRegistry, tmp_path: Path) -> None:
    _register(registry, "urn:uuid:a")
    with pytest.raises(Conflict) as caught:
        IssuedRegistry.in_data_dir(tmp_path, "http://127.0.0.1:1234").all()
    assert caught.value.reason == "status_list_moved"


@pytest.mark.parametrize("fmt", ["vc+jwt", "ldp_vc"])
def test_revocation_reaches_a_verifier(
    registry: IssuedRegistry, authority: KeySet, world: World, fmt: Format
) -> None:
    loader = default_loader()
    world.clock.set(NOW)
    _, entry = registry.register(
        "urn:uuid:m", subject=MEMBER, credential_type="MembershipCredential",
        valid_from=NOW, valid_until=None,
    )  # fmt: skip
    token = secure(
        membership_credential(
            issuer=AUTHORITY, subject=MEMBER, issued_at=NOW, credential_id="urn:uuid:m",
            status=entry,
        ),
        keyset=authority, loader=loader, fmt=fmt, now=NOW,
    )  # fmt: skip
    registry.publish(keyset=authority, loader=loader, now=NOW)
    resolver = DidResolver(world.clock, pinned=[did_document(authority)])

    def verifier() -> Verifier:
        return Verifier(
            resolver=resolver,
            loader=loader,
            clock=world.clock,
            status_lookup=lambda url: registry.status_list(),
        )

    assert verifier().verify_credential(token).issuer == AUTHORITY
    registry.set_revoked("urn:uuid:m")
    registry.publish(keyset=authority, loader=loader, now=NOW)
    with pytest.raises(VerificationFailed) as caught:
        verifier().verify_credential(token)
    assert caught.value.reason == "revoked"
    registry.set_revoked("urn:uuid:m", revoked=False)
    registry.publish(keyset=authority, loader=loader, now=NOW)
    assert verifier().verify_credential(token).issuer == AUTHORITY


def test_only_the_list_owner_can_publish(registry: IssuedRegistry) -> None:
    _register(registry, "urn:uuid:x")
    other = throwaway_keyset("did:web:other.test")
    with pytest.raises(Invalid) as caught:
        registry.publish(keyset=other, loader=default_loader(), now=NOW)
    assert caught.value.reason == "issuer_mismatch"
    with pytest.raises(NotFound):
        registry.status_list()
