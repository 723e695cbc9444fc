"""API-key guards for the management and audit surfaces (header ``X-Api-Key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from connector.audit.vocabulary import EventType, Result
from connector.errors import Unauthorized
from connector.identity.api_keys import matches
from connector.web.runtime import Runtime, get_runtime


def _refuse(runtime: Runtime, surface: str, presented: str | None) -> Unauthorized:
    """Record the refusal (never the key itself) and build the error."""
    reason = "missing_api_key" if not presented else "bad_api_key"
    if runtime.audit is not None:
        runtime.audit.record(
            EventType.AUTH_FAILED,
            actor="anonymous",
            result=Result.DENIED,
            details={"reason": reason, "surface": surface},
        )
    return Unauthorized(f"missing or invalid {surface} API key", reason="bad_api_key")


def require_management_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    if not matches(x_api_key, runtime.management_key):
        raise _refuse(runtime, "management", x_api_key)


def require_auditor_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    if not matches(x_api_key, runtime.auditor_key):
        raise _refuse(runtime, "auditor", x_api_key)
