"""Contract negotiation use cases, in both roles: DSP messages received, operator actions,
acknowledgements from the runner.

Every use case runs in one store transaction: read (and lock) the process, move it with the
entity's transition rules (a refusal is a ``Conflict`` and nothing is written), save it, and
queue the message the move implies. The protocol state changes only when the counterpart
acknowledges a message (:meth:`Negotiations.acknowledged`).

Automation: a provider's dataset in ``auto`` mode agrees to a request the contract policy
permits for the requester and terminates (with the explanation) one it does not; in
``manual`` mode an operator acts — the decision is taken all the same when the request
arrives (with the facts the requester presented then), kept on the process for the operator
to see, and an operator's ``agree`` is refused (``policy_denied``) when it was a deny.
The consumer verifies an agreement automatically; the provider finalizes a verified
agreement automatically. A consumer's counter-request of other terms than the published offer
is taken (REQUESTED) but never agreed to by itself: ``auto`` terminates it with the
explanation, in ``manual`` mode the operator may answer with an offer (``agree`` is refused).

A message that depends on our own pending message (a ``FINALIZED`` while our verification
waits for its acknowledgement) first waits, briefly, for that message's outcome
(:mod:`connector.controlplane.settling`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from connector.clock import Clock
from connector.controlplane.decisions import Decision, contract_decision, note_contract_decision
from connector.controlplane.outbound import (
    negotiation_message,
    own_termination,
    received_termination,
)
from connector.controlplane.policies import PolicyVersion
from connector.controlplane.ports import Caller, ControlPlaneStore, Facts, StoreTx
from connector.controlplane.settling import SETTLE_POLLS, Sleep, Unsettled, settled
from connector.dsp import negotiation as wn
from connector.dsp import policy as wp
from connector.dsp.conversion import agreement_from_wire, catalog_offer, offer_from_wire
from connector.errors import Conflict, Invalid, NotFound
from connector.model.contract import Agreement, Offer
from connector.model.dataset import Dataset, Mode
from connector.model.negotiation import (
    ContractCheck,
    Negotiation,
    NegotiationEvent,
    NegotiationState,
)
from connector.model.process import Role, Undelivered

FactsSource = Callable[[], Facts]


class PolicyLookup(Protocol):
    def policy_by_hash(self, digest: str) -> PolicyVersion | None: ...
    def dataset(self, dataset_id: str) -> Dataset | None: ...


COUNTER_OFFER_EXPLANATION = (
    "the counter-offer differs from the published offers; only an operator can answer it"
)


def new_pid() -> str:
    """A fresh process or agreement id."""
    return f"urn:uuid:{uuid.uuid4()}"


def _stated(value: Any) -> Any:
    """JSON-LD content as far as it states anything: a key whose value is an empty array
    states nothing (no values), so it is left out — the Eclipse DSP TCK, for one, writes
    ``"constraints": []`` into the permissions of the offers it requests."""
    if isinstance(value, dict):
        return {k: _stated(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_stated(v) for v in value]
    return value


def offer_rules_equal(published: Offer, received: wp.Offer) -> bool:
    """Whether a received offer states exactly the rules of the published one."""
    ours: object = _stated(catalog_offer(published).rules())
    theirs: object = _stated(
        wp.Offer.model_validate({"@id": received.id, **received.rules()}).rules()
    )
    return ours == theirs


class Negotiations:
    """The negotiation use cases of one participant."""

    def __init__(
        self,
        store: ControlPlaneStore,
        clock: Clock,
        policies: PolicyLookup,
        *,
        own_did: str,
        callback_url: str,
        ids: Callable[[], str] = new_pid,
        settle_polls: int = SETTLE_POLLS,
        sleep: Sleep = time.sleep,
        in_delivery: Callable[[str], bool] | None = None,
    ) -> None:
        """``in_delivery(pid)``: whether our message on that negotiation is being delivered right
        now (its outcome is imminent), read without the write lock — what the waits of
        :mod:`connector.controlplane.settling` poll; a message waiting for a later retry is not
        waited for. Default: the negotiation read in a store transaction."""
        self._store = store
        self._clock = clock
        self._policies = policies
        self.own_did = own_did
        self.callback_url = callback_url
        self._ids = ids
        self._settle_polls = settle_polls
        self._sleep = sleep
        self._in_delivery = in_delivery

    # helpers -----------------------------------------------------------------------------------

    def _send(
        self,
        tx: StoreTx,
        n: Negotiation,
        event: NegotiationEvent,
        *,
        reason: str | None = None,
        **kwargs: Any,
    ) -> Negotiation:
        moved = n.send(event, **kwargs)
        tx.enqueue(negotiation_message(moved, event, callback_url=self.callback_url, reason=reason))
        if event is NegotiationEvent.TERMINATE:
            moved = replace(moved, termination=own_termination(moved.role, reason))
        return moved

    def _settled(
        self,
        pid: str,
        event: NegotiationEvent,
        apply: Callable[[NegotiationEvent | None], Negotiation],
    ) -> Negotiation:
        """Run ``apply`` for the counterpart's ``event``, waiting for the outcome of our pending
        message first if ``event`` depends on it (:func:`connector.controlplane.settling.
        settled`)."""

        def awaiting() -> bool:
            if self._in_delivery is not None:
                return self._in_delivery(pid)
            with self._store.transaction() as tx:
                n = tx.negotiation(pid)
            return n is not None and n.awaits_acknowledgement(event)

        return settled(apply, event, awaiting, polls=self._settle_polls, sleep=self._sleep)

    def _save(self, tx: StoreTx, n: Negotiation) -> None:
        tx.save_negotiation(n)
        if n.state is NegotiationState.FINALIZED and n.agreement is not None:
            tx.save_agreement(n.agreement, negotiation_id=n.id)

    def _owned(
        self, tx: StoreTx, pid: str, caller: Caller, unsettled: NegotiationEvent | None = None
    ) -> Negotiation:
        """The caller's negotiation ``pid``; :class:`Unsettled` if ``unsettled`` (the event
        being received) depends on our pending message."""
        n = tx.negotiation(pid)
        if n is None or n.counterparty_id != caller.did:
            raise NotFound(f"negotiation {pid} not found", reason="unknown_process")
        if unsettled is not None and n.awaits_acknowledgement(unsettled):
            raise Unsettled
        return n

    def _pids(self, n: Negotiation, consumer_pid: str, provider_pid: str) -> str:
        """Check the message's ids against ``n``; returns the counterpart's pid."""
        own, other = (
            (consumer_pid, provider_pid)
            if n.role is Role.CONSUMER
            else (provider_pid, consumer_pid)
        )
        if own != n.id:
            raise Invalid("the message names another process", reason="pid_mismatch")
        if n.counterpart_pid is not None and other != n.counterpart_pid:
            raise Invalid("the message names another process", reason="pid_mismatch")
        return other

    def _agreement(self, n: Negotiation) -> Agreement:
        if n.offer is None:
            raise Conflict("the negotiation has no offer", reason="no_offer")
        return Agreement(
            id=self._ids(),
            target=n.dataset_id,
            assigner=self.own_did,
            assignee=n.counterparty_id,
            timestamp=self._clock.now(),
            policy=n.offer.policy,
            offer_id=n.offer.id,
            policy_id=n.offer.policy_id,
            policy_hash=n.offer.policy_hash,
        )

    def _predecide(
        self, caller: Caller, dataset: Dataset | None, offer_id: str, facts: FactsSource
    ) -> tuple[Decision | None, bool]:
        """The contract decision for a published offer of ``dataset``, taken *before* the
        transaction (``facts`` may do I/O), and whether the dataset decides automatically.
        ``None`` when the offer is not a published one (an operator's counter-offer: the
        operator decides)."""
        if dataset is None:
            return None, False
        auto = dataset.negotiation is Mode.AUTO
        offer = dataset.offer(offer_id)
        if offer is None:
            return None, auto
        version = self._policies.policy_by_hash(offer.policy_hash) if offer.policy_hash else None
        if version is None:
            return Decision(False, "the offer's policy is not available"), auto
        now = self._clock.now()
        quick = contract_decision(version, Facts(caller.did, trusted=False), dataset.id, now)
        if quick.permitted:
            return quick, auto
        return contract_decision(version, facts(), dataset.id, now), auto

    def _decide(
        self, tx: StoreTx, n: Negotiation, decision: Decision | None, *, auto: bool
    ) -> Negotiation:
        """After a request or an acceptance: record the contract decision on ``n`` (and in the
        audit trail); in auto mode agree or terminate by it, in manual mode wait."""
        note_contract_decision(tx, decision, n)
        if decision is None or n.offer is None:
            return n
        n = replace(n, check=ContractCheck(decision.permitted, decision.explanation))
        if not auto:
            return n
        if not decision.permitted:
            return self._send(
                tx, n, NegotiationEvent.TERMINATE, reason=decision.explanation or "not permitted"
            )
        return self._send(tx, n, NegotiationEvent.AGREE, agreement=self._agreement(n))

    def _published(
        self, tx: StoreTx, offer: wp.Offer, dataset_id: str | None
    ) -> tuple[Dataset, Offer]:
        target = offer.target or dataset_id
        dataset = tx.dataset(target) if target else None
        published = dataset.offer(offer.id) if dataset is not None else None
        if dataset is None or published is None:
            raise Invalid(f"offer {offer.id} is not offered", reason="unknown_offer")
        if dataset_id is not None and dataset.id != dataset_id:
            raise Invalid("the offer is for another dataset", reason="offer_modified")
        if not offer_rules_equal(published, offer):
            raise Invalid("the offer differs from the published offer", reason="offer_modified")
        return dataset, published

    def _counter_offer(self, tx: StoreTx, offer: wp.Offer, dataset_id: str) -> Offer | None:
        """A counter-request's offer: ``None`` when it is a published offer of the negotiated
        dataset, unchanged; otherwise the consumer's proposal (same dataset, other terms).

        DSP lets a consumer answer an offer with a counter-request of its own terms; the
        provider takes the message (the negotiation is REQUESTED again) but never agrees to
        such terms by itself: an ``auto`` dataset terminates with the explanation, in
        ``manual`` mode the operator may answer with an offer (``agree`` is refused)."""
        if offer.target is not None and offer.target != dataset_id:
            raise Invalid("the offer is for another dataset", reason="offer_modified")
        dataset = tx.dataset(dataset_id)
        listed = dataset.offer(offer.id) if dataset is not None else None
        if listed is not None and offer_rules_equal(listed, offer):
            return None
        return offer_from_wire(offer, target=dataset_id)

    def _decline_counter_offer(self, tx: StoreTx, n: Negotiation, *, auto: bool) -> Negotiation:
        """A counter-request of other terms: shown to the operator as not permitted (``agree``
        is refused); an ``auto`` dataset terminates the negotiation with the explanation."""
        n = replace(n, check=ContractCheck(False, COUNTER_OFFER_EXPLANATION))
        if not auto:
            return n
        return self._send(tx, n, NegotiationEvent.TERMINATE, reason=COUNTER_OFFER_EXPLANATION)

    # provider: DSP messages --------------------------------------------------------------------

    def requested(
        self,
        caller: Caller,
        msg: wn.ContractRequestMessage,
        facts: FactsSource,
        *,
        visible: Callable[[Dataset], bool],
        pid: str | None = None,
    ) -> Negotiation:
        """A ``ContractRequestMessage``: initial (``pid`` None) or a counter-request."""
        target = msg.offer.target
        if target is None and pid is not None:
            with self._store.transaction() as tx:
                known = tx.negotiation(pid)
            target = None if known is None else known.dataset_id
        listed = self._policies.dataset(target) if target else None
        if pid is None and listed is not None and not visible(listed):
            raise Invalid(f"offer {msg.offer.id} is not offered", reason="unknown_offer")
        predecided, auto = self._predecide(caller, listed, msg.offer.id, facts)

        def apply(unsettled: NegotiationEvent | None) -> Negotiation:
            decision = predecided
            now = self._clock.now()
            with self._store.transaction() as tx:
                if pid is None:
                    n = self._initial_request(tx, caller, msg, now)
                else:
                    n = self._owned(tx, pid, caller, unsettled)
                    other = self._pids(n, msg.consumer_pid, msg.provider_pid or "")
                    proposal = self._counter_offer(tx, msg.offer, n.dataset_id)
                    if proposal is None:
                        _, published = self._published(tx, msg.offer, n.dataset_id)
                    else:
                        published = proposal
                    n = n.receive(
                        NegotiationEvent.REQUEST, at=now, offer=published, counterpart_pid=other
                    )
                    if proposal is not None:  # the consumer's own terms: no policy decision
                        n, decision = self._decline_counter_offer(tx, n, auto=auto), None
                n = self._decide(tx, n, decision, auto=auto)
                self._save(tx, n)
            return n

        if pid is None:
            return apply(None)
        return self._settled(pid, NegotiationEvent.REQUEST, apply)

    def _initial_request(
        self, tx: StoreTx, caller: Caller, msg: wn.ContractRequestMessage, now: Any
    ) -> Negotiation:
        """A new provider negotiation for an initial ``ContractRequestMessage``."""
        if not msg.is_initial or msg.callback_address is None:
            raise Invalid("an initial request needs a callbackAddress", reason="missing_field")
        if tx.negotiation_requested_by(caller.did, msg.consumer_pid) is not None:
            raise Invalid("this consumerPid is already in use", reason="replayed_message")
        dataset, published = self._published(tx, msg.offer, None)
        n = Negotiation.create(
            id=self._ids(),
            role=Role.PROVIDER,
            counterparty_id=caller.did,
            counterparty_address=msg.callback_address,
            dataset_id=dataset.id,
            at=now,
            counterpart_pid=msg.consumer_pid,
        )
        return n.receive(NegotiationEvent.REQUEST, at=now, offer=published)

    def event(
        self, caller: Caller, pid: str, msg: wn.ContractNegotiationEventMessage, facts: FactsSource
    ) -> Negotiation:
        """``ACCEPTED`` (to a provider) or ``FINALIZED`` (to a consumer)."""
        event = (
            NegotiationEvent.ACCEPT if msg.event_type == "ACCEPTED" else NegotiationEvent.FINALIZE
        )
        decision, auto = None, False
        if msg.event_type == "ACCEPTED":
            with self._store.transaction() as tx:
                known = tx.negotiation(pid)
            if known is not None and known.offer is not None and known.role is Role.PROVIDER:
                listed = self._policies.dataset(known.dataset_id)
                decision, auto = self._predecide(caller, listed, known.offer.id, facts)

        def apply(unsettled: NegotiationEvent | None) -> Negotiation:
            now = self._clock.now()
            with self._store.transaction() as tx:
                n = self._owned(tx, pid, caller, unsettled)
                other = self._pids(n, msg.consumer_pid, msg.provider_pid)
                n = n.receive(event, at=now, counterpart_pid=other)
                if event is NegotiationEvent.ACCEPT:
                    n = self._decide(tx, n, decision, auto=auto)
                self._save(tx, n)
            return n

        return self._settled(pid, event, apply)

    def verified(
        self, caller: Caller, pid: str, msg: wn.ContractAgreementVerificationMessage
    ) -> Negotiation:
        """The consumer verified the agreement: finalize it (always automatic)."""

        def apply(unsettled: NegotiationEvent | None) -> Negotiation:
            now = self._clock.now()
            with self._store.transaction() as tx:
                n = self._owned(tx, pid, caller, unsettled)
                other = self._pids(n, msg.consumer_pid, msg.provider_pid)
                n = n.receive(NegotiationEvent.VERIFY, at=now, counterpart_pid=other)
                n = self._send(tx, n, NegotiationEvent.FINALIZE)
                self._save(tx, n)
            return n

        return self._settled(pid, NegotiationEvent.VERIFY, apply)

    def terminated(
        self, caller: Caller, pid: str, msg: wn.ContractNegotiationTerminationMessage
    ) -> Negotiation:
        """The counterpart terminated the negotiation (a pending message of ours is dropped)."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            n = self._owned(tx, pid, caller)
            other = self._pids(n, msg.consumer_pid, msg.provider_pid)
            n = n.receive(NegotiationEvent.TERMINATE, at=now, counterpart_pid=other)
            n = replace(n, termination=received_termination(n.role, msg.code, msg.reason))
            self._save(tx, n)
        return n

    # consumer: DSP messages --------------------------------------------------------------------

    def offered(
        self, caller: Caller, msg: wn.ContractOfferMessage, *, pid: str | None = None
    ) -> Negotiation:
        """A ``ContractOfferMessage``: initial (a provider starts) or a counter-offer."""
        if pid is None:
            return self._initial_offer(caller, msg)
        known = pid

        def apply(unsettled: NegotiationEvent | None) -> Negotiation:
            now = self._clock.now()
            with self._store.transaction() as tx:
                n = self._owned(tx, known, caller, unsettled)
                other = self._pids(n, msg.consumer_pid or "", msg.provider_pid)
                offer = offer_from_wire(msg.offer)
                if offer.target != n.dataset_id:
                    raise Invalid("the offer is for another dataset", reason="offer_modified")
                n = n.receive(NegotiationEvent.OFFER, at=now, offer=offer, counterpart_pid=other)
                self._save(tx, n)
            return n

        return self._settled(pid, NegotiationEvent.OFFER, apply)

    def _initial_offer(self, caller: Caller, msg: wn.ContractOfferMessage) -> Negotiation:
        """A provider starts a negotiation with an offer: a new consumer negotiation."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            if msg.callback_address is None:
                raise Invalid("an initial offer needs a callbackAddress", reason="missing_field")
            offer = offer_from_wire(msg.offer)
            n = Negotiation.create(
                id=self._ids(),
                role=Role.CONSUMER,
                counterparty_id=caller.did,
                counterparty_address=msg.callback_address,
                dataset_id=offer.target,
                at=now,
                counterpart_pid=msg.provider_pid,
            )
            n = n.receive(NegotiationEvent.OFFER, at=now, offer=offer)
            self._save(tx, n)
        return n

    def agreed(self, caller: Caller, pid: str, msg: wn.ContractAgreementMessage) -> Negotiation:
        """The provider's agreement: checked, then verified automatically."""

        def apply(unsettled: NegotiationEvent | None) -> Negotiation:
            now = self._clock.now()
            with self._store.transaction() as tx:
                n = self._owned(tx, pid, caller, unsettled)
                other = self._pids(n, msg.consumer_pid, msg.provider_pid)
                wire = msg.agreement
                if wire.target != n.dataset_id or wire.assignee != self.own_did:
                    raise Invalid(
                        "the agreement is not for this negotiation", reason="invalid_agreement"
                    )
                if wire.assigner != caller.did:
                    raise Invalid(
                        "the agreement's assigner is not the caller", reason="invalid_agreement"
                    )
                agreement = agreement_from_wire(wire, offer_id=n.offer.id if n.offer else None)
                n = n.receive(
                    NegotiationEvent.AGREE, at=now, agreement=agreement, counterpart_pid=other
                )
                n = self._send(tx, n, NegotiationEvent.VERIFY)
                self._save(tx, n)
            return n

        return self._settled(pid, NegotiationEvent.AGREE, apply)

    # operator actions (management API) ---------------------------------------------------------

    def start(
        self, *, counterparty_address: str, counterparty_id: str, offer: Offer
    ) -> Negotiation:
        """Start a negotiation as consumer: the request waits in the outbox."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            n = Negotiation.create(
                id=self._ids(),
                role=Role.CONSUMER,
                counterparty_id=counterparty_id,
                counterparty_address=counterparty_address,
                dataset_id=offer.target,
                at=now,
                offer=offer,
            )
            n = self._send(tx, n, NegotiationEvent.REQUEST, offer=offer)
            self._save(tx, n)
        return n

    def act(
        self, pid: str, action: str, *, offer: Offer | None = None, reason: str | None = None
    ) -> Negotiation:
        """An operator action: ``offer``, ``agree``, ``accept``, ``request``, ``terminate``.

        ``Conflict`` when the action is not allowed in the current state or role."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            n = tx.negotiation(pid)
            if n is None:
                raise NotFound(f"negotiation {pid} not found", reason="unknown_process")
            n = self._action(tx, n, action, offer=offer, reason=reason, now=now)
            self._save(tx, n)
        return n

    def _action(
        self,
        tx: StoreTx,
        n: Negotiation,
        action: str,
        *,
        offer: Offer | None,
        reason: str | None,
        now: Any,
    ) -> Negotiation:
        roles = {
            "offer": Role.PROVIDER,
            "agree": Role.PROVIDER,
            "accept": Role.CONSUMER,
            "request": Role.CONSUMER,
        }
        if action in roles and n.role is not roles[action]:
            raise Conflict(
                f"{action} is for the {roles[action].value.lower()}", reason="wrong_role"
            )
        if action == "terminate":
            if n.state is None:
                return replace(n.abort(at=now), termination=own_termination(n.role, reason))
            return self._send(tx, n, NegotiationEvent.TERMINATE, reason=reason)
        if action == "agree":
            if n.check is not None and not n.check.permitted:
                raise Conflict(
                    f"the contract policy does not permit {n.counterparty_id}: "
                    f"{n.check.explanation}",
                    reason="policy_denied",
                )
            return self._send(tx, n, NegotiationEvent.AGREE, agreement=self._agreement(n))
        if action == "accept":
            return self._send(tx, n, NegotiationEvent.ACCEPT)
        if offer is None:
            raise Invalid("an offer is required", reason="missing_field", field="offer")
        if offer.target != n.dataset_id:
            raise Invalid("the offer is for another dataset", reason="invalid_offer")
        event = NegotiationEvent.OFFER if action == "offer" else NegotiationEvent.REQUEST
        if action == "offer":
            # the policy version stays only if the operator offers exactly its rules
            same = n.offer is not None and _stated(catalog_offer(n.offer).rules()) == _stated(
                catalog_offer(offer).rules()
            )
            offer = Offer(
                offer.id,
                offer.target,
                offer.policy,
                n.offer.policy_id if same and n.offer else None,
                n.offer.policy_hash if same and n.offer else None,
            )
            n = replace(n, check=None)  # the operator's own offer: the operator decides
        return self._send(tx, n, event, offer=offer)

    # runner ------------------------------------------------------------------------------------

    def acknowledged(
        self, message_id: int, event: str, pid: str, body: Mapping[str, Any] | None
    ) -> None:
        """The counterpart answered 2xx to an outbox message."""
        now = self._clock.now()
        counterpart: str | None = None
        with self._store.transaction() as tx:
            n = tx.negotiation(pid)  # the process first: every transaction locks in this order
            if n is None or not tx.outbox_done(message_id):
                return
            if isinstance(body, Mapping) and n.counterpart_pid is None:
                key = "providerPid" if n.role is Role.CONSUMER else "consumerPid"
                value = body.get(key)
                counterpart = value if isinstance(value, str) and value else None
            n = n.acknowledge(NegotiationEvent(event), at=now, counterpart_pid=counterpart)
            self._save(tx, n)

    def refused(self, message_id: int, pid: str, why: Undelivered) -> None:
        """The message cannot be delivered (refused or out of retries): give it up."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            n = tx.negotiation(pid)  # the process first: every transaction locks in this order
            if n is None or not tx.outbox_done(message_id):
                return
            n = n.abort(at=now, why=why) if n.state is None else n.drop_pending(why)
            self._save(tx, n)
