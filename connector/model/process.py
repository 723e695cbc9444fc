"""What negotiations and transfers share: roles, transition tables, history, pending messages.

A DSP process (a contract negotiation or a transfer process) moves between protocol states
when a *message* is acknowledged by the party that receives it. Which message may move which
state is data: a :class:`TransitionTable` maps ``(state, event, sender role)`` to the next
state. ``None`` stands for "no protocol state yet" (the process exists on one side only,
before the first message has been acknowledged).

The rules of :func:`advance` (used by both entities):

- **send** — this side wants to send ``event``: legal only if the table allows it from the
  current state with this side's role as sender; the message becomes *pending* and the
  protocol state does **not** change until the counterpart acknowledges it.
  Only one message may be pending, except that a termination supersedes any other.
- **acknowledge** — the counterpart answered 2xx: the pending message takes effect. An
  acknowledgement of a message that is no longer pending (dropped, superseded) changes nothing.
- **receive** — the counterpart sent ``event``: legal only if the table allows it with the
  counterpart's role as sender. A message that is only legal from the state our pending
  message leads to proves that the counterpart received ours (it can only have been sent
  after that), so the pending message is taken as acknowledged first; so does any message on
  a process that has no state yet (the counterpart can only know it from our first message).
  After the move, a pending message that is no longer legal from the new state is dropped.
- a terminal state refuses everything.

Every refusal is a :class:`connector.errors.Conflict` and leaves the entity unchanged
(entities are immutable; each move returns a new value).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from connector.errors import Conflict


class Role(StrEnum):
    """The part a participant plays in one process."""

    CONSUMER = "CONSUMER"
    PROVIDER = "PROVIDER"

    @property
    def other(self) -> Role:
        """The counterpart's role."""
        return Role.PROVIDER if self is Role.CONSUMER else Role.CONSUMER


S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Termination:
    """Why a process was terminated: who sent the termination, its ``code`` and ``reason``s
    (as sent or received: strings, or language-tagged ``{"@value", "@language"}`` objects)."""

    sender: Role
    code: str | None = None
    reasons: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A message of ours that was given up, and why: the counterpart refused it (``status``
    4xx, with the ``code`` and reason of its DSP error body), it was refused here before it
    left (``status`` ``None``, e.g. an address the SSRF guard blocks), or every attempt
    failed."""

    message: str
    at: dt.datetime
    reason: str
    status: int | None = None
    code: str | None = None

    def termination(self, sender: Role) -> Termination:
        """The termination of a process that ends because this message was given up."""
        return Termination(sender, self.code or "undelivered", (self.explanation(),))

    def explanation(self) -> str:
        """One line for an operator: which message, what happened, why."""
        answer = f"HTTP {self.status}" if self.status is not None else "not sent"
        code = f", {self.code}" if self.code else ""
        return f"{self.message} given up ({answer}{code}): {self.reason}"


@dataclass(frozen=True, slots=True)
class Step(Generic[S, E]):
    """One protocol state change, as shown in a process's history."""

    at: dt.datetime
    event: E
    sender: Role
    before: S | None
    after: S


class TransitionTable(Generic[S, E]):
    """The legal moves of one state machine: ``(state | None, event, sender) → next state``."""

    def __init__(
        self,
        name: str,
        moves: Mapping[tuple[S | None, E, Role], S],
        *,
        terminal: Iterable[S],
    ) -> None:
        self.name = name
        self.moves: Mapping[tuple[S | None, E, Role], S] = dict(moves)
        self.terminal: frozenset[S] = frozenset(terminal)

    def target(self, state: S | None, event: E, sender: Role) -> S:
        """The state that ``event`` sent by ``sender`` leads to, or :class:`Conflict`."""
        if state is not None and state in self.terminal:
            raise Conflict(
                f"{self.name} is {state.value}, a terminal state; {event.value} is not allowed",
                reason="terminal_state",
                state=state.value,
                event=event.value,
            )
        nxt = self.moves.get((state, event, sender))
        if nxt is None:
            shown = state.value if state is not None else "(new)"
            raise Conflict(
                f"{event.value} from the {sender.value.lower()} is not allowed "
                f"when the {self.name} is {shown}",
                reason="illegal_transition",
                state=None if state is None else state.value,
                event=event.value,
                sender=sender.value,
            )
        return nxt

    def allows(self, state: S | None, event: E, sender: Role) -> bool:
        """Whether ``event`` sent by ``sender`` is legal from ``state``."""
        return (state, event, sender) in self.moves

    def events_for(self, state: S | None, sender: Role) -> frozenset[E]:
        """The events ``sender`` may send from ``state``."""
        return frozenset(ev for (st, ev, who) in self.moves if st == state and who is sender)


