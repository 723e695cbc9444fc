"""Our DCP Credential Service: ``POST /api/dcp/presentations/query``.

Listed in our DID document as the ``CredentialService`` endpoint. The verifier authenticates
with its self-issued ID token (``Authorization: Bearer …``) carrying our access token as
``token``; the answer is a ``PresentationResponseMessage`` (see
:mod:`connector.identity.credential_service`). A query with ``presentationDefinition`` is
answered ``501 Not Implemented`` (as DCP requires of a service that does not support it) with
a problem body (DCP v1.0 defines no error message of its own).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from connector.audit.vocabulary import EventType, Result
from connector.credentials.jsonld import parse_json
from connector.errors import ConnectorError, Unauthorized, Unavailable
from connector.identity.credential_service import NotImplementedQuery
from connector.web.identity import DCP_PATH
from connector.web.participant_auth import authenticate_participant
from connector.web.problems import problem
from connector.web.runtime import Runtime, get_runtime

router = APIRouter(prefix=DCP_PATH, tags=["dcp"])


@router.post("/presentations/query")
async def presentations_query(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Answer a ``PresentationQueryMessage`` with presentations of the credentials we hold."""
    caller = authenticate_participant(runtime, authorization, "dcp")
    if runtime.identity is None:
        raise Unavailable("no credential service configured", reason="not_configured")
    message = parse_json(await request.body())
    try:
        response = runtime.identity.credential_service.query(caller, message)
    except NotImplementedQuery as exc:
        return problem(501, "Not Implemented", exc.detail, exc.reason)
    except ConnectorError as exc:
        if runtime.audit is not None and exc.status in {401, 403}:
            runtime.audit.record(
                EventType.AUTH_FAILED,
                actor=caller.did,
                participant=caller.did,
                result=Result.DENIED,
                details={"reason": exc.reason, "surface": "dcp"},
            )
        if isinstance(exc, Unauthorized):
            raise Unauthorized("authentication failed", reason="invalid_token") from exc
        raise
    return JSONResponse(response)
