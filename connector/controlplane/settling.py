"""Waiting for the outcome of our pending message before a counterpart's message needs it.

A counterpart's message can be legal only once our pending message has taken effect (the
consumer's ``FINALIZED`` needs our verification, a completion needs our start). Two things look
alike on arrival: the counterpart took our message and answered before its acknowledgement
reached us — the message is legal — or it refused ours (4xx) and is out of order — the message
is illegal (400; the TCK's negative cases). So the use case first waits, briefly and bounded,
until the pending message has an outcome (acknowledged or given up); past the bound the entity
takes the message as the implied acknowledgement (our message may be waiting for a retry after
an answer that got lost). Nothing waits when the message does not depend on a pending one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

SETTLE_POLLS = 200
SETTLE_INTERVAL = 0.005
FIRST_INTERVAL = 0.0002
"""Naps start at ``FIRST_INTERVAL`` and double up to ``SETTLE_INTERVAL``: an acknowledgement
that is merely on its way (the usual case between two fast connectors) costs well under a
millisecond more; at most ``SETTLE_POLLS`` naps, about 1 s, in all."""

Sleep = Callable[[float], None]
E = TypeVar("E")
R = TypeVar("R")


class Unsettled(Exception):
    """Raised inside a use case's transaction (which is rolled back): the counterpart's message
    depends on our pending message, whose outcome is not known yet."""


MAX_WAITING = 4
"""Most messages waiting at once (per process): a counterpart that keeps our message retrying
and sends dependent messages cannot occupy more DSP workers than this; beyond it a message is
judged at once, as after a wait that ran out."""
_WAITING = threading.BoundedSemaphore(MAX_WAITING)


def settle(
    awaiting: Callable[[], bool], *, polls: int = SETTLE_POLLS, sleep: Sleep = time.sleep
) -> None:
    """Return once ``awaiting()`` is false (read afresh each time), after at most ``polls``
    naps (see ``FIRST_INTERVAL``); at once when :data:`MAX_WAITING` others wait already."""
    if not _WAITING.acquire(blocking=False):
        return
    try:
        nap = FIRST_INTERVAL
        for _ in range(polls):
            if not awaiting():
                return
            sleep(nap)
            nap = min(SETTLE_INTERVAL, nap * 2)
    finally:
        _WAITING.release()


def settled(
    apply: Callable[[E | None], R],
    event: E,
    awaiting: Callable[[], bool],
    *,
    polls: int = SETTLE_POLLS,
    sleep: Sleep = time.sleep,
) -> R:
    """Run ``apply(event)`` (a use case's transaction for the counterpart's ``event``); if it
    raises :class:`Unsettled`, wait (:func:`settle` on ``awaiting``) for our pending message's
    outcome, then run ``apply(None)``: the entity's rules on the state found. The usual case
    costs nothing extra."""
    try:
        return apply(event)
    except Unsettled:
        pass
    settle(awaiting, polls=polls, sleep=sleep)
    return apply(None)