@dataclass(frozen=True, slots=True)
class Progress(Generic[S, E]):
    """The part of a process that :func:`advance` changes."""

    state: S | None
    pending: E | None
    history: tuple[Step[S, E], ...]


def send(
    table: TransitionTable[S, E],
    progress: Progress[S, E],
    event: E,
    *,
    role: Role,
    terminate: E,
) -> Progress[S, E]:
    """Mark ``event`` (sent by ``role``, this side) as pending; the state stays as it is."""
    if progress.pending is not None:
        if progress.pending == terminate:
            if event == terminate:
                return progress
            raise Conflict(
                f"the {table.name} is being terminated", reason="terminating", event=event.value
            )
        if event != terminate:
            raise Conflict(
                f"{progress.pending.value} is still waiting for acknowledgement",
                reason="message_pending",
                pending=progress.pending.value,
                event=event.value,
            )
    table.target(progress.state, event, role)
    return Progress(progress.state, event, progress.history)


def acknowledge(
    table: TransitionTable[S, E],
    progress: Progress[S, E],
    event: E,
    *,
    role: Role,
    at: dt.datetime,
) -> Progress[S, E]:
    """The counterpart acknowledged ``event``: it takes effect if it is still the pending one."""
    if progress.pending != event:
        return progress
    after = table.target(progress.state, event, role)
    step = Step(at, event, role, progress.state, after)
    return Progress(after, None, (*progress.history, step))


def awaits_acknowledgement(
    table: TransitionTable[S, E], progress: Progress[S, E], event: E, *, role: Role
) -> bool:
    """Whether ``event`` from the counterpart (of this side, playing ``role``) is legal only
    once our pending message has taken effect — what :func:`receive` would take as an implied
    acknowledgement of the pending message."""
    sender = role.other
    pending = progress.pending
    if pending is None or table.allows(progress.state, event, sender):
        return False
    if progress.state is not None and progress.state in table.terminal:
        return False
    if not table.allows(progress.state, pending, role):
        return False
    return table.allows(table.target(progress.state, pending, role), event, sender)


def receive(
    table: TransitionTable[S, E],
    progress: Progress[S, E],
    event: E,
    *,
    role: Role,
    at: dt.datetime,
) -> Progress[S, E]:
    """The counterpart (of this side, playing ``role``) sent ``event``; apply it or refuse."""
    sender = role.other
    current = progress
    pending = current.pending
    if pending is not None and (
        (current.state is None and table.allows(None, pending, role))
        or awaits_acknowledgement(table, current, event, role=role)
    ):
        # Our first message is the only way the counterpart can know this process: whatever it
        # sends on it proves that message arrived (e.g. the provider's offer overtaking its own
        # 201 to our request — else the offer would be taken as a provider's *initial* offer and
        # the late acknowledgement would move the negotiation back to REQUESTED).
        current = acknowledge(table, current, pending, role=role, at=at)
    after = table.target(current.state, event, sender)
    pending = current.pending
    if pending is not None and not table.allows(after, pending, role):
        pending = None
    step = Step(at, event, sender, current.state, after)
    return Progress(after, pending, (*current.history, step))


def with_counterpart_pid(
    role: Role, consumer_pid: str | None, provider_pid: str | None, counterpart_pid: str | None
) -> tuple[str | None, str | None]:
    """``(consumer_pid, provider_pid)`` with the counterpart pid learnt; Conflict if it differs."""
    known = provider_pid if role is Role.CONSUMER else consumer_pid
    if counterpart_pid is None or known == counterpart_pid:
        return consumer_pid, provider_pid
    if known is not None:
        raise Conflict(
            "the counterpart's process id does not match",
            reason="pid_mismatch",
            expected=known,
            got=counterpart_pid,
        )
    if role is Role.CONSUMER:
        return consumer_pid, counterpart_pid
    return counterpart_pid, provider_pid
