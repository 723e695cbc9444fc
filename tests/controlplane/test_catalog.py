"""The catalogue: per-requester visibility by access policy, paging, stable offer ids."""

from __future__ import annotations

import pytest

from connector.controlplane.ports import CredentialFact
from connector.errors import Invalid, NotFound

from .conftest import OPEN_POLICY, PARTNER, Plane, dataset, facts_of

MEMBER = CredentialFact(
    types=("https://w3id.org/klimakommune/policy#MembershipCredential",),
    issuer="did:web:federation.klimakommune.de",
    subject=PARTNER,
)


def test_pages_show_what_the_requester_may_see(plane: Plane) -> None:
    for i in range(7):
        dataset(plane, f"ds-{i}", **({"accessPolicy": "partner-only"} if i % 2 else {}))
    stranger = plane.catalogue.page(facts_of(), limit=2)
    assert [d.id for d in stranger.catalog.dataset or []] == ["ds-0", "ds-2"]
    assert stranger.next_after == "ds-2"
    assert stranger.previous_before is None
    rest = plane.catalogue.page(facts_of(), after="ds-2", limit=10)
    assert [d.id for d in rest.catalog.dataset or []] == ["ds-4", "ds-6"]
    assert (rest.next_after, rest.previous_before) == (None, "ds-4")
    back = plane.catalogue.page(facts_of(), before="ds-4", limit=1)
    assert [d.id for d in back.catalog.dataset or []] == ["ds-2"]
    assert (back.next_after, back.previous_before) == ("ds-2", "ds-2")
    first = plane.catalogue.page(facts_of(), before="ds-2", limit=5)
    assert [d.id for d in first.catalog.dataset or []] == ["ds-0"]
    assert first.previous_before is None
    member = plane.catalogue.page(facts_of(credentials=(MEMBER,)), limit=10)
    assert len(member.catalog.dataset or []) == 7
    assert member.catalog.participant_id == "did:web:daten.hagen.de"
    with pytest.raises(NotFound):
        plane.catalogue.dataset(facts_of(), "ds-1")
    assert plane.catalogue.dataset(facts_of(credentials=(MEMBER,)), "ds-1").id == "ds-1"


def test_offer_ids_are_stable_per_policy_version(plane: Plane) -> None:
    first = dataset(plane, "a").offers[0]
    again = dataset(plane, "b").offers[0]
    assert first.policy_hash == again.policy_hash
    assert first.id != again.id  # one offer per dataset
    same = plane.listings.create_dataset(
        {
            "id": "a",
            "title": "A",
            "policy": OPEN_POLICY,
            "source": {"type": "http", "url": "https://x.example/"},
        },
        replace=True,
    )
    assert same.offers[0].id == first.id
    changed = {**OPEN_POLICY, "permission": [{"action": "read"}]}
    newer = plane.listings.create_dataset(
        {
            "id": "a",
            "title": "A",
            "policy": changed,
            "source": {"type": "http", "url": "https://x.example/"},
        },
        replace=True,
    )
    assert newer.offers[0].id != first.id
    version = plane.catalog.policy("https://example.org/policies/open")
    assert version is not None and version.version == 2


def test_bad_datasets_are_refused(plane: Plane) -> None:
    base = {"title": "T", "policy": OPEN_POLICY, "source": {"type": "http", "url": "https://x/"}}
    for broken in (
        {**base, "source": {"type": "ftp", "url": "x"}},
        {**base, "source": {"type": "file", "path": "x"}},
        {**base, "policy": "no-such-policy"},
        {
            **base,
            "policy": {
                "@context": "http://www.w3.org/ns/odrl.jsonld",
                "@type": "Set",
                "uid": "urn:x",
            },
        },
        {**base, "negotiation": "sometimes"},
        {**base, "unknown": 1},
        {k: v for k, v in base.items() if k != "title"},
    ):
        with pytest.raises(Invalid):
            plane.listings.create_dataset(broken)
    assert plane.catalog.datasets_after(None, 10) == []
