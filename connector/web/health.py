"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from connector.errors import Unavailable
from connector.stores.database import ping
from connector.web.runtime import Runtime, get_runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: Annotated[Runtime, Depends(get_runtime)]) -> JSONResponse:
    """The database answers and the keys are loaded."""
    checks: dict[str, Any] = {}
    ready = True
    try:
        ping(runtime.engine)
        checks["database"] = "ok"
    except Unavailable as exc:
        checks["database"] = exc.detail
        ready = False
    checks["keys"] = "ok" if runtime.keyset.kinds() else "missing"
    status = 200 if ready else 503
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status)
