"""API-key guards for the management and audit surfaces (header ``X-Api-Key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from connector.errors import Unauthorized
from connector.identity.api_keys import matches
from connector.web.runtime import Runtime, get_runtime


def require_management_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    if not matches(x_api_key, runtime.management_key):
        raise Unauthorized("missing or invalid management API key", reason="bad_api_key")


def require_auditor_key(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    if not matches(x_api_key, runtime.auditor_key):
        raise Unauthorized("missing or invalid auditor API key", reason="bad_api_key")
