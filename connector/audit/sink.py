"""The port the rest of the connector records audit events through.

Use cases receive an :class:`AuditSink` and call :meth:`AuditSink.record` once per decision or
access. The SQL implementation is :class:`connector.stores.audit_store.SqlAuditStore`;
:class:`MemoryAuditSink` keeps a real chain in memory (for tests and tools) and
:class:`NullAuditSink` records nothing (the benchmarks' "audit off" baseline).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol

from connector.audit.event import GENESIS, AuditEntry, AuditEvent, format_time, seal
from connector.audit.verification import VerificationReport, verify_chain
from connector.audit.vocabulary import EventType, Result
from connector.clock import Clock


class AuditSink(Protocol):
    def record(
        self,
        event_type: EventType,
        *,
        actor: str,
        result: Result = Result.OK,
        participant: str | None = None,
        dataset: str | None = None,
        agreement: str | None = None,
        process: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one event to the trail (durably, before returning) and return its entry.

        Raises :class:`connector.errors.Invalid` for an event that breaks the vocabulary
        (missing details, oversized details) and :class:`connector.errors.Unavailable` when
        the trail cannot be written: the caller must then not carry out the action.
        """
        ...


class EventAppender(ABC):
    """An :class:`AuditSink` built on :meth:`append`: ``record`` makes the event, ``append``
    chains and stores it (implemented by each trail)."""

    def record(
        self,
        event_type: EventType,
        *,
        actor: str,
        result: Result = Result.OK,
        participant: str | None = None,
        dataset: str | None = None,
        agreement: str | None = None,
        process: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one event (see :class:`AuditSink`)."""
        event = AuditEvent(
            type=event_type,
            actor=actor,
            result=result,
            participant=participant,
            dataset=dataset,
            agreement=agreement,
            process=process,
            details=details or {},
        )
        return self.append(event)

    @abstractmethod
    def append(self, event: AuditEvent) -> AuditEntry:
        """Chain and store ``event``; return its entry."""


class NullAuditSink:
    """Records nothing; returns an unchained entry (sequence 0)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def record(
        self,
        event_type: EventType,
        *,
        actor: str,
        result: Result = Result.OK,
        participant: str | None = None,
        dataset: str | None = None,
        agreement: str | None = None,
        process: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            seq=0,
            prev_hash=GENESIS,
            hash=GENESIS,
            time=format_time(self._clock.now()),
            type=str(event_type),
            body_digest=GENESIS,
            actor=actor,
            participant=participant,
            dataset=dataset,
            agreement=agreement,
            process=process,
            result=str(result),
            details=dict(details or {}),
        )


class MemoryAuditSink(EventAppender):
    """A real hash chain in memory (thread-safe); ``entries`` in order."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.entries: list[AuditEntry] = []

    def append(self, event: AuditEvent) -> AuditEntry:
        with self._lock:
            prev = self.entries[-1].hash if self.entries else GENESIS
            entry = seal(event, seq=len(self.entries) + 1, prev_hash=prev, at=self._clock.now())
            self.entries.append(entry)
            return entry

    def types(self) -> list[str]:
        return [entry.type for entry in self.entries]

    def verify(self) -> VerificationReport:
        return verify_chain(list(self.entries), trusted_keys={})
