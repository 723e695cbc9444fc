"""Transfer process: the DSP 2025-1 states, the transition table, the entity.

The table is the state machine of the Transfer Process Protocol (DSP 2025-1,
``transfer/figures/transfer-process-state-machine``); ``C``/``P`` = sent by consumer/provider::

    (new)     --TransferRequestMessage C-->        REQUESTED
    REQUESTED --TransferStartMessage P-->          STARTED
    STARTED   --TransferCompletionMessage C or P--> COMPLETED
    STARTED   --TransferSuspensionMessage C or P--> SUSPENDED
    SUSPENDED --TransferStartMessage C or P-->     STARTED      (resume)
    REQUESTED, STARTED, SUSPENDED --TransferTerminationMessage C or P--> TERMINATED

COMPLETED and TERMINATED are terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from connector.errors import Conflict
from connector.model import process
from connector.model.process import (
    Progress,
    Role,
    Step,
    Termination,
    TransitionTable,
    Undelivered,
)


class TransferState(StrEnum):
    """The states of a transfer process, spelled as on the wire."""

    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class TransferEvent(StrEnum):
    """The messages that move a transfer process."""

    REQUEST = "TransferRequestMessage"
    START = "TransferStartMessage"
    SUSPEND = "TransferSuspensionMessage"
    COMPLETE = "TransferCompletionMessage"
    TERMINATE = "TransferTerminationMessage"


_S = TransferState
_E = TransferEvent
_C = Role.CONSUMER
_P = Role.PROVIDER

_MOVES: dict[tuple[TransferState | None, TransferEvent, Role], TransferState] = {
    (None, _E.REQUEST, _C): _S.REQUESTED,
    (_S.REQUESTED, _E.START, _P): _S.STARTED,
}
for _role in Role:
    _MOVES[(_S.STARTED, _E.COMPLETE, _role)] = _S.COMPLETED
    _MOVES[(_S.STARTED, _E.SUSPEND, _role)] = _S.SUSPENDED
    _MOVES[(_S.SUSPENDED, _E.START, _role)] = _S.STARTED
    for _state in (_S.REQUESTED, _S.STARTED, _S.SUSPENDED):
        _MOVES[(_state, _E.TERMINATE, _role)] = _S.TERMINATED

TRANSFER_TRANSITIONS: TransitionTable[TransferState, TransferEvent] = TransitionTable(
    "transfer process", _MOVES, terminal=(_S.COMPLETED, _S.TERMINATED)
)
"""The legal moves of a transfer process, keyed by ``(state | None, event, sender)``."""


@dataclass(frozen=True, slots=True)
class DataAddress:
    """Where and how the data can be reached (pull: provider endpoint; push: consumer sink).

    ``properties`` are the DSP ``endpointProperties`` (e.g. ``authorization``, ``authType``).
    """

    endpoint_type: str
    endpoint: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", dict(self.properties))


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer process as seen by this participant (immutable; moves return copies).

    ``id`` is this side's process id; ``state`` the protocol state (``None`` before the
    provider acknowledged the request); ``pending`` the message this side sent that waits for
    its acknowledgement. ``data_address`` is the pull endpoint (from the provider's start
    message) or the push destination (from the consumer's request).
    """

    id: str
    role: Role
    counterparty_id: str
    counterparty_address: str
    agreement_id: str
    format: str
    created_at: dt.datetime
    consumer_pid: str | None = None
    provider_pid: str | None = None
    state: TransferState | None = None
    pending: TransferEvent | None = None
    data_address: DataAddress | None = None
    history: tuple[Step[TransferState, TransferEvent], ...] = ()
    termination: Termination | None = None
    """Why it was terminated (this side's or the counterpart's termination), once known."""
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
        agreement_id: str,
        format: str,
        at: dt.datetime,
        counterpart_pid: str | None = None,
        data_address: DataAddress | None = None,
    ) -> Transfer:
        """A new transfer without protocol state; follow with :meth:`send` or :meth:`receive`."""
        return cls(
            id=id,
            role=role,
            counterparty_id=counterparty_id,
            counterparty_address=counterparty_address,
            agreement_id=agreement_id,
            format=format,
            created_at=at,
            consumer_pid=id if role is Role.CONSUMER else counterpart_pid,
            provider_pid=id if role is Role.PROVIDER else counterpart_pid,
            data_address=data_address,
        )

    @property
    def counterpart_pid(self) -> str | None:
        """The counterpart's process id, once known."""
        return self.provider_pid if self.role is Role.CONSUMER else self.consumer_pid

    @property
    def is_terminal(self) -> bool:
        """Whether the transfer is COMPLETED or TERMINATED."""
        return self.state in TRANSFER_TRANSITIONS.terminal

    def can_send(self, event: TransferEvent) -> bool:
        """Whether :meth:`send` would accept ``event`` now."""
        try:
            self.send(event)
        except Conflict:
            return False
        return True

    def awaits_acknowledgement(self, event: TransferEvent) -> bool:
        """Whether ``event`` from the counterpart is legal only once our pending message has
        taken effect (see :func:`connector.model.process.awaits_acknowledgement`)."""
        return process.awaits_acknowledgement(
            TRANSFER_TRANSITIONS, self._progress, event, role=self.role
        )

    def send(self, event: TransferEvent, *, data_address: DataAddress | None = None) -> Transfer:
        """This side sends ``event``: it becomes pending; the state waits for the ack."""
        moved = process.send(
            TRANSFER_TRANSITIONS,
            self._progress,
            event,
            role=self.role,
            terminate=TransferEvent.TERMINATE,
        )
        return self._with(moved, data_address=data_address)

    def acknowledge(
        self, event: TransferEvent, *, at: dt.datetime, counterpart_pid: str | None = None
    ) -> Transfer:
        """The counterpart acknowledged ``event`` (2xx); a stale ack changes nothing."""
        moved = process.acknowledge(
            TRANSFER_TRANSITIONS, self._progress, event, role=self.role, at=at
        )
        return self._with(moved, counterpart_pid=counterpart_pid)

    def receive(
        self,
        event: TransferEvent,
        *,
        at: dt.datetime,
        data_address: DataAddress | None = None,
        counterpart_pid: str | None = None,
    ) -> Transfer:
        """The counterpart sent ``event``; returns the moved transfer or raises Conflict."""
        moved = process.receive(TRANSFER_TRANSITIONS, self._progress, event, role=self.role, at=at)
        return self._with(moved, data_address=data_address, counterpart_pid=counterpart_pid)

    def drop_pending(self, why: Undelivered | None = None) -> Transfer:
        """Give up delivering the pending message (state unchanged); ``why`` is kept."""
        return replace(self, pending=None, undelivered=why or self.undelivered)

    def abort(self, *, at: dt.datetime, why: Undelivered | None = None) -> Transfer:
        """Terminate a transfer the provider has never acknowledged (no message is sent)."""
        if self.state is not None:
            raise Conflict(
                "the counterpart knows this transfer; send a termination instead",
                reason="illegal_transition",
                state=self.state.value,
            )
        step = Step(at, TransferEvent.TERMINATE, self.role, None, TransferState.TERMINATED)
        return replace(
            self,
            state=TransferState.TERMINATED,
            pending=None,
            history=(*self.history, step),
            termination=self.termination if why is None else why.termination(self.role),
            undelivered=why or self.undelivered,
        )

    @property
    def _progress(self) -> Progress[TransferState, TransferEvent]:
        return Progress(self.state, self.pending, self.history)

    def _with(
        self,
        moved: Progress[TransferState, TransferEvent],
        *,
        data_address: DataAddress | None = None,
        counterpart_pid: str | None = None,
    ) -> Transfer:
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
            data_address=data_address if data_address is not None else self.data_address,
        )
