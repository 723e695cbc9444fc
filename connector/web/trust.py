"""The trust list API: ``/api/management/trust/participants`` (management key).

``GET`` lists trusted DIDs (``source``: ``configuration`` for ``CONNECTOR_TRUSTED_PARTICIPANTS``,
``api`` for entries added here); ``POST {"did": …, "note"?: …}`` adds one; ``DELETE …/{did}``
removes one added here. Every change is an audit event ``trust_list.changed`` with the hashes of
the list before and after.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse

from connector.audit.vocabulary import EventType
from connector.errors import Conflict, Invalid, NotFound, Unavailable
from connector.web.identity import Identity
from connector.web.runtime import Runtime, get_runtime
from connector.web.security import require_management_key

router = APIRouter(
    prefix="/api/management/trust",
    tags=["trust"],
    dependencies=[Depends(require_management_key)],
)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MAX_DID_LENGTH = 2048
MAX_NOTE_LENGTH = 500

# The body is checked by hand (the 400 answers below); this only documents it in /openapi.json.
PARTICIPANT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A participant to trust (other properties are ignored)",
    "required": ["did"],
    "properties": {
        "did": {
            "type": "string",
            "pattern": r"^did:[^\s#]+$",
            "maxLength": MAX_DID_LENGTH,
            "description": "the participant's DID, without fragment",
        },
        "note": {
            "type": "string",
            "maxLength": MAX_NOTE_LENGTH,
            "description": "why it is trusted (shown in the list)",
        },
    },
}
ParticipantBody = Annotated[
    dict[str, Any],
    Body(
        json_schema_extra=PARTICIPANT_SCHEMA,
        openapi_examples={
            "partner": Example(
                summary="A neighbouring city",
                value={"did": "did:web:daten.dortmund.de", "note": "Kooperation Wärmeplanung"},
            )
        },
    ),
]


def _identity(runtime: Runtime) -> Identity:
    if runtime.identity is None:
        raise Unavailable("identity is not configured", reason="not_configured")
    return runtime.identity


def _entries(identity: Identity) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {"did": did, "source": "configuration"} for did in sorted(identity.trust_list.configured)
    ]
    for entry in identity.trust_store.entries():
        if entry.did in identity.trust_list.configured:
            continue
        item: dict[str, Any] = {"did": entry.did, "source": "api", "addedAt": entry.added_at}
        if entry.note:
            item["note"] = entry.note
        entries.append(item)
    return entries


def _digest(identity: Identity) -> str:
    dids = sorted(e["did"] for e in _entries(identity))
    return hashlib.sha256("\n".join(dids).encode()).hexdigest()


def _record(runtime: Runtime, old: str, new: str, did: str, change: str) -> None:
    if runtime.audit is not None:
        runtime.audit.record(
            EventType.TRUST_LIST_CHANGED,
            actor="management",
            participant=did,
            details={"list": "participants", "old_hash": old, "new_hash": new, "change": change},
        )


@router.get("/participants")
def list_participants(runtime: RuntimeDep) -> dict[str, Any]:
    """The trusted participants."""
    return {"participants": _entries(_identity(runtime))}


@router.post("/participants", status_code=201)
def add_participant(runtime: RuntimeDep, body: ParticipantBody) -> JSONResponse:
    """Trust a participant DID (201; 200 if it was trusted already)."""
    identity = _identity(runtime)
    did, note = body.get("did"), body.get("note")
    if not isinstance(did, str) or not did.startswith("did:") or len(did) > MAX_DID_LENGTH:
        raise Invalid("'did' must be a DID", reason="invalid_did")
    if any(c.isspace() for c in did) or "#" in did:
        raise Invalid("'did' must be a DID without fragment", reason="invalid_did")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH):
        raise Invalid("'note' must be a string of at most 500 characters", reason="invalid")
    old = _digest(identity)
    if did in identity.trust_list.configured or not identity.trust_store.add(did, note):
        return JSONResponse({"did": did, "created": False}, status_code=200)
    identity.participant_facts.forget(did)
    _record(runtime, old, _digest(identity), did, "added")
    return JSONResponse({"did": did, "created": True}, status_code=201)


@router.delete("/participants/{did:path}", status_code=204)
def remove_participant(runtime: RuntimeDep, did: str) -> Response:
    """Stop trusting a participant added through this API."""
    identity = _identity(runtime)
    if did in identity.trust_list.configured:
        raise Conflict(
            "configured in CONNECTOR_TRUSTED_PARTICIPANTS; change the configuration",
            reason="configured_participant",
        )
    old = _digest(identity)
    if not identity.trust_store.remove(did):
        raise NotFound(f"{did[:80]} is not on the trust list", reason="not_found")
    identity.participant_facts.forget(did)
    _record(runtime, old, _digest(identity), did, "removed")
    return Response(status_code=204)
