"""The Hagen demo datasets config: every entry loads; the 15-minute load profiles are a dataset
of their own, for federation members and the purpose Energiemanagement only."""

from __future__ import annotations

import tomllib
from typing import Any

from connector.controlplane.ports import CredentialFact
from connector.dsp import negotiation as wn
from connector.dsp.conversion import message_offer
from connector.model.negotiation import NegotiationEvent

from .conftest import CALLBACK, PARTNER, ROOT, Plane, caller, facts_of

DS = "https://w3id.org/klimakommune/hagen/datasets/"
LOAD_PROFILES = DS + "energie-staedtische-gebaeude-lastgang"
MEMBER = CredentialFact(
    types=("VerifiableCredential", "https://w3id.org/klimakommune/policy#MembershipCredential"),
    issuer="did:web:federation.klimakommune.de",
    subject=PARTNER,
)


def _entries() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "datasets" / "hagen-demo.toml").read_text("utf-8"))
    entries: list[dict[str, Any]] = config["datasets"]
    return entries


def _load(plane: Plane) -> None:
    for entry in _entries():
        plane.listings.create_dataset(entry)


def test_the_config_has_the_nine_datasets_and_the_load_profiles(plane: Plane) -> None:
    _load(plane)
    ids = [d.id for d in plane.catalog.iter_datasets()]
    assert len(ids) == len(_entries()) == 10
    assert LOAD_PROFILES in ids and DS + "energie-staedtische-gebaeude" in ids


def _requested(plane: Plane, dataset_id: str, consumer_pid: str, **facts: Any) -> Any:
    offer = plane.catalog.dataset(dataset_id).offers[0]  # type: ignore[union-attr]
    message = wn.ContractRequestMessage(
        consumer_pid=consumer_pid, offer=message_offer(offer), callback_address=CALLBACK
    )
    return plane.negotiations.requested(
        caller(), message, facts_of(**facts), visible=lambda _d: True
    )


def test_load_profiles_are_for_members_and_energy_management_only(plane: Plane) -> None:
    _load(plane)
    offer = plane.catalog.dataset(LOAD_PROFILES).offers[0]  # type: ignore[union-attr]
    (permission,) = offer.policy["permission"]
    assert permission["constraint"] == [
        {
            "leftOperand": "purpose",
            "operator": "isAnyOf",
            "rightOperand": [{"@id": "kk:Energiemanagement"}],
        }
    ]
    # a member gets the contract (the purpose is declared and checked at each access) …
    member = _requested(plane, LOAD_PROFILES, "urn:uuid:c1", credentials=(MEMBER,))
    assert member.pending is NegotiationEvent.AGREE
    # … anyone else is refused, and the monthly values stay open to everybody
    stranger = _requested(plane, LOAD_PROFILES, "urn:uuid:c2")
    assert stranger.pending is NegotiationEvent.TERMINATE
    monthly = _requested(plane, DS + "energie-staedtische-gebaeude", "urn:uuid:c3")
    assert monthly.pending is NegotiationEvent.AGREE


def test_partner_only_datasets_are_listed_to_federation_members_only(plane: Plane) -> None:
    _load(plane)
    partner_only = {LOAD_PROFILES, DS + "industrie-co2"}
    for did, credentials, expected in (
        (PARTNER, (), set()),
        (PARTNER, (MEMBER,), partner_only),
    ):
        facts = facts_of(did, credentials=credentials)
        listed = {d.id for d in plane.catalog.iter_datasets() if plane.catalogue.visible(d, facts)}
        assert listed & partner_only == expected
        assert len(listed) == (10 if expected else 8)
