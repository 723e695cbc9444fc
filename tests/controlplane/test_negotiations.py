"""Negotiation use cases in both roles, on a real store (decisions, outbox, refusals)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.clock import utc_isoformat
from connector.controlplane.negotiations import Negotiations
from connector.controlplane.ports import CredentialFact
from connector.dsp import negotiation as wn
from connector.dsp.conversion import message_offer
from connector.errors import Conflict, Invalid, NotFound
from connector.model.contract import Offer
from connector.model.negotiation import NegotiationEvent, NegotiationState
from connector.model.process import Undelivered
from connector.web.management import negotiation_view

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
    why = Undelivered(
        refused.event, plane.clock.now(), "the offer differs", status=400, code="offer_modified"
    )
    plane.negotiations.refused(refused.id, second.id, why)
    ended = plane.queries.negotiation(second.id)
    assert ended is not None and ended.state is NegotiationState.TERMINATED
    # the operator sees why: the counterparty's answer, kept on the process
    view = negotiation_view(ended)
    assert view["undelivered"] == {
        "message": "ContractRequestMessage",
        "at": utc_isoformat(plane.clock.now()),
        "status": 400,
        "code": "offer_modified",
        "reason": "the offer differs",
    }
    assert view["termination"] == {
        "by": "CONSUMER",
        "code": "offer_modified",
        "reason": ["ContractRequestMessage given up (HTTP 400, offer_modified): the offer differs"],
    }


def test_the_termination_reason_is_kept_in_both_roles(plane: Plane) -> None:

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


def _offered(plane: Plane, offer: Offer, consumer_pid: str) -> str:
    """A negotiation the provider's operator has answered with an offer (acknowledged)."""
    n = plane.negotiations.requested(
        caller(), _request(offer, consumer_pid), facts_of(), visible=_visible(plane)
    )
    plane.negotiations.act(n.id, "offer", offer=offer)
    leased = plane.outbox.lease("t", plane.clock.now().timestamp())
    (message,) = [m for m in leased if m.process_id == n.id]
    assert message.id is not None
    plane.negotiations.acknowledged(message.id, message.event, n.id, None)
    offered = plane.queries.negotiation(n.id)
    assert offered is not None and offered.state is NegotiationState.OFFERED
    return n.id


def _counter(offer: Offer, consumer_pid: str, provider_pid: str) -> wn.ContractRequestMessage:
    return wn.ContractRequestMessage(
        consumer_pid=consumer_pid, provider_pid=provider_pid, offer=message_offer(offer)
    )


def test_a_counter_request_with_other_terms_is_taken_but_never_agreed_alone(plane: Plane) -> None:
    """DSP (and the TCK's CN:01-02): a consumer may answer an offer with a counter-request of
    its own terms; the provider takes it (REQUESTED, 200) but does not agree to it by itself."""
    offer = dataset(plane, negotiation="manual").offers[0]
    pid = _offered(plane, offer, "urn:uuid:c1")
    other_terms = Offer("urn:uuid:counter", offer.target, {"permission": [{"action": "use"}]})
    countered = plane.negotiations.requested(
        caller(),
        _counter(other_terms, "urn:uuid:c1", pid),
        facts_of(),
        visible=_visible(plane),
        pid=pid,
    )
    assert (countered.state, countered.pending) == (NegotiationState.REQUESTED, None)
    assert countered.offer is not None and countered.offer.id == "urn:uuid:counter"
    assert countered.check is not None and not countered.check.permitted
    with pytest.raises(Conflict) as refused:
        plane.negotiations.act(pid, "agree")
    assert refused.value.reason == "policy_denied"
    assert plane.negotiations.act(pid, "terminate").pending is NegotiationEvent.TERMINATE

    # the same offer id with altered rules is the consumer's proposal too; another dataset
    # is refused (400, nothing changes)
    altered = Offer(offer.id, offer.target, {"permission": [{"action": "distribute"}]})
    pid2 = _offered(plane, offer, "urn:uuid:c2")
    elsewhere = Offer(offer.id, "another-dataset", offer.policy)
    with pytest.raises(Invalid) as wrong:
        plane.negotiations.requested(
            caller(),
            _counter(elsewhere, "urn:uuid:c2", pid2),
            facts_of(),
            visible=_visible(plane),
            pid=pid2,
        )
    assert wrong.value.reason == "offer_modified"
    taken = plane.negotiations.requested(
        caller(),
        _counter(altered, "urn:uuid:c2", pid2),
        facts_of(),
        visible=_visible(plane),
        pid=pid2,
    )
    assert taken.check is not None and not taken.check.permitted


