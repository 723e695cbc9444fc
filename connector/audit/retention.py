"""Retention: how long entries (whole) and their bodies (per event type) are kept.

Two mechanisms keep the chain verifiable while data goes away:

* **redaction per event type** — after the period the city sets for a type (e.g. data accesses
  after 90 days), an entry's body (actor, participant, identifiers, details) is removed; its
  header (sequence, time, type, digests) stays, so the chain still verifies and shows where
  bodies were removed. The ``audit.pruned`` event records each rule (type, cut-off, count), and
  verification refuses a removed body no rule accounts for.
* **deletion of the oldest entries** — entries older than ``delete_after`` are deleted as a
  prefix of the chain (up to sequence N). A signed ``pruned`` checkpoint records N and entry N's
  hash; verification starts there.

Both are applied in one transaction together with the ``audit.pruned`` event that records them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from connector.audit.event import format_time
from connector.audit.vocabulary import EventType
from connector.errors import Invalid


@dataclass(frozen=True)
class RetentionPolicy:
    delete_after: dt.timedelta | None = None
    """Delete whole entries older than this (``None``: keep forever)."""
    redact_after: Mapping[EventType, dt.timedelta] = field(default_factory=dict)
    """Remove the bodies of entries of these types older than the period."""

    def __post_init__(self) -> None:
        periods = list(self.redact_after.values())
        if self.delete_after is not None:
            periods.append(self.delete_after)
        if any(period <= dt.timedelta(0) for period in periods):
            raise Invalid("retention periods must be positive", reason="retention")
        if EventType.AUDIT_PRUNED in self.redact_after:
            raise Invalid("the audit.pruned events cannot be redacted", reason="retention")

    def cutoffs(self, now: dt.datetime) -> RetentionCutoffs:
        """The instants (as canonical audit times) before which each rule applies."""
        return RetentionCutoffs(
            delete_before=format_time(now - self.delete_after) if self.delete_after else None,
            redact_before={
                str(type_): format_time(now - period)
                for type_, period in sorted(self.redact_after.items())
            },
        )


@dataclass(frozen=True)
class RetentionCutoffs:
    delete_before: str | None
    redact_before: dict[str, str]


def parse_rules(rules: Iterable[str]) -> dict[EventType, dt.timedelta]:
    """``["data.accessed=90", "auth.failed=30"]`` (days per event type)."""
    parsed: dict[EventType, dt.timedelta] = {}
    for rule in rules:
        name, sep, days = rule.partition("=")
        try:
            type_ = EventType(name.strip())
            count = int(days)
        except ValueError as exc:
            raise Invalid(
                f"retention rule {rule!r}: expected <event type>=<days>", reason="retention"
            ) from exc
        if not sep or count <= 0:
            raise Invalid(f"retention rule {rule!r}: days must be positive", reason="retention")
        parsed[type_] = dt.timedelta(days=count)
    return parsed
