"""What an auditor can filter the trail by (a value; the stores translate it to SQL)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from connector.audit.event import AuditEntry, format_time
from connector.audit.vocabulary import EventType, Result


@dataclass(frozen=True)
class AuditQuery:
    """All given conditions must hold; ``since`` is inclusive, ``until`` exclusive."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    participant: str | None = None
    dataset: str | None = None
    agreement: str | None = None
    process: str | None = None
    actor: str | None = None
    type: EventType | None = None
    result: Result | None = None

    @property
    def since_text(self) -> str | None:
        return None if self.since is None else format_time(self.since)

    @property
    def until_text(self) -> str | None:
        return None if self.until is None else format_time(self.until)

    def matches(self, entry: AuditEntry) -> bool:
        """The same conditions in Python (for in-memory trails)."""
        since, until = self.since_text, self.until_text
        checks = [
            since is None or entry.time >= since,
            until is None or entry.time < until,
            self.type is None or entry.type == self.type,
        ]
        for name in ("participant", "dataset", "agreement", "process", "actor", "result"):
            wanted = getattr(self, name)
            checks.append(wanted is None or getattr(entry, name) == str(wanted))
        return all(checks)
