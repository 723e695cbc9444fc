"""The per-partner access report: what each partner accessed, how much, and what was refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connector.audit.event import AuditEntry
from connector.audit.vocabulary import EventType, Result


@dataclass
class DatasetUsage:
    accesses: int = 0
    bytes: int = 0
    denials: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"accesses": self.accesses, "bytes": self.bytes, "denials": self.denials}


@dataclass
class PartnerReport:
    participant: str
    accesses: int = 0
    bytes: int = 0
    denials: int = 0
    catalog_requests: int = 0
    negotiation_steps: int = 0
    transfer_steps: int = 0
    auth_failures: int = 0
    agreements: set[str] = field(default_factory=set)
    datasets: dict[str, DatasetUsage] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None

    def add(self, entry: AuditEntry) -> None:
        self.first = self.first or entry.time
        self.last = entry.time
        denied = entry.result == Result.DENIED
        self.denials += denied
        if entry.agreement:
            self.agreements.add(entry.agreement)
        usage = self.datasets.setdefault(entry.dataset, DatasetUsage()) if entry.dataset else None
        if usage is not None:
            usage.denials += denied
        if entry.type == EventType.DATA_ACCESSED:
            size = (entry.details or {}).get("bytes", 0)
            size = size if isinstance(size, int) else 0
            self.accesses += 1
            self.bytes += size
            if usage is not None:
                usage.accesses += 1
                usage.bytes += size
        elif entry.type == EventType.CATALOG_REQUESTED:
            self.catalog_requests += 1
        elif entry.type == EventType.NEGOTIATION_STATE_CHANGED:
            self.negotiation_steps += 1
        elif entry.type == EventType.TRANSFER_STATE_CHANGED:
            self.transfer_steps += 1
        elif entry.type == EventType.AUTH_FAILED:
            self.auth_failures += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant,
            "accesses": self.accesses,
            "bytes": self.bytes,
            "denials": self.denials,
            "catalog_requests": self.catalog_requests,
            "negotiation_steps": self.negotiation_steps,
            "transfer_steps": self.transfer_steps,
            "auth_failures": self.auth_failures,
            "agreements": sorted(self.agreements),
            "datasets": {k: v.to_dict() for k, v in sorted(self.datasets.items())},
            "first": self.first,
            "last": self.last,
        }


def partner_reports(entries: Iterable[AuditEntry]) -> list[PartnerReport]:
    """One report per partner (entries without a participant, or redacted, are skipped)."""
    reports: dict[str, PartnerReport] = {}
    for entry in entries:
        if entry.redacted or not entry.participant:
            continue
        report = reports.get(entry.participant)
        if report is None:
            report = reports[entry.participant] = PartnerReport(entry.participant)
        report.add(entry)
    return [reports[k] for k in sorted(reports)]
