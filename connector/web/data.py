"""Data routes: the provider's public pull endpoint and the consumer's own data access.

* ``GET /api/data/{transfer}`` — ``Authorization: Bearer <token>`` from the data address;
  query parameters narrow the data (``from``, ``to``, ``limit``, the dataset's filters, the
  SensorThings ``$…`` options for an upstream), ``format`` picks ``csv``/``jsonl``/``json``,
  ``purpose`` (or header ``X-Purpose``) declares the purpose of this access.
* ``POST /api/data/{transfer}/token`` — a fresh token while the transfer is STARTED, for a
  valid pull token or the consumer's self-issued identity token (DSP authentication).
* ``GET /api/management/transfers/{pid}/data`` — our applications read a transfer we consume:
  the connector pulls from the provider's endpoint (renewing the token when it expired) and
  streams the bytes through.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from connector.dataplane.issuer import DATA_PATH
from connector.dataplane.tokens import PREFIX
from connector.errors import (
    Conflict,
    ConnectorError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
)
from connector.http.upstream import UpstreamResponse
from connector.model import Role
from connector.web.dataplane import DataPlaneParts
from connector.web.runtime import Runtime, get_runtime, runtime_of
from connector.web.security import require_management_key

router = APIRouter(tags=["data"])
_NO_STORE = {"Cache-Control": "no-store"}
_ERRORS: dict[int, type[ConnectorError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
}


def _parts(runtime: Runtime) -> DataPlaneParts:
    parts = runtime.extras.get("dataplane")
    if not isinstance(parts, DataPlaneParts):
        raise Unavailable("the data plane is not configured", reason="dataplane_unavailable")
    return parts


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


@router.get(DATA_PATH + "/{transfer_id}")
async def pull(transfer_id: str, request: Request) -> StreamingResponse:
    """Stream the data of a transfer to its consumer."""
    runtime = runtime_of(request)
    parts = _parts(runtime)
    query = list(request.query_params.multi_items())
    purpose = request.query_params.get("purpose") or request.headers.get("x-purpose")
    access = await run_in_threadpool(
        parts.plane.authorize,
        transfer_id,
        _bearer(request.headers.get("authorization")),
        query,
        purpose=purpose,
    )
    fmt = request.query_params.get("format")
    if parts.plane.is_http(access):
        payload = await parts.plane.open_http(access, fmt, dict(request.headers))
    else:
        payload = await run_in_threadpool(parts.plane.open, access, fmt)
    return StreamingResponse(
        payload.chunks, media_type=payload.media_type, headers={**payload.headers, **_NO_STORE}
    )


@router.post(DATA_PATH + "/{transfer_id}/token")
def renew(transfer_id: str, request: Request) -> dict[str, Any]:
    """A fresh pull token (the presented pull token, if any, is revoked)."""
    runtime = runtime_of(request)
    parts = _parts(runtime)
    header = request.headers.get("authorization")
    token = _bearer(header)
    if token is not None and token.startswith(PREFIX):
        new_token, grant = parts.plane.renew(transfer_id, token)
    else:
        caller = runtime.authenticator.authenticate(header)
        new_token, grant = parts.plane.renew_for(transfer_id, caller.did)
    return {
        "authorization": new_token,
        "authType": "bearer",
        "expiresAt": grant.expires_at.isoformat().replace("+00:00", "Z"),
    }


async def _problem(response: UpstreamResponse) -> ConnectorError:
    body = b""
    async with contextlib.aclosing(response.body) as chunks:
        async for chunk in chunks:
            body += chunk
            if len(body) > 65536:
                break
    detail = f"the provider answered {response.status}"
    reason = "provider_refused"
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            detail = str(parsed.get("detail", detail))[:500]
            reason = str(parsed.get("reason", reason))[:64]
    except ValueError:
        pass
    kind = _ERRORS.get(response.status, Unavailable)
    if kind is Unauthorized:
        return Forbidden(f"the provider refused the token: {detail}", reason=reason)
    return kind(detail, reason=reason)


@router.get("/api/management/transfers/{pid}/data", dependencies=[Depends(require_management_key)])
async def transfer_data(
    pid: str, request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> StreamingResponse:
    """Pull the data of a transfer we consume from the provider, streaming it through."""
    parts = _parts(runtime)
    plane = runtime.controlplane
    if plane is None:
        raise Unavailable("the control plane is not configured", reason="controlplane_unavailable")
    transfer = await run_in_threadpool(plane.queries.transfer, pid)
    if transfer is None or transfer.role is not Role.CONSUMER:
        raise NotFound("no such transfer of ours as consumer", reason="unknown_transfer")
    address = transfer.data_address
    if address is None or not address.endpoint:
        raise Conflict("the provider has not sent a data address yet", reason="no_data_address")
    endpoint = address.endpoint
    query = str(request.url.query)
    url = endpoint + ("?" + query if query else "")
    token = parts.consumer_tokens.get(pid) or address.properties.get("authorization", "")
    headers = {"Accept": request.headers.get("accept", "*/*")}

    for attempt in range(2):
        context = parts.client.request(
            "GET", url, headers={**headers, "Authorization": f"Bearer {token}"}
        )
        response = await context.__aenter__()
        if response.status == 200:
            break
        error = await _problem(response)
        await context.__aexit__(None, None, None)
        if response.status != 401 or attempt:
            raise error
        token = await _renewed(runtime, parts, endpoint, transfer.counterparty_id, pid)

    async def body() -> AsyncIterator[bytes]:
        try:
            async with contextlib.aclosing(response.body) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            await context.__aexit__(None, None, None)

    media = response.headers.get("content-type", "application/octet-stream")
    return StreamingResponse(body(), media_type=media, headers=_NO_STORE)


async def _renewed(
    runtime: Runtime, parts: DataPlaneParts, endpoint: str, provider: str, pid: str
) -> str:
    identity = await run_in_threadpool(runtime.token_source.token_for, provider)
    async with parts.client.request(
        "POST", endpoint + "/token", headers={"Authorization": identity}, body=b""
    ) as response:
        if response.status != 200:
            raise await _problem(response)
        raw = b""
        async for chunk in response.body:
            raw += chunk
            if len(raw) > 65536:
                raise Unavailable("token answer too large", reason="provider_refused")
    try:
        token = json.loads(raw)["authorization"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unavailable("malformed token answer", reason="provider_refused") from exc
    if not isinstance(token, str):
        raise Unavailable("malformed token answer", reason="provider_refused")
    parts.consumer_tokens[pid] = token
    return token
