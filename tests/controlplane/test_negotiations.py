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


def test_the_termination_reason_is_kept_in_both_roles(plane: Plane) -> None:
    from connector.web.management import negotiation_view

    # provider: its own explanation, shown once the consumer acknowledged the termination
    offer = dataset(plane, "partners", policy="partner-only").offers[0]
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    assert "termination" not in negotiation_view(n)  # not yet TERMINATED
    (message,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert message.id is not None
    plane.negotiations.acknowledged(message.id, message.event, n.id, None)
    ended = plane.queries.negotiation(n.id)
    assert ended is not None and ended.state is NegotiationState.TERMINATED
    view = negotiation_view(ended)["termination"]
    assert view["by"] == "PROVIDER"
    assert view["reason"] == message.body["reason"] and view["reason"][0]
    # consumer: the reason received, as received (here a German, language-tagged one)
    remote = Offer("urn:uuid:o", "remote-ds", {"permission": [{"action": "use"}]})
    mine = plane.negotiations.start(
        counterparty_address="https://p.example/dsp", counterparty_id=PARTNER, offer=remote
    )
    (request,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert request.id is not None
    plane.negotiations.acknowledged(
        request.id, request.event, mine.id, {"providerPid": "urn:uuid:p9", "state": "REQUESTED"}
    )
    german = {"@value": "Zugriff verweigert: kein Mitgliedsnachweis", "@language": "de"}
    plane.negotiations.terminated(
        caller(),
        mine.id,
        wn.ContractNegotiationTerminationMessage(
            provider_pid="urn:uuid:p9", consumer_pid=mine.id, code="denied", reason=[german]
        ),
    )
    stored = plane.queries.negotiation(mine.id)
    assert stored is not None
    assert negotiation_view(stored)["termination"] == {
        "by": "PROVIDER",
        "code": "denied",
        "reason": [german],
    }


def test_an_offer_with_a_numeric_operand_round_trips(plane: Plane) -> None:
    policy = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "uid": "https://example.org/policies/four",
        "permission": [
            {
                "action": "use",
                "constraint": [{"leftOperand": "count", "operator": "lteq", "rightOperand": 4}],
            }
        ],
    }
    offer = dataset(plane, "four", policy=policy).offers[0]
    wire = message_offer(offer)  # what a consumer echoes from the catalogue
    echoed = wire.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert echoed["permission"][0]["constraint"][0]["rightOperand"] == {
        "@value": "4",
        "@type": "xsd:integer",
    }
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    assert n.pending is NegotiationEvent.AGREE  # recognised as the published offer, unchanged


def test_manual_mode_records_the_decision_and_agree_needs_a_permit(plane: Plane) -> None:
    offer = dataset(plane, "partners", policy="partner-only", negotiation="manual").offers[0]
    denied = plane.negotiations.requested(
        caller(), _request(offer), facts_of(), visible=_visible(plane)
    )
    assert (denied.state, denied.pending) == (NegotiationState.REQUESTED, None)
    assert denied.check is not None and not denied.check.permitted
    assert "membershipCredential" in denied.check.explanation
    with pytest.raises(Conflict) as refused:
        plane.negotiations.act(denied.id, "agree")
    assert refused.value.reason == "policy_denied"
    stored = plane.queries.negotiation(denied.id)
    assert stored is not None and stored.pending is None and stored.check == denied.check
    # a counter-offer of the operator's own: the operator decides
    countered = plane.negotiations.act(denied.id, "offer", offer=offer)
    assert countered.check is None

    member = CredentialFact(
        types=("https://w3id.org/klimakommune/policy#MembershipCredential",),
        issuer="did:web:federation.klimakommune.de",
        subject=PARTNER,
    )
    permitted = plane.negotiations.requested(
        caller(),
        _request(offer, "urn:uuid:c2"),
        facts_of(credentials=(member,)),
        visible=_visible(plane),
    )
    assert permitted.pending is None and permitted.check is not None
    assert permitted.check.permitted
    agreed = plane.negotiations.act(permitted.id, "agree")
    assert agreed.pending is NegotiationEvent.AGREE
