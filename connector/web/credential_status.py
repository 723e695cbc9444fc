"""The revocation list of the credentials this connector issued as a federation authority:
``GET /credentials/status/1`` (see :mod:`connector.identity.issuance`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from connector.errors import NotFound
from connector.identity.issuance import LIST_NUMBER, STATUS_PATH, IssuedRegistry
from connector.web.runtime import Runtime, get_runtime

router = APIRouter(prefix=STATUS_PATH, tags=["credentials"])


@router.get("/{number}")
def issued_status_list(
    number: str, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> JSONResponse:
    """The signed ``BitstringStatusListCredential`` (Data Integrity proof), never cached long."""
    if number != LIST_NUMBER:
        raise NotFound(f"no status list {number[:20]}", reason="unknown_status_list")
    registry = IssuedRegistry.in_data_dir(runtime.settings.data_dir, runtime.settings.base_url)
    return JSONResponse(
        registry.status_list(),
        media_type="application/vc+ld+json",
        headers={"Cache-Control": "no-cache"},
    )
