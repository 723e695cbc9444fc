"""The provider's data plane for one access: authenticate the token, check the transfer and
the agreement, decide, open the stream, and audit the outcome.

Every access ends in exactly one ``data.accessed`` audit event: ``denied`` (with the reason or
the policy's explanation) before any byte flows, or ``ok``/``error`` with the bytes sent and
the duration once the stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from connector.audit.sink import AuditSink
from connector.audit.vocabulary import EventType, Result
from connector.clock import Clock
from connector.dataplane.delivery import Delivery
from connector.dataplane.enforcement import Decision, Enforcer, summary
from connector.dataplane.narrowing import Narrowing
from connector.dataplane.pipeline import DataSources, Payload
from connector.dataplane.tokens import AccessTokens, Grant, TokenRefused
from connector.errors import ConnectorError, Forbidden, Unauthorized
from connector.model import Agreement, Dataset, Role, Transfer, TransferEvent, TransferState


class Contracts(Protocol):
    """Read access to what the control plane stores."""

    def transfer(self, transfer_id: str) -> Transfer | None: ...
    def agreement(self, agreement_id: str) -> Agreement | None: ...
    def dataset(self, dataset_id: str) -> Dataset | None: ...
    def stored_policy(self, policy_hash: str) -> Mapping[str, Any] | None:
        """The stored policy version (JSON-LD) an offer was made from, by hash."""
        ...


def delivery_of(dataset: Dataset) -> Delivery:
    """The dataset's delivery section (``properties.delivery``)."""
    return Delivery.parse(dataset.properties.get("delivery"))


@dataclass(frozen=True)
class Access:
    """An access that was allowed: what it may read and how it is shaped."""

    grant: Grant
    agreement: Agreement
    dataset: Dataset
    delivery: Delivery
    narrowing: Narrowing
    decision: Decision
    started: float


