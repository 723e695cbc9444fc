"""The transition tables against the DSP 2025-1 state machines, exhaustively.

The expected moves are read from the specification's own figures (the PlantUML sources of
``contract.negotiation.state.machine`` and ``transfer-process-state-machine``, tag 2025-1-err1,
quoted below), plus the normative text for negotiation termination ("MAY be sent at any state
of a Contract Negotiation" by consumer or provider). Every other (state, event, sender) triple
must be refused — by the table, and by the entities when sending and when receiving.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import pytest

from connector.errors import Conflict
from connector.model import (
    NEGOTIATION_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    Negotiation,
    NegotiationEvent,
    NegotiationState,
    Role,
    Transfer,
    TransferEvent,
    TransferState,
)

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

NEGOTIATION_FIGURE = """
[*] --> REQUESTED: C
REQUESTED -->  OFFERED: P
REQUESTED -->  AGREED: P
REQUESTED --> TERMINATED: C/P
[*] --> OFFERED: P
OFFERED -->  REQUESTED: C
OFFERED -->  ACCEPTED: C
OFFERED -->  TERMINATED: C/P
ACCEPTED --> AGREED: P
ACCEPTED -> TERMINATED: P
AGREED --> VERIFIED: C
AGREED --> TERMINATED: C
VERIFIED --> FINALIZED: P
VERIFIED -> TERMINATED: P
"""
TRANSFER_FIGURE = """
[*] --> REQUESTED: C
REQUESTED -->  STARTED: P
REQUESTED -->  TERMINATED: C/P
STARTED -->  COMPLETED: P/C
STARTED -->  SUSPENDED: P/C
STARTED -->  TERMINATED: P/C
SUSPENDED --> STARTED: P/C
SUSPENDED --> TERMINATED: P/C
"""
# The message that puts a process into each state (the figures' state annotations).
NEGOTIATION_MESSAGE = {
    "REQUESTED": NegotiationEvent.REQUEST,
    "OFFERED": NegotiationEvent.OFFER,
    "ACCEPTED": NegotiationEvent.ACCEPT,
    "AGREED": NegotiationEvent.AGREE,
    "VERIFIED": NegotiationEvent.VERIFY,
    "FINALIZED": NegotiationEvent.FINALIZE,
    "TERMINATED": NegotiationEvent.TERMINATE,
}
TRANSFER_MESSAGE = {
    "REQUESTED": TransferEvent.REQUEST,
    "STARTED": TransferEvent.START,
    "SUSPENDED": TransferEvent.SUSPEND,
    "COMPLETED": TransferEvent.COMPLETE,
    "TERMINATED": TransferEvent.TERMINATE,
}
ROLES = {"C": Role.CONSUMER, "P": Role.PROVIDER}


def _read(figure: str, states: type, messages: dict) -> dict:
    moves = {}
    for line in figure.strip().splitlines():
        arrow, _, who = line.partition(":")
        before, _, after = arrow.replace("-->", "->").partition("->")
        before, after = before.strip(), after.strip()
        start = None if before == "[*]" else states(before)
        for letter in who.strip().split("/"):
            moves[(start, messages[after], ROLES[letter])] = states(after)
    return moves


NEGOTIATION_SPEC = _read(NEGOTIATION_FIGURE, NegotiationState, NEGOTIATION_MESSAGE)
# Normative text: termination "MAY be sent at any state" (the figure omits some arrows).
for _state in ("REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED"):
    for _role in Role:
        NEGOTIATION_SPEC[(NegotiationState(_state), NegotiationEvent.TERMINATE, _role)] = (
            NegotiationState.TERMINATED
        )
TRANSFER_SPEC = _read(TRANSFER_FIGURE, TransferState, TRANSFER_MESSAGE)

NEGOTIATION_TRIPLES = list(
    itertools.product([None, *NegotiationState], list(NegotiationEvent), list(Role))
)
TRANSFER_TRIPLES = list(itertools.product([None, *TransferState], list(TransferEvent), list(Role)))


def _id(triple: tuple) -> str:
    state, event, role = triple
    return f"{state or 'new'}-{event.name}-{role.name[0]}"


def test_tables_have_exactly_the_spec_moves() -> None:
    assert dict(NEGOTIATION_TRANSITIONS.moves) == NEGOTIATION_SPEC
    assert dict(TRANSFER_TRANSITIONS.moves) == TRANSFER_SPEC
    assert len(NEGOTIATION_SPEC) == 19
    assert len(TRANSFER_SPEC) == 14


@pytest.mark.parametrize("triple", NEGOTIATION_TRIPLES, ids=_id)
def test_negotiation_table_accepts_exactly_the_legal_moves(triple: tuple) -> None:
    state, event, sender = triple
    if triple in NEGOTIATION_SPEC:
        assert NEGOTIATION_TRANSITIONS.target(state, event, sender) is NEGOTIATION_SPEC[triple]
    else:
        with pytest.raises(Conflict) as caught:
            NEGOTIATION_TRANSITIONS.target(state, event, sender)
        terminal = state in (NegotiationState.FINALIZED, NegotiationState.TERMINATED)
        assert caught.value.reason == ("terminal_state" if terminal else "illegal_transition")


@pytest.mark.parametrize("triple", TRANSFER_TRIPLES, ids=_id)
def test_transfer_table_accepts_exactly_the_legal_moves(triple: tuple) -> None:
    state, event, sender = triple
    if triple in TRANSFER_SPEC:
        assert TRANSFER_TRANSITIONS.target(state, event, sender) is TRANSFER_SPEC[triple]
    else:
        with pytest.raises(Conflict) as caught:
            TRANSFER_TRANSITIONS.target(state, event, sender)
        terminal = state in (TransferState.COMPLETED, TransferState.TERMINATED)
        assert caught.value.reason == ("terminal_state" if terminal else "illegal_transition")


def _negotiation(state: NegotiationState | None, role: Role) -> Negotiation:
    blank = Negotiation.create(
        id="urn:own",
        role=role,
        counterparty_id="did:web:x",
        counterparty_address="http://x",
        dataset_id="urn:ds",
        at=AT,
    )
    return replace(blank, state=state)


def _transfer(state: TransferState | None, role: Role) -> Transfer:
    blank = Transfer.create(
        id="urn:own",
        role=role,
        counterparty_id="did:web:x",
        counterparty_address="http://x",
        agreement_id="urn:agreement",
        format="HttpData-PULL",
        at=AT,
    )
    return replace(blank, state=state)


@pytest.mark.parametrize("triple", NEGOTIATION_TRIPLES, ids=_id)
def test_negotiation_entity_receives_exactly_the_legal_moves(triple: tuple) -> None:
    state, event, sender = triple
    entity = _negotiation(state, sender.other)
    if triple in NEGOTIATION_SPEC:
        moved = entity.receive(event, at=AT)
        assert moved.state is NEGOTIATION_SPEC[triple]
        assert moved.history[-1].sender is sender
    else:
        with pytest.raises(Conflict):
            entity.receive(event, at=AT)
    assert entity.state is state  # the original value never changes


@pytest.mark.parametrize("triple", NEGOTIATION_TRIPLES, ids=_id)
def test_negotiation_entity_sends_exactly_the_legal_moves(triple: tuple) -> None:
    state, event, sender = triple
    entity = _negotiation(state, sender)
    if triple in NEGOTIATION_SPEC:
        pending = entity.send(event)
        assert (pending.state, pending.pending) == (state, event)  # state waits for the ack
        assert pending.acknowledge(event, at=AT).state is NEGOTIATION_SPEC[triple]
    else:
        assert not entity.can_send(event)
        with pytest.raises(Conflict):
            entity.send(event)


@pytest.mark.parametrize("triple", TRANSFER_TRIPLES, ids=_id)
def test_transfer_entity_receives_exactly_the_legal_moves(triple: tuple) -> None:
    state, event, sender = triple
    entity = _transfer(state, sender.other)
    if triple in TRANSFER_SPEC:
        assert entity.receive(event, at=AT).state is TRANSFER_SPEC[triple]
    else:
        with pytest.raises(Conflict):
            entity.receive(event, at=AT)


@pytest.mark.parametrize("triple", TRANSFER_TRIPLES, ids=_id)
def test_transfer_entity_sends_exactly_the_legal_moves(triple: tuple) -> None:
    state, event, sender = triple
    entity = _transfer(state, sender)
    if triple in TRANSFER_SPEC:
        pending = entity.send(event)
        assert (pending.state, pending.pending) == (state, event)
        assert pending.acknowledge(event, at=AT).state is TRANSFER_SPEC[triple]
    else:
        assert not entity.can_send(event)
        with pytest.raises(Conflict):
            entity.send(event)


def test_events_for_lists_what_a_role_may_send() -> None:
    assert NEGOTIATION_TRANSITIONS.events_for(NegotiationState.OFFERED, Role.CONSUMER) == {
        NegotiationEvent.REQUEST,
        NegotiationEvent.ACCEPT,
        NegotiationEvent.TERMINATE,
    }
    assert TRANSFER_TRANSITIONS.events_for(TransferState.REQUESTED, Role.CONSUMER) == {
        TransferEvent.TERMINATE
    }
    assert TRANSFER_TRANSITIONS.events_for(TransferState.COMPLETED, Role.PROVIDER) == frozenset()
