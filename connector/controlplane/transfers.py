"""Transfer process use cases, in both roles.

Like :mod:`connector.controlplane.negotiations`: one transaction per step, state changes on
acknowledgement only. The data plane is reached through the ``DataAddressIssuer`` port, always
*outside* a store transaction (it may do its own I/O): the provider first records the request,
then asks the issuer for the data address, then queues the start message.

The agreement is checked when a transfer is requested (it exists, it was made between these
two parties, the dataset offers the format) and its policy is evaluated again for the
requester at request time and when a suspended transfer is resumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from connector.clock import Clock
from connector.controlplane.decisions import contract_decision, note_transfer_check
from connector.controlplane.negotiations import FactsSource, PolicyLookup, new_pid
from connector.controlplane.outbound import (
    own_termination,
    received_termination,
    transfer_message,
)
from connector.controlplane.ports import (
    Caller,
    ControlPlaneStore,
    DataAddressIssuer,
    Facts,
    StoreTx,
)
from connector.controlplane.settling import SETTLE_POLLS, Sleep, Unsettled, settled
from connector.dsp import transfer as wt
from connector.dsp.conversion import data_address_from_wire
from connector.errors import Conflict, Invalid, NotFound
from connector.model.contract import Agreement
from connector.model.dataset import Dataset, Mode
from connector.model.negotiation import NegotiationEvent
from connector.model.process import Role, Undelivered
from connector.model.transfer import DataAddress, Transfer, TransferEvent, TransferState

R = TypeVar("R")


_STOPS = {
    "suspend": TransferEvent.SUSPEND,
    "complete": TransferEvent.COMPLETE,
    "terminate": TransferEvent.TERMINATE,
}


def _is_fresh_address(t: Transfer, event: TransferEvent) -> bool:
    """Whether a provider's start message to this consumer only brings the new data address
    after our resume (DSP 2025-1 lets either side resume; the address of the suspension was
    revoked, so the provider announces a new one while the transfer is STARTED)."""
    if event is not TransferEvent.START or t.role is not Role.CONSUMER:
        return False
    if t.state is not TransferState.STARTED or t.pending is not None or not t.history:
        return False
    last = t.history[-1]
    return (
        last.event is TransferEvent.START
        and last.sender is Role.CONSUMER
        and last.before is TransferState.SUSPENDED
    )


def _destination_for(format: str, destination: DataAddress | None) -> None:
    """A push transfer (``…-PUSH``) needs the consumer's data destination from the start:
    without one it could only fail when the provider starts it."""
    if format.upper().endswith("-PUSH") and destination is None:
        raise Invalid(
            f"a {format} transfer needs a dataDestination (dataAddress)",
            reason="missing_destination",
        )


class Transfers:
    """The transfer use cases of one participant."""

    def __init__(
        self,
        store: ControlPlaneStore,
        clock: Clock,
        policies: PolicyLookup,
        issuer: DataAddressIssuer | None,
        *,
        own_did: str,
        callback_url: str,
        ids: Callable[[], str] = new_pid,
        settle_polls: int = SETTLE_POLLS,
        sleep: Sleep = time.sleep,
        in_delivery: Callable[[str], bool] | None = None,
    ) -> None:
        """``in_delivery(pid)``: whether our message on that transfer is being delivered right
        now (its outcome is imminent), read without the write lock — what the waits of
        :mod:`connector.controlplane.settling` poll; a message waiting for a later retry is not
        waited for. Default: the transfer read in a store transaction."""
        self._store = store
        self._clock = clock
        self._policies = policies
        self.issuer = issuer
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
        t: Transfer,
        event: TransferEvent,
        *,
        reason: str | None = None,
        data_address: DataAddress | None = None,
    ) -> Transfer:
        moved = t.send(event, data_address=data_address)
        tx.enqueue(transfer_message(moved, event, callback_url=self.callback_url, reason=reason))
        if event is TransferEvent.TERMINATE:
            moved = replace(moved, termination=own_termination(moved.role, reason))
        return moved

    def _settled(
        self, pid: str, event: TransferEvent, apply: Callable[[TransferEvent | None], R]
    ) -> R:
        """Run ``apply`` for the counterpart's ``event``, waiting for the outcome of our pending
        message first if ``event`` depends on it (:func:`connector.controlplane.settling.
        settled`)."""

        def awaiting() -> bool:
            if self._in_delivery is not None:
                return self._in_delivery(pid)
            with self._store.transaction() as tx:
                t = tx.transfer(pid)
            return t is not None and t.awaits_acknowledgement(event)

        return settled(apply, event, awaiting, polls=self._settle_polls, sleep=self._sleep)

    def _owned(
        self, tx: StoreTx, pid: str, caller: Caller, unsettled: TransferEvent | None = None
    ) -> Transfer:
        """The caller's transfer ``pid``; :class:`Unsettled` if ``unsettled`` (the event being
        received) depends on our pending message."""
        t = tx.transfer(pid)
        if t is None or t.counterparty_id != caller.did:
            raise NotFound(f"transfer {pid} not found", reason="unknown_process")
        if unsettled is not None and t.awaits_acknowledgement(unsettled):
            raise Unsettled
        return t

    def _pids(self, t: Transfer, consumer_pid: str, provider_pid: str) -> str:
        own, other = (
            (consumer_pid, provider_pid)
            if t.role is Role.CONSUMER
            else (provider_pid, consumer_pid)
        )
        if own != t.id or (t.counterpart_pid is not None and other != t.counterpart_pid):
            raise Invalid("the message names another process", reason="pid_mismatch")
        return other

    def _check_agreement(
        self, tx: StoreTx, agreement_id: str, consumer: str
    ) -> tuple[Agreement, Dataset]:
        """The agreement exists, binds these parties, and its dataset is still offered."""
        agreement = tx.agreement(agreement_id) or self._implied_finalization(
            tx, agreement_id, consumer
        )
        if (
            agreement is None
            or agreement.assignee != consumer
            or agreement.assigner != self.own_did
        ):
            raise Invalid(f"agreement {agreement_id} is not valid", reason="unknown_agreement")
        dataset = tx.dataset(agreement.target)
        if dataset is None:
            raise Invalid("the agreement's dataset is no longer offered", reason="unknown_dataset")
        return agreement, dataset

    def _implied_finalization(
        self, tx: StoreTx, agreement_id: str, consumer: str
    ) -> Agreement | None:
        """A transfer request for an agreement whose FINALIZED event we sent but whose
        acknowledgement is not recorded yet: the consumer only asks once it received that
        event, so the request acknowledges it (the negotiation becomes FINALIZED now, the
        late acknowledgement then changes nothing)."""
        n = tx.negotiation_finalizing(consumer, agreement_id)
        if n is None or n.pending is not NegotiationEvent.FINALIZE or n.agreement is None:
            return None
        agreement = n.agreement
        n = n.acknowledge(NegotiationEvent.FINALIZE, at=self._clock.now())
        tx.save_negotiation(n)  # drops the delivered event from the outbox
        tx.save_agreement(agreement, negotiation_id=n.id)
        return agreement

    def _recheck_policy(self, agreement_id: str, consumer: str, facts: FactsSource) -> None:
        """Evaluate the agreement's policy for the consumer again — *before* any transaction,
        since ``facts`` may do I/O (the caller's DID alone first, the full facts if needed)."""
        with self._store.transaction() as tx:
            agreement = tx.agreement(agreement_id)
            if agreement is None:  # maybe finalized by this very request (see below)
                n = tx.negotiation_finalizing(consumer, agreement_id)
                if n is not None and n.pending is NegotiationEvent.FINALIZE:
                    agreement = n.agreement
        if agreement is None or agreement.assignee != consumer or not agreement.policy_hash:
            return  # the transaction refuses it with the precise reason
        version = self._policies.policy_by_hash(agreement.policy_hash)
        if version is None:
            return
        now = self._clock.now()
        decision = contract_decision(version, Facts(consumer, trusted=False), agreement.target, now)
        if not decision.permitted:
            decision = contract_decision(version, facts(), agreement.target, now)
        note_transfer_check(self._store, decision, agreement)
        if not decision.permitted:
            raise Invalid(
                f"the agreement does not permit this transfer: {decision.explanation}",
                reason="agreement_not_valid",
            )

    def _issue(self, t: Transfer) -> DataAddress | None:
        """Ask the data plane for the address (outside any transaction)."""
        if self.issuer is None:
            raise Conflict("no data plane is configured", reason="no_data_plane")
        with self._store.transaction() as tx:
            agreement = tx.agreement(t.agreement_id)
            dataset = tx.dataset(agreement.target) if agreement is not None else None
        if agreement is None or dataset is None:
            raise Conflict("the agreement or dataset is gone", reason="unknown_agreement")
        return self.issuer.issue(t, agreement, dataset)

    def _revoke(self, t: Transfer) -> None:
        if self.issuer is not None and t.role is Role.PROVIDER:
            self.issuer.revoke(t.id)

    def _send_address(self, pid: str, address: DataAddress) -> Transfer:
        """After a consumer's resume of a pull transfer: a ``TransferStartMessage`` with the new
        address. The transfer is STARTED already, so this is no state change (nothing pending;
        the acknowledgement changes nothing)."""
        with self._store.transaction() as tx:
            t = tx.transfer(pid)
            if t is None:
                raise NotFound(f"transfer {pid} not found", reason="unknown_process")
            if t.state is not TransferState.STARTED or t.pending is not None:
                return t  # suspended or stopped again meanwhile: nothing to announce
            t = replace(t, data_address=address)
            # saved first: saving a process with nothing pending drops its queued messages
            tx.save_transfer(t)
            tx.enqueue(transfer_message(t, TransferEvent.START, callback_url=self.callback_url))
        return t

    def _start(self, pid: str, address: DataAddress | None, *, auto: bool) -> Transfer:
        with self._store.transaction() as tx:
            t = tx.transfer(pid)
            if t is None:
                raise NotFound(f"transfer {pid} not found", reason="unknown_process")
            if auto and (t.state is not TransferState.REQUESTED or t.pending is not None):
                return t
            if t.role is Role.PROVIDER and t.format.endswith("PULL"):
                t = self._send(tx, t, TransferEvent.START, data_address=address)
            else:
                t = self._send(tx, t, TransferEvent.START)
            tx.save_transfer(t)
        return t

    # provider: DSP messages --------------------------------------------------------------------

    def requested(
        self, caller: Caller, msg: wt.TransferRequestMessage, facts: FactsSource
    ) -> tuple[Transfer, bool]:
        """A ``TransferRequestMessage`` (idempotent on ``consumerPid``); ``(transfer, created)``."""
        self._recheck_policy(msg.agreement_id, caller.did, facts)
        now = self._clock.now()
        with self._store.transaction() as tx:
            existing = tx.transfer_by_consumer_pid(caller.did, msg.consumer_pid)
            if existing is not None:
                if existing.agreement_id != msg.agreement_id or existing.format != msg.format:
                    raise Invalid("this consumerPid is already in use", reason="replayed_message")
                return existing, False
            agreement, dataset = self._check_agreement(tx, msg.agreement_id, caller.did)
            if msg.format not in dataset.formats:
                raise Invalid(f"format {msg.format} is not offered", reason="unsupported_format")
            destination = (
                None if msg.data_address is None else data_address_from_wire(msg.data_address)
            )
            _destination_for(msg.format, destination)
            t = Transfer.create(
                id=self._ids(),
                role=Role.PROVIDER,
                counterparty_id=caller.did,
                counterparty_address=msg.callback_address,
                agreement_id=agreement.id,
                format=msg.format,
                at=now,
                counterpart_pid=msg.consumer_pid,
                data_address=destination,
            )
            t = t.receive(TransferEvent.REQUEST, at=now)
            tx.save_transfer(t)
        if dataset.transfer is Mode.AUTO and self.issuer is not None:
            address = self._issue(t)
            t = self._start(t.id, address, auto=True)
        return t, True

    def received(
        self,
        caller: Caller,
        pid: str,
        msg: wt.TransferStartMessage
        | wt.TransferSuspensionMessage
        | wt.TransferCompletionMessage
        | wt.TransferTerminationMessage,
        event: TransferEvent,
        facts: FactsSource,
    ) -> Transfer:
        """Start/resume, suspension, completion or termination from the counterpart."""
        if event is TransferEvent.START:
            with self._store.transaction() as tx:
                known = tx.transfer(pid)
            if known is not None and known.role is Role.PROVIDER:
                self._recheck_policy(known.agreement_id, caller.did, facts)

        def apply(unsettled: TransferEvent | None) -> tuple[Transfer, bool]:
            now = self._clock.now()
            with self._store.transaction() as tx:
                t = self._owned(tx, pid, caller, unsettled)
                other = self._pids(t, msg.consumer_pid, msg.provider_pid)
                address = None
                if isinstance(msg, wt.TransferStartMessage) and msg.data_address is not None:
                    address = data_address_from_wire(msg.data_address)
                if event is TransferEvent.START and t.role is Role.PROVIDER:
                    self._check_agreement(tx, t.agreement_id, caller.did)
                if address is not None and _is_fresh_address(t, event):
                    # the provider's new address after our resume: no state change
                    t = replace(t, data_address=address)
                    tx.save_transfer(t)
                    return t, False
                t = t.receive(event, at=now, data_address=address, counterpart_pid=other)
                if isinstance(msg, wt.TransferTerminationMessage):
                    t = replace(t, termination=received_termination(t.role, msg.code, msg.reason))
                tx.save_transfer(t)
            return t, True

        t, moved = self._settled(pid, event, apply)
        if not moved:
            return t
        if t.role is Role.PROVIDER:
            if event is TransferEvent.START:
                # A consumer's resume: the data plane issues a new address (the one of the
                # suspension stays revoked) and, for a pull, the start message carries it.
                address = self._issue(t)
                if t.format.endswith("PULL") and address is not None:
                    t = self._send_address(t.id, address)
            else:
                self._revoke(t)
        return t

    # operator actions --------------------------------------------------------------------------

    def request(
        self,
        *,
        counterparty_address: str,
        counterparty_id: str,
        agreement_id: str,
        format: str,
        destination: DataAddress | None,
    ) -> Transfer:
        """Request a transfer as consumer under an agreement we hold."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            agreement = tx.agreement(agreement_id)
            if agreement is None or agreement.assignee != self.own_did:
                raise Invalid(f"agreement {agreement_id} is not known", reason="unknown_agreement")
            if agreement.assigner != counterparty_id:
                raise Invalid(
                    f"agreement {agreement_id} was made with {agreement.assigner},"
                    f" not with {counterparty_id}",
                    reason="wrong_counterparty",
                )
            _destination_for(format, destination)
            t = Transfer.create(
                id=self._ids(),
                role=Role.CONSUMER,
                counterparty_id=counterparty_id,
                counterparty_address=counterparty_address,
                agreement_id=agreement_id,
                format=format,
                at=now,
                data_address=destination,
            )
            t = self._send(tx, t, TransferEvent.REQUEST)
            tx.save_transfer(t)
        return t

    def act(
        self,
        pid: str,
        action: str,
        *,
        reason: str | None = None,
        facts: Callable[[str], Facts] | None = None,
    ) -> Transfer:
        """``start``, ``suspend``, ``complete`` or ``terminate``; ``Conflict`` when illegal.

        A provider's ``start`` (first start or resume) evaluates the agreement's policy for the
        consumer again, as a consumer's resume does; ``facts(did)`` gives the consumer's facts
        (without it only the consumer's DID is known to the decision)."""
        with self._store.transaction() as tx:
            t = tx.transfer(pid)
        if t is None:
            raise NotFound(f"transfer {pid} not found", reason="unknown_process")
        if action == "start":
            if not t.can_send(TransferEvent.START):
                t.send(TransferEvent.START)  # raises the precise Conflict
            if t.role is Role.PROVIDER:
                consumer = t.counterparty_id
                self._recheck_policy(
                    t.agreement_id,
                    consumer,
                    (lambda: facts(consumer))
                    if facts is not None
                    else (lambda: Facts(consumer, trusted=False)),
                )
                with self._store.transaction() as tx:
                    self._check_agreement(tx, t.agreement_id, consumer)
            address = self._issue(t) if t.role is Role.PROVIDER else None
            return self._start(pid, address, auto=False)
        event = _STOPS.get(action)
        if event is None:
            raise NotFound(f"unknown action {action}", reason="unknown_action")
        now = self._clock.now()
        with self._store.transaction() as tx:
            t = tx.transfer(pid)
            if t is None:
                raise NotFound(f"transfer {pid} not found", reason="unknown_process")
            if event is TransferEvent.TERMINATE and t.state is None:
                t = replace(t.abort(at=now), termination=own_termination(t.role, reason))
            else:
                t = self._send(tx, t, event, reason=reason)
            tx.save_transfer(t)
        self._revoke(t)
        return t

    # runner ------------------------------------------------------------------------------------

    def acknowledged(
        self, message_id: int, event: str, pid: str, body: Mapping[str, Any] | None
    ) -> None:
        """The counterpart answered 2xx to an outbox message."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            t = tx.transfer(pid)  # the process first: every transaction locks in this order
            if t is None or not tx.outbox_done(message_id):
                return
            counterpart: str | None = None
            if isinstance(body, Mapping) and t.counterpart_pid is None:
                value = body.get("providerPid" if t.role is Role.CONSUMER else "consumerPid")
                counterpart = value if isinstance(value, str) and value else None
            t = t.acknowledge(TransferEvent(event), at=now, counterpart_pid=counterpart)
            tx.save_transfer(t)

    def refused(self, message_id: int, pid: str, why: Undelivered) -> None:
        """The message cannot be delivered: give it up (a never-acknowledged request ends)."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            t = tx.transfer(pid)  # the process first: every transaction locks in this order
            if t is None or not tx.outbox_done(message_id):
                return
            t = t.abort(at=now, why=why) if t.state is None else t.drop_pending(why)
            tx.save_transfer(t)
