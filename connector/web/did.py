"""``/.well-known/did.json`` (did:web document) and the ``x5u`` certificate chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from connector.errors import NotFound
from connector.web.runtime import Runtime, get_runtime

router = APIRouter(tags=["identity"])

X5U_PATH = "/.well-known/x5u/rsa-chain.pem"


@router.get("/.well-known/did.json")
async def did_document(runtime: Annotated[Runtime, Depends(get_runtime)]) -> JSONResponse:
    """This participant's DID document."""
    doc: dict[str, Any] = runtime.did_document
    return JSONResponse(doc, media_type="application/did+json")


@router.get(X5U_PATH)
async def certificate_chain(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    """The PEM certificate chain of the RSA key (Gaia-X compliance ``x5u``)."""
    if runtime.keyset.rsa_chain_pem is None:
        raise NotFound("no RSA certificate chain configured", reason="no_certificate")
    return Response(runtime.keyset.rsa_chain_pem, media_type="application/x-pem-file")
