"""From :mod:`connector.errors` to the DSP error bodies and HTTPS-binding status codes.

One place decides what a DSP counterpart sees when something goes wrong:

- the body is a ``CatalogError``, ``ContractNegotiationError`` or ``TransferError`` (by the
  kind of process the endpoint serves) with ``code`` = the error's ``reason`` code
  (``missing_field``, ``illegal_transition`` …) and ``reason`` = a list with one human text;
- the status follows the DSP HTTPS binding: 400 for a malformed message *and* for an illegal
  state transition (``Conflict``, which is 409 on the management API), 401, 403, 404, 413;
- texts of authentication and verification failures and of unexpected errors are opaque:
  the caller learns that it failed, the audit log learns why.

The other way round, :func:`counterparty_error` turns a counterparty's non-2xx answer to a
request we forwarded into the error our own caller sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from connector import jsontext
from connector.dsp.base import RootMessage
from connector.dsp.catalog import CatalogError
from connector.dsp.codec import serialize
from connector.dsp.negotiation import ContractNegotiationError
from connector.dsp.transfer import TransferError
from connector.errors import (
    Conflict,
    ConnectorError,
    CounterpartyRefused,
    Unauthorized,
    Unavailable,
    VerificationFailed,
)


class ProcessKind(StrEnum):
    """Which protocol an endpoint belongs to (selects the error body type)."""

    CATALOG = "catalog"
    NEGOTIATION = "negotiation"
    TRANSFER = "transfer"


_OPAQUE: dict[type[ConnectorError], str] = {
    Unauthorized: "authentication failed",
    VerificationFailed: "verification failed",
    Unavailable: "service temporarily unavailable",
}


def status_for(exc: BaseException) -> int:
    """The HTTP status of a DSP endpoint's answer to ``exc``."""
    if isinstance(exc, Conflict):
        return 400
    if isinstance(exc, ConnectorError):
        return exc.status
    return 500


def _text(exc: BaseException) -> tuple[str, str]:
    if not isinstance(exc, ConnectorError):
        return "internal_error", "internal error"
    for cls, text in _OPAQUE.items():
        if isinstance(exc, cls):
            return exc.reason, text
    if exc.status >= 500:
        return exc.reason, "internal error"
    return exc.reason, exc.detail


def error_body(
    exc: BaseException,
    kind: ProcessKind,
    *,
    consumer_pid: str | None = None,
    provider_pid: str | None = None,
) -> RootMessage:
    """The DSP error message for ``exc`` at an endpoint of ``kind``.

    Negotiation and transfer errors must name both process ids; an id this side does not
    know (a malformed or initial message) is written as an empty string.
    """
    code, text = _text(exc)
    if kind is ProcessKind.CATALOG:
        return CatalogError(code=code, reason=[text])
    pids = {"consumer_pid": consumer_pid or "", "provider_pid": provider_pid or ""}
    if kind is ProcessKind.NEGOTIATION:
        return ContractNegotiationError(code=code, reason=[text], **pids)
    return TransferError(code=code, reason=[text], **pids)


def error_response(
    exc: BaseException,
    kind: ProcessKind,
    *,
    consumer_pid: str | None = None,
    provider_pid: str | None = None,
) -> tuple[int, dict[str, object]]:
    """``(status, JSON body)`` of a DSP endpoint's answer to ``exc``."""
    body = error_body(exc, kind, consumer_pid=consumer_pid, provider_pid=provider_pid)
    return status_for(exc), serialize(body)


_MAX_CODE = 100
_MAX_REASON = 300
_MAX_REASONS = 5


def received_error(body: Any) -> tuple[str | None, tuple[str, ...]]:
    """``code`` and ``reason`` texts of a DSP error body a counterparty sent (a reason given
    as ``{"@value": …}`` by its value; shortened, at most five; any other body: none)."""
    if not isinstance(body, Mapping):
        return None, ()
    code = body.get("code")
    raw = body.get("reason")
    items = raw if isinstance(raw, list) else [] if raw is None else [raw]
    reasons = tuple(_reason_text(r)[:_MAX_REASON] for r in items[:_MAX_REASONS] if r is not None)
    return (code[:_MAX_CODE] if isinstance(code, str) and code else None), reasons


def _reason_text(reason: Any) -> str:
    if isinstance(reason, str):
        return reason
    if isinstance(reason, Mapping) and isinstance(reason.get("@value"), str):
        return str(reason["@value"])
    return jsontext.dumps_text(reason)


def counterparty_error(status: int, body: Any) -> ConnectorError:
    """The error for a counterparty's non-2xx answer ``status`` with ``body`` (decoded JSON or
    ``None``): a 4xx is a refusal (:class:`CounterpartyRefused`, 502: it is up, asking again
    will not help), anything else :class:`Unavailable` (503). The detail names the status and
    the ``code`` and ``reason`` of its DSP error body, if it sent one."""
    code, reasons = received_error(body)
    detail = f"the counterparty answered {status}"
    if code is not None:
        detail += f" ({code})"
    if reasons:
        detail += ": " + "; ".join(reasons)
    if 400 <= status < 500:
        return CounterpartyRefused(detail, status_received=status, code=code, reasons=reasons)
    return Unavailable(detail, reason="counterparty_error", status=status)
