"""The only place that reads the time.

Everything that needs "now" receives a :class:`Clock`; tests pin it with :class:`FixedClock`.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for measuring durations and budgets."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock that stands still until told to move."""

    def __init__(self, at: dt.datetime | str = "2026-01-01T00:00:00Z") -> None:
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        self._now = at
        self._mono = 0.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, at: dt.datetime) -> None:
        self._now = at


def utc_isoformat(at: dt.datetime) -> str:
    """``2026-01-01T00:00:00Z``: second precision, UTC, with ``Z``."""
    return at.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_instant(value: str) -> dt.datetime:
    """Parse an XSD dateTime; a value without a zone is taken as UTC."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed
