"""Published self-descriptions: index, each credential (JSON-LD or ``vc+jwt``), the status list
and a fresh ``vp+jwt`` of all of them."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, Response

from connector.credentials import jose
from connector.credentials.publication import STATUS_LIST_ID
from connector.credentials.verifier import types_of
from connector.errors import Invalid, NotFound
from connector.web.runtime import Runtime, get_runtime

router = APIRouter(prefix="/self-descriptions", tags=["self-descriptions"])

LD_JSON = "application/ld+json"
VC_JWT = "application/vc+jwt"
VP_JWT = "application/vp+jwt"
MAX_NONCE = 256


def _wants_jwt(accept: str | None) -> bool:
    if not accept:
        return False
    return any(part.split(";")[0].strip() == VC_JWT for part in accept.split(","))


@router.get("")
def index(runtime: Annotated[Runtime, Depends(get_runtime)]) -> dict[str, Any]:
    """What this participant publishes, with links to each form."""
    base = runtime.settings.base_url + "/self-descriptions"
    entries = []
    for sd_id in runtime.sd_folder.ids():
        doc = runtime.sd_folder.read_json(sd_id)
        entries.append(
            {
                "id": sd_id,
                "credentialId": doc.get("id"),
                "type": types_of(doc),
                "url": f"{base}/{sd_id}",
                "formats": [LD_JSON, VC_JWT] if sd_id != STATUS_LIST_ID else [LD_JSON],
            }
        )
    return {
        "issuer": runtime.did,
        "didDocument": runtime.settings.base_url + "/.well-known/did.json",
        "presentation": f"{base}/presentation",
        "statusList": f"{base}/{STATUS_LIST_ID}",
        "selfDescriptions": entries,
    }


@router.get("/presentation")
def presentation(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    audience: Annotated[
        str | None, Query(max_length=512, description="Verifier's DID or URL (aud)")
    ] = None,
    nonce: Annotated[str | None, Query(max_length=MAX_NONCE)] = None,
) -> Response:
    """A fresh ``vp+jwt`` (5 minutes) enveloping every self-description as ``vc+jwt``."""
    tokens = [
        runtime.sd_folder.read_jwt(sd_id)
        for sd_id in runtime.sd_folder.ids()
        if sd_id != STATUS_LIST_ID
    ]
    if not tokens:
        raise Invalid("no self-descriptions published", reason="nothing_published")
    token = jose.issue_vp_jwt(
        tokens,
        key=runtime.keyset.p256,
        method_id=runtime.keyset.method_id("p256"),
        audience=audience or runtime.settings.base_url,
        issued_at=runtime.clock.now(),
        nonce=nonce,
    )
    return Response(token, media_type=VP_JWT, headers={"Cache-Control": "no-store"})


_TERMS_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,100}\.(md|txt|pdf|html)$")
_TERMS_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


@router.get("/terms/{name}")
def terms_document(name: str, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    """A terms document the credentials reference with its SHA-256 (byte for byte)."""
    directory = (runtime.settings.participant_config_path.parent / "terms").resolve()
    path = (directory / name).resolve()
    if not _TERMS_NAME.fullmatch(name) or path.parent != directory or not path.is_file():
        raise NotFound(f"no terms document {name!r}", reason="unknown_document")
    return Response(path.read_bytes(), media_type=_TERMS_TYPES[name.rsplit(".", 1)[1]])


@router.get("/{sd_id}")
def self_description(
    sd_id: str,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """One credential: JSON-LD with its Data Integrity proof, or ``vc+jwt`` on request."""
    if _wants_jwt(accept) and sd_id != STATUS_LIST_ID:
        return Response(runtime.sd_folder.read_jwt(sd_id), media_type=VC_JWT)
    return JSONResponse(runtime.sd_folder.read_json(sd_id), media_type=LD_JSON)