def test_an_auto_provider_terminates_a_counter_request_with_other_terms(plane: Plane) -> None:
    offer = dataset(plane).offers[0]
    n = plane.negotiations.requested(caller(), _request(offer), facts_of(), visible=_visible(plane))
    (agreement,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert agreement.id is not None
    refusal = Undelivered(agreement.event, plane.clock.now(), "no", status=400)
    plane.negotiations.refused(agreement.id, n.id, refusal)  # the consumer refused it
    plane.negotiations.act(n.id, "offer", offer=offer)
    (offered,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert offered.id is not None
    plane.negotiations.acknowledged(offered.id, offered.event, n.id, None)
    other_terms = Offer("urn:uuid:counter", offer.target, {"permission": [{"action": "use"}]})
    countered = plane.negotiations.requested(
        caller(),
        _counter(other_terms, "urn:uuid:c1", n.id),
        facts_of(),
        visible=_visible(plane),
        pid=n.id,
    )
    assert (countered.state, countered.pending) == (
        NegotiationState.REQUESTED,
        NegotiationEvent.TERMINATE,
    )
    (termination,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert "counter-offer" in termination.body["reason"][0]


def _agreed_consumer(plane: Plane, negotiations: Negotiations) -> tuple[str, int]:
    """A consumer negotiation that received the provider's agreement: its automatic
    verification is pending; returns ``(pid, outbox id of the verification)``."""
    offer = Offer("urn:uuid:o1", "remote-ds", {"permission": [{"action": "use"}]})
    n = negotiations.start(counterparty_address=CALLBACK, counterparty_id=PARTNER, offer=offer)
    (request,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert request.id is not None
    negotiations.acknowledged(request.id, request.event, n.id, {"providerPid": "urn:uuid:p1"})
    agreement = wn.ContractAgreementMessage.model_validate(
        {
            "providerPid": "urn:uuid:p1",
            "consumerPid": n.id,
            "agreement": {
                "@id": "urn:uuid:a1",
                "@type": "Agreement",
                "target": "remote-ds",
                "assigner": PARTNER,
                "assignee": US,
                "timestamp": "2026-03-01T08:00:00Z",
                "permission": [{"action": "use"}],
            },
        }
    )
    agreed = negotiations.agreed(caller(), n.id, agreement)
    assert (agreed.state, agreed.pending) == (NegotiationState.AGREED, NegotiationEvent.VERIFY)
    (verification,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert verification.id is not None
    return n.id, verification.id


def _finalized(pid: str) -> wn.ContractNegotiationEventMessage:
    return wn.ContractNegotiationEventMessage(
        provider_pid="urn:uuid:p1", consumer_pid=pid, event_type="FINALIZED"
    )


def _with_sleep(plane: Plane, sleep: Any, polls: int = 200) -> Negotiations:
    return Negotiations(
        plane.store,
        plane.clock,
        plane.catalog,
        own_did=US,
        callback_url="https://us/api/dsp",
        settle_polls=polls,
        sleep=sleep,
    )


def test_a_message_that_needs_our_pending_one_waits_for_its_refusal(plane: Plane) -> None:
    """The TCK's CN_C:03-06: the provider refuses our verification (404) and sends FINALIZED;
    the FINALIZED waits for the refusal to be recorded and is then illegal (the negotiation
    stays AGREED), instead of being taken as an implied acknowledgement."""
    outcome: list[int] = []

    def refusal_lands(_: float) -> None:
        if not outcome:
            outcome.append(1)
            why = Undelivered("x", plane.clock.now(), "unknown process", status=404)
            negotiations.refused(verification_id, pid, why)

    negotiations = _with_sleep(plane, refusal_lands)
    pid, verification_id = _agreed_consumer(plane, negotiations)
    with pytest.raises(Conflict):
        negotiations.event(caller(), pid, _finalized(pid), facts_of())
    stored = plane.queries.negotiation(pid)
    assert stored is not None and (stored.state, stored.pending) == (NegotiationState.AGREED, None)


def test_a_message_that_needs_our_pending_one_waits_for_its_acknowledgement(
    plane: Plane,
) -> None:
    """Our verification's answer is still on its way when the FINALIZED arrives: it waits for
    the acknowledgement and is then legal; past the bound it is the implied acknowledgement."""
    acked: list[int] = []

    def ack_lands(_: float) -> None:
        if not acked:
            acked.append(1)
            negotiations.acknowledged(
                verification_id, "ContractAgreementVerificationMessage", pid, None
            )

    negotiations = _with_sleep(plane, ack_lands)
    pid, verification_id = _agreed_consumer(plane, negotiations)
    done = negotiations.event(caller(), pid, _finalized(pid), facts_of())
    assert done.state is NegotiationState.FINALIZED
    assert [s.after for s in done.history][-2:] == [
        NegotiationState.VERIFIED,
        NegotiationState.FINALIZED,
    ]

    naps: list[float] = []
    patient = _with_sleep(plane, naps.append, polls=3)
    pid2, _ = _agreed_consumer(plane, patient)
    implied = patient.event(caller(), pid2, _finalized(pid2), facts_of())
    assert implied.state is NegotiationState.FINALIZED and len(naps) == 3
    # a stranger's message on our pid does not wait at all
    naps.clear()
    pid3, _ = _agreed_consumer(plane, patient)
    with pytest.raises(NotFound):
        patient.event(caller(STRANGER), pid3, _finalized(pid3), facts_of())
    assert naps == []


def test_an_empty_array_in_a_requested_offer_changes_nothing(plane: Plane) -> None:
    """The Eclipse DSP TCK requests offers with ``"constraints": []`` in each permission: an
    empty JSON-LD array states nothing, so the offer is the published one; a non-empty
    addition still changes it."""
    offer = dataset(plane).offers[0]
    wire = message_offer(offer).model_dump(by_alias=True, exclude_none=True, mode="json")
    tck = {**wire, "permission": [{"action": "use", "constraints": []}]}
    n = plane.negotiations.requested(
        caller(),
        wn.ContractRequestMessage.model_validate(
            {"consumerPid": "urn:uuid:c1", "offer": tck, "callbackAddress": CALLBACK}
        ),
        facts_of(),
        visible=_visible(plane),
    )
    assert n.pending is NegotiationEvent.AGREE
    more = {**wire, "permission": [{"action": "use", "constraints": [{"x": 1}]}]}
    with pytest.raises(Invalid) as refused:
        plane.negotiations.requested(
            caller(),
            wn.ContractRequestMessage.model_validate(
                {"consumerPid": "urn:uuid:c2", "offer": more, "callbackAddress": CALLBACK}
            ),
            facts_of(),
            visible=_visible(plane),
        )
    assert refused.value.reason == "offer_modified"


def test_an_offer_overtaking_the_ack_of_our_request_answers_it(plane: Plane) -> None:
    """The TCK's provider offers as soon as it has answered our request: the offer can arrive
    before its 201. It answers our request (the provider can only know our pid from it), it is
    not a provider's initial offer; the late acknowledgement changes nothing."""
    offer = Offer("urn:uuid:o1", "remote-ds", {"permission": [{"action": "use"}]})
    n = plane.negotiations.start(
        counterparty_address=CALLBACK, counterparty_id=PARTNER, offer=offer
    )
    (request,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert request.id is not None
    offered = plane.negotiations.offered(
        caller(),
        wn.ContractOfferMessage(
            provider_pid="urn:uuid:p1", consumer_pid=n.id, offer=message_offer(offer)
        ),
        pid=n.id,
    )
    assert (offered.state, offered.pending) == (NegotiationState.OFFERED, None)
    plane.negotiations.acknowledged(request.id, request.event, n.id, {"providerPid": "urn:uuid:p1"})
    stored = plane.queries.negotiation(n.id)
    assert stored is not None and stored.state is NegotiationState.OFFERED
    assert [s.after for s in stored.history] == [
        NegotiationState.REQUESTED,
        NegotiationState.OFFERED,
    ]


def test_an_operator_offer_keeps_the_policy_version_only_with_its_rules(plane: Plane) -> None:
    """The agreement names the policy version (and its hash) it was made under only when the
    operator offered exactly that version's rules; other terms are agreed as such (the
    management view then shows the digest of the agreed rules, ``policyHashOf: agreement``)."""
    from connector.web.management import agreement_view

    published = dataset(plane, negotiation="manual").offers[0]
    assert published.policy_hash is not None
    stricter = Offer(
        "urn:uuid:stricter",
        published.target,
        {
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        {"leftOperand": "purpose", "operator": "eq", "rightOperand": "climate"}
                    ],
                }
            ]
        },
    )
    for offered, version_kept in ((published, True), (stricter, False)):
        request = _request(published, f"urn:uuid:c-{version_kept}")
        n = plane.negotiations.requested(caller(), request, facts_of(), visible=_visible(plane))
        plane.negotiations.act(n.id, "offer", offer=offered)
        (sent,) = plane.outbox.lease("t", plane.clock.now().timestamp())
        assert sent.id is not None
        plane.negotiations.acknowledged(sent.id, sent.event, n.id, None)
        stored = plane.queries.negotiation(n.id)
        assert stored is not None and stored.offer is not None
        assert (stored.offer.policy_hash == published.policy_hash) is version_kept
        agreement = plane.negotiations._agreement(stored)
        view = agreement_view(agreement, n.id)
        assert view["policyHashOf"] == ("policy_version" if version_kept else "agreement")
        assert view["policyHash"].startswith("sha256:")
        assert (view["policyHash"] == published.policy_hash) is version_kept
