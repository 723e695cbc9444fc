"""The one place where errors become HTTP responses (RFC 9457 problem details).

Verification failures are opaque to the caller in their detail where they concern
authentication; the precise reason goes to the log (and, later, the audit trail).

The OpenAPI document says the same: :func:`problem_responses` documents problem answers, and
FastAPI's generated ``422`` (request validation) becomes the ``400`` problem it really is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connector import jsontext
from connector.errors import ConnectorError, CounterpartyRefused, Unauthorized

log = structlog.get_logger("connector.web")

PROBLEM_JSON = "application/problem+json"


def challenge(path: str) -> str:
    """The ``WWW-Authenticate`` value of a 401 (RFC 9110 requires one): the API-key header of
    the management and audit APIs, bearer tokens everywhere else (DSP, DCP, data plane)."""
    if path.startswith(("/api/management", "/api/audit")):
        return 'ApiKey header="X-Api-Key"'
    return "Bearer"


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
    502: "Bad Gateway",
    503: "Service Unavailable",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail", "reason"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "reason": {"type": "string", "description": "machine-readable reason code (snake_case)"},
        "errors": {
            "type": "array",
            "description": "400 for an invalid request: every offending parameter or field",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


def problem_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route or router: a problem body for each status."""
    return {
        status: {
            "description": text,
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status, text in descriptions.items()
    }


_AUTO_422 = {"$ref": "#/components/schemas/HTTPValidationError"}


def _validation_is_400(schema: dict[str, Any]) -> None:
    """Replace FastAPI's generated ``422`` responses (this app answers an invalid request with
    a ``400`` problem) and drop their schemas once nothing refers to them."""
    replaced = False
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            generated = responses.get("422", {}).get("content", {}).get("application/json", {})
            if generated.get("schema") != _AUTO_422:
                continue
            replaced = True
            del responses["422"]
            if "400" not in responses:
                responses["400"] = problem_responses({400: "Invalid parameters or body"})[400]
            ordered = sorted(responses.items(), key=lambda item: (item[0] == "default", item[0]))
            operation["responses"] = dict(ordered)
    components = schema.get("components", {}).get("schemas", {})
    if replaced and "HTTPValidationError" not in jsontext.dumps_text(schema.get("paths", {})):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def install(app: FastAPI) -> None:
    """Register the exception handlers of the whole app (and say so in its OpenAPI)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # built once, then cached by FastAPI; the fix-up is idempotent
        _validation_is_400(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

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
        extra: dict[str, Any] = {}
        if isinstance(exc, Unauthorized):
            answer = problem(401, _TITLES[401], "authentication failed", exc.reason)
            answer.headers["WWW-Authenticate"] = challenge(request.url.path)
            return answer
        if isinstance(exc, CounterpartyRefused):
            extra["counterparty"] = {
                "status": exc.status_received,
                "code": exc.code,
                "reason": list(exc.reasons),
            }
        return problem(exc.status, _TITLES.get(exc.status, "Error"), detail, exc.reason, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        raw = exc.errors()[0] if exc.errors() else {}
        if raw.get("type") == "json_invalid":  # loc is ("body", <character offset>)
            where = raw.get("loc", ("body", "?"))[-1]
            cause = (raw.get("ctx") or {}).get("error", "")
            detail = f"the body is not valid JSON (at character {where}: {cause})".replace(
                ": )", ")"
            )
        elif raw.get("type") in {"dict_type", "model_attributes_type"} and tuple(
            raw.get("loc", ())
        ) == ("body",):
            detail = "the body must be a JSON object (sent as application/json)"
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