class DataPlane:
    """Provider-side access to datasets under agreements."""

    def __init__(
        self,
        *,
        tokens: AccessTokens,
        enforcer: Enforcer,
        sources: DataSources,
        contracts: Contracts,
        audit: AuditSink,
        clock: Clock,
    ) -> None:
        self.tokens = tokens
        self.enforcer = enforcer
        self.sources = sources
        self.contracts = contracts
        self.audit = audit
        self.clock = clock

    def _deny(
        self, grant: Grant | None, transfer_id: str, started: float, reason: str, detail: str
    ) -> None:
        self.audit.record(
            EventType.DATA_ACCESSED,
            actor=grant.consumer_did if grant else "unknown",
            result=Result.DENIED,
            participant=grant.consumer_did if grant else None,
            dataset=grant.dataset_id if grant else None,
            agreement=grant.agreement_id if grant else None,
            process=transfer_id[:200],
            details={
                "bytes": 0,
                "duration_ms": int((self.clock.monotonic() - started) * 1000),
                "reason": reason,
                "explanation": detail[:500],
            },
        )

    def authorize(
        self,
        transfer_id: str,
        token: str | None,
        query: Iterable[tuple[str, str]],
        *,
        purpose: str | None = None,
    ) -> Access:
        """Check token, transfer, agreement and policy for one access (audited if refused)."""
        started = self.clock.monotonic()
        try:
            grant = self.tokens.verify(token)
            if grant.transfer_id != transfer_id:
                raise TokenRefused("wrong_transfer", grant)
        except TokenRefused as exc:
            self._deny(exc.grant, transfer_id, started, exc.cause, "token refused")
            raise
        return self.admit(grant, query, purpose=purpose, started=started)

    def admit(
        self,
        grant: Grant,
        query: Iterable[tuple[str, str]] = (),
        *,
        purpose: str | None = None,
        started: float | None = None,
    ) -> Access:
        """Check transfer, agreement and policy for an access under ``grant`` (audited if
        refused). Push deliveries come here directly; pulls through :meth:`authorize`."""
        started = self.clock.monotonic() if started is None else started
        transfer_id = grant.transfer_id
        try:
            transfer = self.contracts.transfer(transfer_id)
            if (
                transfer is None
                or transfer.role is not Role.PROVIDER
                or transfer.agreement_id != grant.agreement_id
            ):
                raise TokenRefused("unknown_transfer", grant)
            # The token travels in our TransferStartMessage: the consumer may use it as soon as it
            # has acknowledged that message, which can be before we have recorded the ack.
            starting = transfer.pending is TransferEvent.START and transfer.state in (
                TransferState.REQUESTED,
                TransferState.SUSPENDED,
            )
            if transfer.state is not TransferState.STARTED and not starting:
                raise TokenRefused("transfer_not_started", grant)
            agreement = self.contracts.agreement(grant.agreement_id)
            dataset = self.contracts.dataset(grant.dataset_id)
            if agreement is None or dataset is None:
                raise TokenRefused("agreement_or_dataset_gone", grant)
            delivery = delivery_of(dataset)
            narrowing = self.sources.narrowing(dataset.source, delivery, query)
            decision = self.enforcer.decide(
                agreement, delivery, consumer=grant.consumer_did, purpose=purpose
            )
        except TokenRefused as exc:
            self._deny(grant, transfer_id, started, exc.cause, "access refused")
            raise
        except ConnectorError as exc:
            self._deny(grant, transfer_id, started, exc.reason, exc.detail)
            raise
        if not decision.permitted:
            self._deny(grant, transfer_id, started, "policy_denied", decision.explanation)
            raise Forbidden(decision.explanation, reason="policy_denied")
        return Access(grant, agreement, dataset, delivery, narrowing, decision, started)

    def is_http(self, access: Access) -> bool:
        """Whether the dataset streams from an HTTP upstream (opened asynchronously)."""
        return access.dataset.source.get("type") == "http"

    def open(self, access: Access, fmt: str | None) -> Payload:
        """Open a file/SQL delivery; the first chunk is read here, so failures come early."""
        try:
            payload = self.sources.open_sync(
                access.dataset.source, access.delivery, access.narrowing, access.decision.plan, fmt
            )
            chunks = iter(payload.chunks)  # type: ignore[arg-type]
            first = next(chunks, b"")
        except ConnectorError as exc:
            self.finish(access, 0, Result.ERROR, exc.reason)
            raise
        payload.chunks = self._audited(access, first, chunks)
        return payload

    async def open_http(
        self, access: Access, fmt: str | None, headers: Mapping[str, str]
    ) -> Payload:
        """Open an HTTP upstream delivery (status checked before the response starts;
        shaped like file and SQL sources when the policy requires it)."""
        try:
            payload = await self.sources.open_http(
                access.dataset.source,
                access.narrowing,
                access.decision.plan,
                headers,
                delivery=access.delivery,
                fmt=fmt,
            )
        except ConnectorError as exc:
            self.finish(access, 0, Result.ERROR, exc.reason)
            raise
        payload.chunks = self._audited_async(access, payload.chunks)  # type: ignore[arg-type]
        return payload

    def finish(self, access: Access, sent: int, result: Result, reason: str | None = None) -> None:
        """Record the access's outcome."""
        details: dict[str, Any] = {
            "bytes": sent,
            "duration_ms": int((self.clock.monotonic() - access.started) * 1000),
            **summary(access.decision),
        }
        if reason:
            details["reason"] = reason
        self.audit.record(
            EventType.DATA_ACCESSED,
            actor=access.grant.consumer_did,
            result=result,
            participant=access.grant.consumer_did,
            dataset=access.dataset.id,
            agreement=access.agreement.id,
            process=access.grant.transfer_id,
            details=details,
        )

    def _audited(self, access: Access, first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
        sent = 0
        result, reason = Result.ERROR, "interrupted"
        try:
            if first:
                sent += len(first)
                yield first
            for chunk in rest:
                sent += len(chunk)
                yield chunk
            result, reason = Result.OK, ""
        except ConnectorError as exc:
            reason = exc.reason
            raise
        finally:
            self.finish(access, sent, result, reason or None)

    async def _audited_async(
        self, access: Access, chunks: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        sent = 0
        result, reason = Result.ERROR, "interrupted"
        try:
            async for chunk in chunks:
                sent += len(chunk)
                yield chunk
            result, reason = Result.OK, ""
        except ConnectorError as exc:
            reason = exc.reason
            raise
        finally:
            self.finish(access, sent, result, reason or None)

    def renew(self, transfer_id: str, token: str | None) -> tuple[str, Grant]:
        """A fresh token for a STARTED transfer (the presented one is revoked)."""
        grant = self.tokens.verify(token)
        transfer = self.contracts.transfer(transfer_id)
        if (
            grant.transfer_id != transfer_id
            or transfer is None
            or transfer.state is not TransferState.STARTED
        ):
            raise Unauthorized("authentication failed", reason="invalid_token")
        return self.tokens.renew(token)

    def renew_for(self, transfer_id: str, consumer_did: str) -> tuple[str, Grant]:
        """A fresh token for the authenticated consumer of a STARTED transfer."""
        transfer = self.contracts.transfer(transfer_id)
        if (
            transfer is None
            or transfer.state is not TransferState.STARTED
            or transfer.counterparty_id != consumer_did
        ):
            raise Unauthorized("authentication failed", reason="invalid_token")
        agreement = self.contracts.agreement(transfer.agreement_id)
        if agreement is None or agreement.assignee != consumer_did:
            raise Unauthorized("authentication failed", reason="invalid_token")
        return self.tokens.issue(
            transfer_id=transfer_id,
            agreement_id=agreement.id,
            consumer_did=consumer_did,
            dataset_id=agreement.target,
        )
