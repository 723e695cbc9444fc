"""Negotiation use cases in both roles, on a real store (decisions, outbox, refusals)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.controlplane.ports import CredentialFact
from connector.dsp import negotiation as wn
from connector.dsp.conversion import message_offer
from connector.errors import Conflict, Invalid, NotFound
from connector.model.contract import Offer
from connector.model.negotiation import NegotiationEvent, NegotiationState

from .conftest import CALLBACK, PARTNER, STRANGER, US, Plane, caller, dataset, facts_of


def _request(offer: Offer, consumer_pid: str = "urn:uuid:c1") -> wn.ContractRequestMessage:
    return wn.ContractRequestMessage(
        consumer_pid=consumer_pid, offer=message_offer(offer), callback_address=CALLBACK
    )


def _visible(plane: Plane, did: str = PARTNER) -> Any:
    return lambda d: plane.catalogue.visible(d, facts_of(did))


def test_auto_provider_agrees_and_finalizes_on_acknowledgements(plane: Plane) -> None:
    offer = dataset(plane).offers[0]
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    assert (n.state, n.pending) == (NegotiationState.REQUESTED, NegotiationEvent.AGREE)
    (message,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert message.url == f"{CALLBACK}/negotiations/urn:uuid:c1/agreement"
    assert message.body["agreement"]["assignee"] == PARTNER
    assert message.id is not None
    plane.negotiations.acknowledged(message.id, message.event, n.id, None)
    agreed = plane.queries.negotiation(n.id)
    assert agreed is not None and agreed.state is NegotiationState.AGREED
    verification = wn.ContractAgreementVerificationMessage(
        consumer_pid="urn:uuid:c1", provider_pid=n.id
    )
    verified = plane.negotiations.verified(caller(), n.id, verification)
    assert (verified.state, verified.pending) == (
        NegotiationState.VERIFIED,
        NegotiationEvent.FINALIZE,
    )
    (final,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert final.body["eventType"] == "FINALIZED"
    assert final.id is not None
    plane.negotiations.acknowledged(final.id, final.event, n.id, None)
    done = plane.queries.negotiation(n.id)
    assert done is not None and done.state is NegotiationState.FINALIZED
    assert done.agreement is not None
    found = plane.queries.agreement(done.agreement.id)
    assert found is not None and found[0].assigner == US
    assert plane.outbox.pending_count() == 0


def test_auto_provider_terminates_with_the_explanation(plane: Plane) -> None:
    offer = dataset(plane, "partners", policy="partner-only").offers[0]
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    assert n.pending is NegotiationEvent.TERMINATE
    (message,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert message.body["@type"] == "ContractNegotiationTerminationMessage"
    assert message.body["reason"][0]


def test_a_federation_member_gets_the_partner_only_contract(plane: Plane) -> None:
    offer = dataset(plane, "partners", policy="partner-only").offers[0]
    member = CredentialFact(
        types=("https://w3id.org/klimakommune/policy#MembershipCredential",),
        issuer="did:web:federation.klimakommune.de",
        subject=PARTNER,
    )
    n = plane.negotiations.requested(
        caller(), _request(offer), facts_of(credentials=(member,)), visible=_visible(plane)
    )
    assert n.pending is NegotiationEvent.AGREE
    forged = CredentialFact(types=member.types, issuer="did:web:self.example", subject=PARTNER)
    other = plane.negotiations.requested(
        caller(),
        _request(offer, "urn:uuid:c2"),
        facts_of(credentials=(forged,)),
        visible=_visible(plane),
    )
    assert other.pending is NegotiationEvent.TERMINATE


def test_manual_mode_waits_for_the_operator(plane: Plane) -> None:
    offer = dataset(plane, negotiation="manual").offers[0]
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    assert (n.state, n.pending) == (NegotiationState.REQUESTED, None)
    with pytest.raises(Conflict):
        plane.negotiations.act(n.id, "accept")
    agreed = plane.negotiations.act(n.id, "agree")
    assert (agreed.state, agreed.pending) == (NegotiationState.REQUESTED, NegotiationEvent.AGREE)
    with pytest.raises(Conflict):
        plane.negotiations.act(n.id, "agree")  # one message at a time
    terminating = plane.negotiations.act(n.id, "terminate", reason="changed")
    assert terminating.pending is NegotiationEvent.TERMINATE
    (message,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert message.event == NegotiationEvent.TERMINATE.value  # the agreement was dropped


def test_refusals_leave_nothing_behind(plane: Plane) -> None:
    offer = dataset(plane, negotiation="manual").offers[0]
    modified = Offer(offer.id, offer.target, {"permission": [{"action": "distribute"}]})
    with pytest.raises(Invalid) as refused:
        plane.negotiations.requested(
            caller(), _request(modified), facts_of(), visible=_visible(plane)
        )
    assert refused.value.reason == "offer_modified"
    unknown = Offer("urn:uuid:unknown", offer.target, offer.policy)
    with pytest.raises(Invalid):
        plane.negotiations.requested(
            caller(), _request(unknown), facts_of(), visible=_visible(plane)
        )
    assert plane.queries.negotiations() == []
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    with pytest.raises(Invalid):  # replayed initial request
        plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    verification = wn.ContractAgreementVerificationMessage(
        consumer_pid="urn:uuid:c1", provider_pid=n.id
    )
    with pytest.raises(NotFound):  # another participant's process
        plane.negotiations.verified(caller(STRANGER), n.id, verification)
    with pytest.raises(Conflict):  # out of order: nothing agreed yet
        plane.negotiations.verified(caller(), n.id, verification)
    with pytest.raises(Invalid):  # names another consumer process
        plane.negotiations.verified(
            caller(),
            n.id,
            wn.ContractAgreementVerificationMessage(
                consumer_pid="urn:uuid:other", provider_pid=n.id
            ),
        )
    assert plane.queries.negotiation(n.id) == n


def test_hidden_datasets_cannot_be_negotiated(plane: Plane) -> None:
    offer = dataset(plane, "hidden", accessPolicy="partner-only").offers[0]
    with pytest.raises(Invalid):
        plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))


def test_consumer_start_stays_initial_until_acknowledged(plane: Plane) -> None:
    offer = Offer("urn:uuid:o", "remote-ds", {"permission": [{"action": "use"}]})
    n = plane.negotiations.start(
        counterparty_address="https://p.example/dsp", counterparty_id=PARTNER, offer=offer
    )
    assert (n.state, n.pending) == (None, NegotiationEvent.REQUEST)
    (message,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert message.url == "https://p.example/dsp/negotiations/request"
    assert message.body["callbackAddress"] == "https://us/api/dsp"
    assert message.id is not None
    plane.negotiations.acknowledged(
        message.id, message.event, n.id, {"providerPid": "urn:uuid:p9", "state": "REQUESTED"}
    )
    acked = plane.queries.negotiation(n.id)
    assert acked is not None
    assert (acked.state, acked.provider_pid) == (NegotiationState.REQUESTED, "urn:uuid:p9")
    second = plane.negotiations.start(
        counterparty_address="https://p.example/dsp", counterparty_id=PARTNER, offer=offer
    )
    (refused,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert refused.id is not None
    plane.negotiations.refused(refused.id, second.id)
    ended = plane.queries.negotiation(second.id)
    assert ended is not None and ended.state is NegotiationState.TERMINATED
