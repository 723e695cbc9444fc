"""API-key guards for the management and audit surfaces (header ``X-Api-Key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from starlette.concurrency import run_in_threadpool

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


async def require_management_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    """The management API key (a coroutine: no thread hop; a refusal is audited in a thread)."""
    if not matches(x_api_key, runtime.management_key):
        raise await run_in_threadpool(_refuse, runtime, "management", x_api_key)


async def require_auditor_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    """The auditor API key (as :func:`require_management_key`)."""
    if not matches(x_api_key, runtime.auditor_key):
        raise await run_in_threadpool(_refuse, runtime, "auditor", x_api_key)
