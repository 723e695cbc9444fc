"""API-key guards for the management and audit surfaces (header ``X-Api-Key``).

Both read the header through :class:`fastapi.security.APIKeyHeader` (``auto_error=False``:
the refusal stays ours, a 401 problem), which declares the key as a security scheme of the
OpenAPI document: ``ManagementApiKey`` and ``AuditorApiKey``, one header, two keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from connector.audit.vocabulary import EventType, Result
from connector.errors import Unauthorized
from connector.identity.api_keys import matches
from connector.web.runtime import Runtime, get_runtime

HEADER = "X-Api-Key"
_management_key = APIKeyHeader(
    name=HEADER,
    scheme_name="ManagementApiKey",
    description="The management API key (`CONNECTOR_MANAGEMENT_API_KEY`).",
    auto_error=False,
)
_auditor_key = APIKeyHeader(
    name=HEADER,
    scheme_name="AuditorApiKey",
    description="The auditor API key (`CONNECTOR_AUDITOR_API_KEY`).",
    auto_error=False,
)


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


async def require_management_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Depends(_management_key)],
) -> None:
    """The management API key (a coroutine: no thread hop; a refusal is audited in a thread)."""
    if not matches(x_api_key, runtime.management_key):
        raise await run_in_threadpool(_refuse, runtime, "management", x_api_key)


async def require_auditor_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Depends(_auditor_key)],
) -> None:
    """The auditor API key (as :func:`require_management_key`)."""
    if not matches(x_api_key, runtime.auditor_key):
        raise await run_in_threadpool(_refuse, runtime, "auditor", x_api_key)
