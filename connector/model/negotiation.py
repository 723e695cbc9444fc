"""Contract negotiation: the DSP 2025-1 states, the transition table, the entity.

The table follows the state machine of the Contract Negotiation Protocol (DSP 2025-1,
``negotiation/figures/contract.negotiation.state.machine``): ``C`` marks a message sent by the
consumer, ``P`` one sent by the provider::

    (new)     --ContractRequestMessage C-->           REQUESTED
    (new)     --ContractOfferMessage P-->             OFFERED
    REQUESTED --ContractOfferMessage P-->             OFFERED
    REQUESTED --ContractAgreementMessage P-->         AGREED
    OFFERED   --ContractRequestMessage C-->           REQUESTED
    OFFERED   --event ACCEPTED C-->                   ACCEPTED
    ACCEPTED  --ContractAgreementMessage P-->         AGREED
    AGREED    --ContractAgreementVerificationMessage C--> VERIFIED
    VERIFIED  --event FINALIZED P-->                  FINALIZED
    any non-terminal state --termination C or P-->    TERMINATED

Termination: the figure draws only some of the termination arrows (e.g. none from ACCEPTED for
the consumer), but the normative text says the termination message "MAY be sent at any state
of a Contract Negotiation" by consumer or provider; this table follows the text.
FINALIZED and TERMINATED are terminal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from connector.errors import Conflict
from connector.model import process
from connector.model.contract import Agreement, Offer
from connector.model.process import (
    Progress,
    Role,
    Step,
    Termination,
    TransitionTable,
    Undelivered,
)


class NegotiationState(StrEnum):
    """The states of a contract negotiation, spelled as on the wire."""

    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class NegotiationEvent(StrEnum):
    """The messages that move a negotiation (the event message counts once per event type)."""

    REQUEST = "ContractRequestMessage"
    OFFER = "ContractOfferMessage"
    ACCEPT = "ContractNegotiationEventMessage:ACCEPTED"
    AGREE = "ContractAgreementMessage"
    VERIFY = "ContractAgreementVerificationMessage"
    FINALIZE = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATE = "ContractNegotiationTerminationMessage"


_S = NegotiationState
_E = NegotiationEvent
_C = Role.CONSUMER
_P = Role.PROVIDER

_MOVES: dict[tuple[NegotiationState | None, NegotiationEvent, Role], NegotiationState] = {
    (None, _E.REQUEST, _C): _S.REQUESTED,
    (None, _E.OFFER, _P): _S.OFFERED,
    (_S.REQUESTED, _E.OFFER, _P): _S.OFFERED,
    (_S.REQUESTED, _E.AGREE, _P): _S.AGREED,
    (_S.OFFERED, _E.REQUEST, _C): _S.REQUESTED,
    (_S.OFFERED, _E.ACCEPT, _C): _S.ACCEPTED,
    (_S.ACCEPTED, _E.AGREE, _P): _S.AGREED,
    (_S.AGREED, _E.VERIFY, _C): _S.VERIFIED,
    (_S.VERIFIED, _E.FINALIZE, _P): _S.FINALIZED,
}
for _state in (_S.REQUESTED, _S.OFFERED, _S.ACCEPTED, _S.AGREED, _S.VERIFIED):
    for _role in Role:
        _MOVES[(_state, _E.TERMINATE, _role)] = _S.TERMINATED

NEGOTIATION_TRANSITIONS: TransitionTable[NegotiationState, NegotiationEvent] = TransitionTable(
    "contract negotiation", _MOVES, terminal=(_S.FINALIZED, _S.TERMINATED)
)
"""The legal moves of a contract negotiation, keyed by ``(state | None, event, sender)``."""


@dataclass(frozen=True, slots=True)
class ContractCheck:
    """Whether the contract policy permits the requester, and why (English explanation)."""

    permitted: bool
    explanation: str


@dataclass(frozen=True, slots=True)
class Negotiation:
    """One contract negotiation as seen by this participant (immutable; moves return copies).

    ``id`` is this side's process id (``consumer_pid`` for a consumer, ``provider_pid`` for a
    provider); the counterpart's pid is ``None`` until it is known. ``state`` is the protocol
    state (``None`` before the first message was acknowledged); ``pending`` is the message this
    side has sent whose acknowledgement has not arrived yet.
    """

    id: str
    role: Role
    counterparty_id: str
    counterparty_address: str
    dataset_id: str
    created_at: dt.datetime
    consumer_pid: str | None = None
    provider_pid: str | None = None
    state: NegotiationState | None = None
    pending: NegotiationEvent | None = None
    offer: Offer | None = None
    agreement: Agreement | None = None
    history: tuple[Step[NegotiationState, NegotiationEvent], ...] = ()
    termination: Termination | None = None
    """Why it was terminated (this side's or the counterpart's termination), once known."""
    check: ContractCheck | None = None
    """Provider: the contract policy's verdict on the requester for the published offer,
    taken when the request arrived (an operator's ``agree`` needs a permit)."""
    undelivered: Undelivered | None = None
    """The last message of ours that was given up (refused by the counterpart or out of
    attempts), and why; kept until another one is given up."""

    @classmethod
    def create(
        cls,
        *,
        id: str,
        role: Role,
        counterparty_id: str,
        counterparty_address: str,
        dataset_id: str,
        at: dt.datetime,
        counterpart_pid: str | None = None,
        offer: Offer | None = None,
    ) -> Negotiation:
        """A new negotiation without protocol state; follow with :meth:`send` or :meth:`receive`."""
        return cls(
            id=id,
            role=role,
            counterparty_id=counterparty_id,
            counterparty_address=counterparty_address,
            dataset_id=dataset_id,
            created_at=at,
            consumer_pid=id if role is Role.CONSUMER else counterpart_pid,
            provider_pid=id if role is Role.PROVIDER else counterpart_pid,
            offer=offer,
        )

    @property
    def counterpart_pid(self) -> str | None:
        """The counterpart's process id, once known."""
        return self.provider_pid if self.role is Role.CONSUMER else self.consumer_pid

    @property
    def is_terminal(self) -> bool:
        """Whether the negotiation is FINALIZED or TERMINATED."""
        return self.state in NEGOTIATION_TRANSITIONS.terminal

    def can_send(self, event: NegotiationEvent) -> bool:
        """Whether :meth:`send` would accept ``event`` now."""
        try:
            self.send(event)
        except Conflict:
            return False
        return True

    def awaits_acknowledgement(self, event: NegotiationEvent) -> bool:
        """Whether ``event`` from the counterpart is legal only once our pending message has
        taken effect (see :func:`connector.model.process.awaits_acknowledgement`)."""
        return process.awaits_acknowledgement(
            NEGOTIATION_TRANSITIONS, self._progress, event, role=self.role
        )

    def send(
        self,
        event: NegotiationEvent,
        *,
        offer: Offer | None = None,
        agreement: Agreement | None = None,
    ) -> Negotiation:
        """This side sends ``event``: it becomes pending; the state waits for the ack."""
        moved = process.send(
            NEGOTIATION_TRANSITIONS,
            self._progress,
            event,
            role=self.role,
            terminate=NegotiationEvent.TERMINATE,
        )
        return self._with(moved, offer=offer, agreement=agreement)

    def acknowledge(
        self,
        event: NegotiationEvent,
        *,
        at: dt.datetime,
        counterpart_pid: str | None = None,
    ) -> Negotiation:
        """The counterpart acknowledged ``event`` (2xx); a stale ack changes nothing."""
        moved = process.acknowledge(
            NEGOTIATION_TRANSITIONS, self._progress, event, role=self.role, at=at
        )
        return self._with(moved, counterpart_pid=counterpart_pid)

    def receive(
        self,
        event: NegotiationEvent,
        *,
        at: dt.datetime,
        offer: Offer | None = None,
        agreement: Agreement | None = None,
        counterpart_pid: str | None = None,
    ) -> Negotiation:
        """The counterpart sent ``event``; returns the moved negotiation or raises Conflict."""
        moved = process.receive(
            NEGOTIATION_TRANSITIONS, self._progress, event, role=self.role, at=at
        )
        return self._with(moved, offer=offer, agreement=agreement, counterpart_pid=counterpart_pid)

    def drop_pending(self, why: Undelivered | None = None) -> Negotiation:
        """Give up delivering the pending message (state unchanged); ``why`` is kept."""
        return replace(self, pending=None, undelivered=why or self.undelivered)

    def abort(self, *, at: dt.datetime, why: Undelivered | None = None) -> Negotiation:
        """Terminate a negotiation the counterpart has never acknowledged (no message is sent)."""
        if self.state is not None:
            raise Conflict(
                "the counterpart knows this negotiation; send a termination instead",
                reason="illegal_transition",
                state=self.state.value,
            )
        step = Step(at, NegotiationEvent.TERMINATE, self.role, None, NegotiationState.TERMINATED)
        return replace(
            self,
            state=NegotiationState.TERMINATED,
            pending=None,
            history=(*self.history, step),
            termination=self.termination if why is None else why.termination(self.role),
            undelivered=why or self.undelivered,
        )

    @property
    def _progress(self) -> Progress[NegotiationState, NegotiationEvent]:
        return Progress(self.state, self.pending, self.history)

    def _with(
        self,
        moved: Progress[NegotiationState, NegotiationEvent],
        *,
        offer: Offer | None = None,
        agreement: Agreement | None = None,
        counterpart_pid: str | None = None,
    ) -> Negotiation:
        consumer_pid, provider_pid = process.with_counterpart_pid(
            self.role, self.consumer_pid, self.provider_pid, counterpart_pid
        )
        return replace(
            self,
            state=moved.state,
            pending=moved.pending,
            history=moved.history,
            consumer_pid=consumer_pid,
            provider_pid=provider_pid,
            offer=offer if offer is not None else self.offer,
            agreement=agreement if agreement is not None else self.agreement,
        )
