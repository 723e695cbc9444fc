"""Transfer use cases on the provider side: agreement checks, idempotency, re-checks."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.controlplane.transfers import Transfers
from connector.dsp import transfer as wt
from connector.errors import Conflict, Invalid, NotFound
from connector.model.contract import Agreement
from connector.model.process import Undelivered
from connector.model.transfer import TransferEvent, TransferState

from .conftest import CALLBACK, PARTNER, STRANGER, US, Plane, caller, dataset, facts_of

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def _agreement(plane: Plane, dataset_id: str, assignee: str = PARTNER) -> Agreement:
    offer = plane.catalog.dataset(dataset_id).offers[0]  # type: ignore[union-attr]
    agreement = Agreement(
        f"urn:uuid:a-{dataset_id}-{assignee}",
        dataset_id,
        US,
        assignee,
        NOW,
        offer.policy,
        offer.id,
        offer.policy_id,
        offer.policy_hash,
    )
    with plane.store.transaction() as tx:
        tx.save_agreement(agreement, negotiation_id="urn:uuid:n")
    return agreement


def _request(
    agreement_id: str, consumer_pid: str = "urn:uuid:c1", fmt: str = "HttpData-PULL"
) -> wt.TransferRequestMessage:
    return wt.TransferRequestMessage(
        consumer_pid=consumer_pid, agreement_id=agreement_id, format=fmt, callback_address=CALLBACK
    )


def test_a_request_is_idempotent_on_the_consumer_pid(plane: Plane) -> None:
    dataset(plane, transfer="manual")
    agreement = _agreement(plane, "energy")
    first, created = plane.transfers.requested(caller(), _request(agreement.id), facts_of())
    assert created and first.state is TransferState.REQUESTED
    again, created_again = plane.transfers.requested(caller(), _request(agreement.id), facts_of())
    assert (again.id, created_again) == (first.id, False)
    with pytest.raises(Invalid):  # same consumerPid, other content
        plane.transfers.requested(caller(), _request(agreement.id, fmt="HttpData-PUSH"), facts_of())
    assert len(plane.queries.transfers()) == 1


def test_requests_without_a_valid_agreement_are_refused(plane: Plane) -> None:
    dataset(plane, transfer="manual")
    agreement = _agreement(plane, "energy")
    for message, who in (
        (_request("urn:uuid:unknown"), PARTNER),
        (_request(agreement.id), STRANGER),  # the agreement is not the caller's
        (_request(agreement.id, fmt="S3-PUSH"), PARTNER),
    ):
        with pytest.raises(Invalid):
            plane.transfers.requested(caller(who), message, facts_of(who))
    assert plane.queries.transfers() == []


def test_the_agreement_policy_is_evaluated_again(plane: Plane) -> None:
    dataset(plane, "partners", policy="partner-only", transfer="manual")
    agreement = _agreement(plane, "partners")
    with pytest.raises(Invalid) as refused:
        plane.transfers.requested(caller(), _request(agreement.id), facts_of())
    assert refused.value.reason == "agreement_not_valid"


def test_operator_actions_follow_the_state_machine(plane: Plane) -> None:
    dataset(plane, transfer="manual")
    agreement = _agreement(plane, "energy")
    t, _ = plane.transfers.requested(caller(), _request(agreement.id), facts_of())
    with pytest.raises(Conflict):
        plane.transfers.act(t.id, "suspend")
    with pytest.raises(Conflict):  # no data plane configured in this test
        plane.transfers.act(t.id, "start")
    with pytest.raises(NotFound):
        plane.transfers.act("urn:uuid:nope", "complete")
    stopping = plane.transfers.act(t.id, "terminate", reason="no longer needed")
    assert (stopping.state, stopping.pending) == (TransferState.REQUESTED, TransferEvent.TERMINATE)
    (message,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert message.url == f"{CALLBACK}/transfers/urn:uuid:c1/termination"
    assert message.body["reason"] == ["no longer needed"]


def test_an_operator_start_evaluates_the_agreement_policy_again(plane: Plane) -> None:
    from connector.controlplane.ports import CredentialFact, Facts

    member = CredentialFact(
        types=("VerifiableCredential", "https://w3id.org/klimakommune/policy#MembershipCredential"),
        issuer="did:web:federation.klimakommune.de",
        subject=PARTNER,
    )
    dataset(plane, "partners", policy="partner-only", transfer="manual")
    agreement = _agreement(plane, "partners")
    t, _ = plane.transfers.requested(
        caller(), _request(agreement.id), facts_of(credentials=(member,))
    )
    # the membership has gone in the meantime: the provider's operator cannot start it
    with pytest.raises(Invalid) as refused:
        plane.transfers.act(t.id, "start", facts=lambda did: Facts(did, trusted=False))
    assert refused.value.reason == "agreement_not_valid"
    # still a member: the policy permits; only the missing data plane stops it here
    with pytest.raises(Conflict) as no_plane:
        plane.transfers.act(
            t.id, "start", facts=lambda did: Facts(did, trusted=False, credentials=(member,))
        )
    assert no_plane.value.reason == "no_data_plane"
    assert plane.queries.transfer(t.id).state is TransferState.REQUESTED  # type: ignore[union-attr]


def test_the_termination_reason_of_a_transfer_is_shown(plane: Plane) -> None:
    from connector.web.management import transfer_view

    dataset(plane, transfer="manual")
    agreement = _agreement(plane, "energy")
    t, _ = plane.transfers.requested(caller(), _request(agreement.id), facts_of())
    plane.transfers.received(
        caller(),
        t.id,
        wt.TransferTerminationMessage(
            consumer_pid="urn:uuid:c1", provider_pid=t.id, code="gone", reason=["no longer needed"]
        ),
        TransferEvent.TERMINATE,
        facts_of(),
    )
    ended = plane.queries.transfer(t.id)
    assert ended is not None and ended.state is TransferState.TERMINATED
    assert transfer_view(ended)["termination"] == {
        "by": "CONSUMER",
        "code": "gone",
        "reason": ["no longer needed"],
    }
    # this side's own reason, when it terminates one the counterpart never knew
    dataset(plane, "other", transfer="manual")
    mine = plane.transfers.request(
        counterparty_address=CALLBACK,
        counterparty_id=PARTNER,
        agreement_id=_own_agreement(plane).id,
        format="HttpData-PULL",
        destination=None,
    )
    aborted = plane.transfers.act(mine.id, "terminate", reason="Abbruch durch den Betreiber")
    assert transfer_view(aborted)["termination"]["reason"] == ["Abbruch durch den Betreiber"]


def _own_agreement(plane: Plane) -> Agreement:
    agreement = Agreement(
        "urn:uuid:a-remote", "remote-ds", PARTNER, US, NOW, {"permission": [{"action": "use"}]}
    )
    with plane.store.transaction() as tx:
        tx.save_agreement(agreement, negotiation_id="urn:uuid:n2")
    return agreement


def test_a_request_acknowledges_a_finalized_event_not_yet_acknowledged(plane: Plane) -> None:
    from connector.dsp import negotiation as wn
    from connector.dsp.conversion import message_offer
    from connector.model.negotiation import NegotiationEvent, NegotiationState

    offer = dataset(plane, transfer="manual").offers[0]
    request = wn.ContractRequestMessage(
        consumer_pid="urn:uuid:c9", offer=message_offer(offer), callback_address=CALLBACK
    )
    n = plane.negotiations.requested(caller(), request, facts_of(), visible=lambda _d: True)
    (agree,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert agree.id is not None
    plane.negotiations.acknowledged(agree.id, agree.event, n.id, None)
    verification = wn.ContractAgreementVerificationMessage(
        consumer_pid="urn:uuid:c9", provider_pid=n.id
    )
    verified = plane.negotiations.verified(caller(), n.id, verification)
    assert verified.pending is NegotiationEvent.FINALIZE and verified.agreement is not None
    (final,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    # the consumer got the event and asks for a transfer before our acknowledgement is stored
    t, created = plane.transfers.requested(
        caller(), _request(verified.agreement.id, "urn:uuid:t9"), facts_of()
    )
    assert created and t.state is TransferState.REQUESTED
    done = plane.queries.negotiation(n.id)
    assert done is not None and done.state is NegotiationState.FINALIZED
    assert plane.queries.agreement(verified.agreement.id) is not None
    assert plane.outbox.pending_count() == 0
    assert final.id is not None
    plane.negotiations.acknowledged(final.id, final.event, n.id, None)  # late: changes nothing
    again = plane.queries.negotiation(n.id)
    assert again is not None and again.history == done.history
    # another consumer cannot use it
    with pytest.raises(Invalid):
        plane.transfers.requested(
            caller(STRANGER), _request(verified.agreement.id, "urn:uuid:t10"), facts_of(STRANGER)
        )


def test_a_message_that_needs_our_pending_one_waits_for_its_outcome(plane: Plane) -> None:
    """Our suspension is pending when the provider's start (a resume) arrives: legal only once
    the suspension took effect. It waits for the outcome: the provider refused the suspension,
    so the start is illegal (the transfer stays STARTED) instead of an implied acknowledgement."""
    landed: list[int] = []

    def refusal_lands(_: float) -> None:
        if not landed:
            landed.append(1)
            why = Undelivered("x", plane.clock.now(), "not suspendable", status=400)
            transfers.refused(suspension_id, pid, why)

    transfers = Transfers(
        plane.store,
        plane.clock,
        plane.catalog,
        None,
        own_did=US,
        callback_url="https://us/api/dsp",
        sleep=refusal_lands,
    )
    mine = transfers.request(
        counterparty_address=CALLBACK,
        counterparty_id=PARTNER,
        agreement_id=_own_agreement(plane).id,
        format="HttpData-PULL",
        destination=None,
    )
    pid = mine.id
    (request,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert request.id is not None
    transfers.acknowledged(request.id, request.event, pid, {"providerPid": "urn:uuid:p1"})
    start = wt.TransferStartMessage(provider_pid="urn:uuid:p1", consumer_pid=pid)
    started = transfers.received(caller(), pid, start, TransferEvent.START, facts_of())
    assert started.state is TransferState.STARTED
    transfers.act(pid, "suspend")
    (suspension,) = plane.outbox.lease("t", plane.clock.now().timestamp())
    assert suspension.id is not None
    suspension_id = suspension.id
    with pytest.raises(Conflict):
        transfers.received(caller(), pid, start, TransferEvent.START, facts_of())
    stored = plane.queries.transfer(pid)
    assert stored is not None and (stored.state, stored.pending) == (TransferState.STARTED, None)
    assert landed == [1]


def test_a_push_without_destination_or_another_counterparty_is_refused_at_once(
    plane: Plane,
) -> None:
    """Refused when requested (400), on both sides, instead of failing when started."""
    dataset(plane, transfer="manual")
    agreement = _agreement(plane, "energy")
    with pytest.raises(Invalid) as provider_side:
        plane.transfers.requested(caller(), _request(agreement.id, fmt="HttpData-PUSH"), facts_of())
    assert provider_side.value.reason == "missing_destination"
    own = _own_agreement(plane)

    def request(counterparty: str, fmt: str) -> None:
        plane.transfers.request(
            counterparty_address=CALLBACK,
            counterparty_id=counterparty,
            agreement_id=own.id,
            format=fmt,
            destination=None,
        )

    with pytest.raises(Invalid) as consumer_side:
        request(PARTNER, "HttpData-PUSH")
    assert consumer_side.value.reason == "missing_destination"
    with pytest.raises(Invalid) as stranger:
        request(STRANGER, "HttpData-PULL")
    assert stranger.value.reason == "wrong_counterparty"
    assert plane.queries.transfers(limit=10) == []
