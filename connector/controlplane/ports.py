"""What the control plane needs from the outside, as Protocols (implemented by adapters).

* :class:`Authenticator` — who is calling a DSP endpoint (issue: participant identity; the
  implementation verifies a self-issued ID token against the caller's DID document).
* :class:`TokenSource` — the ``Authorization`` value for an outgoing DSP request.
* :class:`ParticipantFacts` — what we know about a caller for policy evaluation (trust list,
  verified membership credentials), as facts of the policy engine's state of the world.
* :class:`OutboundHttp` — JSON over HTTP to a counterparty, after the SSRF guard.

Nothing here does I/O; the composition root (``connector.web.app``) wires implementations in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from connector.model.contract import Agreement
from connector.model.dataset import Dataset
from connector.model.negotiation import Negotiation
from connector.model.transfer import DataAddress, Transfer


@dataclass(frozen=True)
class Caller:
    """An authenticated counterparty."""

    did: str
    """The caller's DID (``iss`` = ``sub`` of its self-issued token)."""
    claims: Mapping[str, Any] = field(default_factory=dict)
    """The verified token claims (``token`` for the DCP presentation flow among them)."""


@dataclass(frozen=True)
class CredentialFact:
    """A verified credential the caller presented (e.g. a MembershipCredential)."""

    types: tuple[str, ...]
    issuer: str
    subject: str
    valid_until: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Facts:
    """What policies may use about a participant."""

    did: str
    trusted: bool
    """On the trust list (``CONNECTOR_TRUSTED_PARTICIPANTS`` / management API)."""
    credentials: tuple[CredentialFact, ...] = ()

    def has_credential(self, type_: str, issuers: Sequence[str] | None = None) -> bool:
        """A credential of ``type_`` (from one of ``issuers`` if given), as one fact."""
        return any(
            type_ in c.types and (issuers is None or c.issuer in issuers) for c in self.credentials
        )


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> Caller:
        """Verify the ``Authorization`` header of an incoming DSP request.

        Raises ``connector.errors.Unauthorized`` (generic to the caller; the precise reason
        goes to the audit log)."""
        ...


class TokenSource(Protocol):
    def token_for(self, audience_did: str, *, scopes: Sequence[str] = ()) -> str:
        """The ``Authorization`` header value (``Bearer …``) for a request to ``audience_did``."""
        ...


class ParticipantFacts(Protocol):
    def facts(self, caller: Caller, *, scopes: Sequence[str] = ()) -> Facts:
        """Trust-list membership and verified credentials of ``caller`` (DCP presentation flow
        for the credential types in ``scopes``)."""
        ...


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: Any
    """Parsed JSON body, or ``None``."""
    headers: Mapping[str, str] = field(default_factory=dict)


class OutboundHttp(Protocol):
    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        """POST JSON to ``url`` (SSRF-guarded, timeouts, size limit). Raises
        ``connector.errors.Unavailable`` on transport failure (retryable)."""
        ...

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult: ...


# --- Added for the control plane (issue 4) -----------------------------------------------------


class DataAddressIssuer(Protocol):
    """The data plane's side of a transfer (implemented in ``connector.dataplane``).

    The provider's control plane calls :meth:`issue` when it starts (or resumes) a transfer:
    for ``HttpData-PULL`` the answer is the endpoint and access token the consumer pulls from;
    for ``HttpData-PUSH`` the data plane starts pushing to ``transfer.data_address`` and may
    answer ``None``. :meth:`revoke` is called on suspension, completion and termination.
    """

    def issue(
        self, transfer: Transfer, agreement: Agreement, dataset: Dataset
    ) -> DataAddress | None:
        """Open the data flow of ``transfer``; raises a ``ConnectorError`` if it cannot."""
        ...

    def revoke(self, transfer_id: str) -> None:
        """Close the data flow of ``transfer_id`` (idempotent)."""
        ...


@dataclass(frozen=True)
class OutboxMessage:
    """A DSP message decided in a transaction and delivered afterwards by the runner."""

    process_kind: str
    """``negotiation`` or ``transfer``."""
    process_id: str
    """This side's pid of the process the message belongs to."""
    event: str
    """The state-machine event (a ``NegotiationEvent``/``TransferEvent`` value)."""
    url: str
    audience: str
    """The counterparty's DID (the audience of the token)."""
    body: Mapping[str, Any]
    id: int | None = None
    attempts: int = 0


class StoreTx(Protocol):
    """One database transaction of the control plane (rows read here are locked for update)."""

    def negotiation(self, pid: str) -> Negotiation | None: ...
    def negotiation_finalizing(self, counterparty_id: str, agreement_id: str) -> Negotiation | None:
        """Our provider negotiation with ``counterparty_id`` whose agreement is
        ``agreement_id`` and whose FINALIZED event awaits its acknowledgement (locked)."""
        ...

    def negotiation_requested_by(
        self, counterparty_id: str, consumer_pid: str
    ) -> Negotiation | None:
        """The provider negotiation a consumer started with ``consumer_pid`` (replay check)."""
        ...

    def save_negotiation(self, process: Negotiation) -> None: ...
    def transfer(self, pid: str) -> Transfer | None: ...
    def transfer_by_consumer_pid(
        self, counterparty_id: str, consumer_pid: str
    ) -> Transfer | None: ...
    def save_transfer(self, process: Transfer) -> None: ...
    def agreement(self, agreement_id: str) -> Agreement | None: ...
    def save_agreement(self, agreement: Agreement, *, negotiation_id: str) -> None: ...
    def dataset(self, dataset_id: str) -> Dataset | None: ...
    def enqueue(self, message: OutboxMessage) -> None:
        """Queue ``message`` (replacing any queued message of the same process)."""
        ...

    def outbox_row(self, message_id: int) -> OutboxMessage | None: ...
    def outbox_done(self, message_id: int) -> bool:
        """Retire a pending outbox row; whether there was one."""
        ...


class ControlPlaneStore(Protocol):
    """Where negotiations, transfers, agreements and the outbox live."""

    def transaction(self) -> AbstractContextManager[StoreTx]: ...
