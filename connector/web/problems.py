"""The one place where errors become HTTP responses (RFC 9457 problem details).

Verification failures are opaque to the caller in their detail where they concern
authentication; the precise reason goes to the log (and, later, the audit trail).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connector.errors import ConnectorError, Unauthorized

log = structlog.get_logger("connector.web")

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, reason: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://w3id.org/klimakommune/problems#{reason}",
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def install(app: FastAPI) -> None:
    """Register the exception handlers of the whole app."""

    @app.exception_handler(ConnectorError)
    async def _connector_error(request: Request, exc: ConnectorError) -> JSONResponse:
        log.info(
            "request_refused",
            path=request.url.path,
            status=exc.status,
            reason=exc.reason,
            detail=exc.detail,
        )
        detail = exc.detail
        if isinstance(exc, Unauthorized):
            detail = "authentication failed"
        return problem(exc.status, _TITLES.get(exc.status, "Error"), detail, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem(400, "Bad Request", detail, "invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(
            exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail), reason
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected_error", path=request.url.path)
        return problem(500, "Internal Server Error", "unexpected error", "internal_error")
