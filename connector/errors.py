"""One exception tree for the whole connector.

::

    ConnectorError (reason: str, detail: str)
    ├── Invalid            malformed or semantically wrong input            → 400
    │   ├── PayloadTooLarge  body, nesting or graph over a limit            → 413
    │   └── UnknownContext   a JSON-LD context that is not pinned           → 400
    ├── Unauthorized       missing or invalid authentication                → 401
    ├── Forbidden          authenticated, but a policy or trust rule says no → 403
    ├── NotFound           unknown resource, or one of another participant  → 404
    ├── Conflict           illegal state transition, duplicate              → 409
    ├── VerificationFailed a signature, proof or credential does not verify → 422
    ├── CounterpartyRefused a counterparty answered, but refused (4xx)      → 502
    └── Unavailable        a dependency (database, remote peer) is down     → 503

Each error carries a machine-readable ``reason`` code (``snake_case``) and a human ``detail``.
The web layer maps the classes to HTTP status codes in one place (``connector.web.problems``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    status: ClassVar[int] = 500
    default_reason: ClassVar[str] = "internal_error"

    def __init__(self, detail: str, *, reason: str | None = None, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason or self.default_reason
        self.context = context

    def __str__(self) -> str:
        return self.detail


class Invalid(ConnectorError):
    status = 400
    default_reason = "invalid"


class PayloadTooLarge(Invalid):
    status = 413
    default_reason = "too_large"


class UnknownContext(Invalid):
    default_reason = "unknown_context"


class Unauthorized(ConnectorError):
    status = 401
    default_reason = "unauthorized"


class Forbidden(ConnectorError):
    status = 403
    default_reason = "forbidden"


class NotFound(ConnectorError):
    status = 404
    default_reason = "not_found"


class Conflict(ConnectorError):
    status = 409
    default_reason = "conflict"


class VerificationFailed(ConnectorError):
    status = 422
    default_reason = "verification_failed"


class CounterpartyRefused(ConnectorError):
    """A counterparty we forwarded a request to is up but refused it (it answered 4xx).

    ``status_received``, ``code`` and ``reasons`` are what it answered (its HTTP status and the
    ``code``/``reason`` of its DSP error body, if it sent one); the web layer shows them."""

    status = 502
    default_reason = "counterparty_error"

    def __init__(
        self,
        detail: str,
        *,
        status_received: int,
        code: str | None = None,
        reasons: tuple[str, ...] = (),
        reason: str | None = None,
    ) -> None:
        super().__init__(detail, reason=reason)
        self.status_received = status_received
        self.code = code
        self.reasons = reasons


class Unavailable(ConnectorError):
    status = 503
    default_reason = "unavailable"
