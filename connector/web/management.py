"""The management API of the control plane (``/api/management``, header ``X-Api-Key``).

Datasets, policies, catalogue (ours as a participant sees it; a counterparty's on request),
negotiations, agreements and transfers. Process ids are always this side's own pid. Errors are
problem details: 400 invalid input, 401, 404 unknown, 409 an action not allowed in the current
state or role; where a request is forwarded to a counterparty (the catalogue request), 502 when
it refused (4xx) and 503 when it is unreachable or failed (5xx). A process whose first message
has not been acknowledged yet is ``INITIAL``; list filters (``state``, ``role``) take any case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from connector.clock import utc_isoformat
from connector.controlplane.ports import Caller
from connector.dsp import catalog as wc
from connector.dsp import policy as wp
from connector.dsp import transfer as wt
from connector.dsp.codec import invalid_from, serialize
from connector.dsp.conversion import data_address_from_wire, offer_from_wire
from connector.dsp.errors import counterparty_error
from connector.errors import Invalid, NotFound
from connector.model import Role
from connector.model.contract import Agreement, Offer
from connector.model.dataset import PULL, PUSH, Dataset, Mode
from connector.model.negotiation import Negotiation, NegotiationState
from connector.model.source import SOURCE_SCHEMA
from connector.model.transfer import Transfer, TransferState
from connector.stores.controlplane_store import agreement_details
from connector.stores.records import dataset_json
from connector.web.controlplane import ControlPlane
from connector.web.dsp import page_links
from connector.web.problems import problem_responses
from connector.web.runtime import Runtime, get_runtime
from connector.web.security import require_management_key

router = APIRouter(
    prefix="/api/management",
    tags=["management"],
    dependencies=[Depends(require_management_key)],
    responses=problem_responses(
        {
            400: "Invalid input: a malformed body, field or parameter",
            401: "Missing or wrong `X-Api-Key` (the management key)",
            404: "Unknown resource (or the control plane is not enabled)",
        }
    ),
)
CONFLICT = problem_responses({409: "Not allowed in the current state or role, or a duplicate"})

INITIAL = "INITIAL"
NEGOTIATION_ACTIONS = ("offer", "agree", "accept", "request", "terminate")
TRANSFER_ACTIONS = ("start", "suspend", "complete", "terminate")

# request bodies as the OpenAPI document shows them ----------------------------------------------
# The bodies are parsed by hand below (precise 400 answers, ODRL JSON-LD as sent): these schemas
# and examples only document them (``Body(json_schema_extra=…)`` goes into /openapi.json, it does
# not validate), and an action (``{action}``) not listed still gets the 404 it gets.

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
HAGEN_DSP = "https://daten.hagen.de/api/dsp"
HAGEN_DID = "did:web:daten.hagen.de"
COUNTERPARTY: dict[str, Any] = {
    "counterPartyAddress": {
        **_TEXT,
        "format": "uri",
        "description": "the counterparty's DSP base URL (its `/.well-known/dspace-version` says)",
    },
    "counterPartyId": {**_TEXT, "description": "the counterparty's DID (`did:web:…`)"},
}
_RULES: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"type": "object"}}
ODRL_POLICY: dict[str, Any] = {
    "type": "object",
    "description": "An ODRL 2.2 policy in JSON-LD (`@type` Set, `uid`, rules), or a document "
    "whose `@graph` holds it; it needs a `permission` or a `prohibition` the engine can enforce",
    "properties": {
        "@context": {"description": "e.g. `http://www.w3.org/ns/odrl.jsonld`"},
        "@type": {"type": "string", "examples": ["Set"]},
        "uid": {"type": "string", "description": "the policy's IRI (its id when none is given)"},
        "permission": _RULES,
        "prohibition": _RULES,
        "obligation": _RULES,
        "@graph": {"type": "array", "items": {"type": "object"}},
    },
}
POLICY_REFERENCE: dict[str, Any] = {
    "oneOf": [ODRL_POLICY, {**_TEXT, "description": "the id of a stored policy"}]
}
OFFER: dict[str, Any] = {
    "type": "object",
    "description": "An ODRL offer: as the counterparty's catalogue lists it under `hasPolicy` "
    "(`@id` and rules unchanged), with `target` = the dataset's `@id` (`@context` is ignored)",
    "required": ["@id", "target"],
    "anyOf": [{"required": ["permission"]}, {"required": ["prohibition"]}],
    "properties": {
        "@id": {**_TEXT, "description": "the offer's id (`hasPolicy` `@id`)"},
        "@type": {"const": "Offer", "default": "Offer"},
        "target": {**_TEXT, "description": "the dataset's `@id`"},
        "permission": _RULES,
        "prohibition": _RULES,
        "obligation": _RULES,
    },
}
_REASON: dict[str, Any] = {
    "type": "string",
    "description": "why (sent to the counterparty; a termination shows it under `termination`)",
}
PURPOSE_POLICY = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://w3id.org/klimakommune/policies/hagen/purpose-heat-planning",
    "assigner": HAGEN_DID,
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "purpose",
                    "operator": "eq",
                    "rightOperand": {"@id": "https://w3id.org/klimakommune/policy#Waermeplanung"},
                }
            ],
        }
    ],
}
EXAMPLE_OFFER = {
    "@id": "urn:uuid:5c0f9a52-2b8e-5d5c-9f0e-6f3a1d2b7c41",
    "@type": "Offer",
    "target": "https://w3id.org/klimakommune/hagen/datasets/luftqualitaet-boele-eckesey",
    "permission": [{"action": "use", "duty": [{"action": "attribute"}]}],
}

DATASET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A dataset of our catalogue with its contract policy; unknown properties "
    "are refused",
    "required": ["title", "source", "policy"],
    "additionalProperties": False,
    "properties": {
        "id": {**_TEXT, "description": "the dataset's IRI (default: a new `urn:uuid:`)"},
        "title": {**_TEXT, "description": "`dct:title` in the catalogue"},
        "description": {**_TEXT, "description": "`dct:description` in the catalogue"},
        "source": {
            **{k: v for k, v in SOURCE_SCHEMA.items() if k != "$schema"},
            "description": "where the data comes from: a file, a SQL query (run read-only) or "
            "an HTTP upstream (files and SQLite databases must lie in `CONNECTOR_SOURCE_DIRS`)",
        },
        "policy": {
            **POLICY_REFERENCE,
            "description": "the contract policy: an ODRL policy (stored on the way) or the id "
            "of a stored policy (`GET /policies`)",
        },
        "accessPolicy": {
            "oneOf": [*POLICY_REFERENCE["oneOf"], {"type": "null"}],
            "description": "who sees the dataset in the catalogue (same forms; none: everyone)",
        },
        "negotiation": {
            "enum": [m.value for m in Mode],
            "default": Mode.AUTO.value,
            "description": "`auto`: the connector decides by the policy; `manual`: an operator "
            "agrees (`POST /negotiations/{pid}/agree`)",
        },
        "transfer": {
            "enum": [m.value for m in Mode],
            "default": Mode.AUTO.value,
            "description": "`auto`: a requested transfer starts at once; `manual`: an operator "
            "starts it (`POST /transfers/{pid}/start`)",
        },
        "formats": {
            "type": "array",
            "minItems": 1,
            "items": _TEXT,
            "default": [PULL, PUSH],
            "description": "the transfer formats offered",
        },
        "properties": {
            "type": "object",
            "description": "more catalogue properties (not `@…` keys nor those the connector "
            "writes); `delivery` says how the data plane may narrow and shape the data",
        },
    },
}
DATASET_EXAMPLES = {
    "by policy id": Example(
        summary="Air quality from a SQL source, under a stored policy",
        value={
            "id": "https://w3id.org/klimakommune/hagen/datasets/luftqualitaet-boele-eckesey",
            "title": "Luftqualität Pilotstrecke Boele–Eckesey",
            "description": "CO2, NO2, PM10, Temperatur und Luftfeuchte alle 10 Minuten",
            "source": {
                "type": "sql",
                "url": "sqlite:///demo/hagen.db",
                "query": "SELECT * FROM luftqualitaet ORDER BY timestamp, station_id",
            },
            "policy": "open-data-dl-de-by-2-0",
            "negotiation": "auto",
            "transfer": "auto",
        },
    ),
    "inline policy": Example(
        summary="Heat demand from a file, with its own policy, agreed by an operator",
        value={
            "id": "https://w3id.org/klimakommune/hagen/datasets/waermebedarf-quartiere",
            "title": "Wärmebedarf je Quartier",
            "source": {"type": "file", "path": "demo/waermebedarf.csv", "mediaType": "text/csv"},
            "policy": PURPOSE_POLICY,
            "accessPolicy": "partner-only",
            "negotiation": "manual",
            "transfer": "auto",
            "formats": [PULL],
        },
    ),
}
POLICY_SCHEMA: dict[str, Any] = {
    "description": "`{id?, policy}`, or the ODRL policy itself (its `uid` is its id); the same "
    "id with other content is a new version",
    "anyOf": [
        {
            "title": "Policy with an id",
            "type": "object",
            "required": ["policy"],
            "properties": {
                "id": {
                    "type": "string",
                    "description": "the policy's id (default: its `uid`, else new)",
                },
                "policy": ODRL_POLICY,
            },
        },
        {**ODRL_POLICY, "title": "ODRL policy"},
    ],
}
POLICY_EXAMPLES = {
    "with id": Example(
        summary="A purpose-bound policy under a short id",
        value={"id": "purpose-heat-planning", "policy": PURPOSE_POLICY},
    ),
    "ODRL document": Example(summary="The ODRL policy itself", value=PURPOSE_POLICY),
}
CATALOG_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Ask a counterparty for its catalogue (other properties are ignored)",
    "required": ["counterPartyAddress", "counterPartyId"],
    "properties": {
        **COUNTERPARTY,
        "filter": {
            "type": "array",
            "description": "the `filter` of the DSP CatalogRequestMessage, sent as is",
        },
    },
}
CATALOG_REQUEST_EXAMPLES = {
    "Hagen": Example(
        summary="The catalogue of the city of Hagen",
        value={"counterPartyAddress": HAGEN_DSP, "counterPartyId": HAGEN_DID},
    )
}
NEGOTIATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Start a negotiation as consumer (other properties are ignored)",
    "required": ["counterPartyAddress", "counterPartyId", "offer"],
    "properties": {**COUNTERPARTY, "offer": OFFER},
}
NEGOTIATION_EXAMPLES = {
    "offer": Example(
        summary="An offer of Hagen's catalogue",
        value={
            "counterPartyAddress": HAGEN_DSP,
            "counterPartyId": HAGEN_DID,
            "offer": EXAMPLE_OFFER,
        },
    )
}
NEGOTIATION_ACTION_SCHEMA: dict[str, Any] = {
    "description": "`offer` (provider) and `request` (consumer): `{offer}`, a counter-offer for "
    "the same dataset; `terminate` (either): `{reason?}`; `agree` (provider) and `accept` "
    "(consumer): no body",
    "anyOf": [
        {
            "title": "offer, request",
            "type": "object",
            "required": ["offer"],
            "properties": {"offer": OFFER},
        },
        {"title": "terminate", "type": "object", "properties": {"reason": _REASON}},
        {"title": "agree, accept (no body)", "type": "null"},
    ],
}
NEGOTIATION_ACTION_EXAMPLES = {
    "offer": Example(summary="offer or request: a counter-offer", value={"offer": EXAMPLE_OFFER}),
    "terminate": Example(
        summary="terminate, with a reason",
        value={"reason": "Der Zweck ist durch die Richtlinie nicht gedeckt"},
    ),
}
TRANSFER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Request a transfer as consumer under an agreement (other properties are "
    "ignored)",
    "required": ["counterPartyAddress", "counterPartyId", "agreementId", "format"],
    "properties": {
        **COUNTERPARTY,
        "agreementId": {**_TEXT, "description": "the agreement's `@id` (`GET /agreements`)"},
        "format": {
            **_TEXT,
            "examples": [PULL, PUSH],
            "description": "one of the dataset's formats (`HttpData-PULL`: we fetch the data; "
            "`HttpData-PUSH`: the provider sends it to `dataDestination`)",
        },
        "dataDestination": {
            "type": "object",
            "description": "where a push delivers the data (a DSP DataAddress; `@type` added)",
            "required": ["endpointType"],
            "properties": {
                "endpointType": {**_TEXT, "examples": ["https://w3id.org/idsa/v4.1/HTTP"]},
                "endpoint": {"type": "string", "format": "uri"},
                "endpointProperties": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "value"],
                        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                    },
                },
            },
        },
    },
}
TRANSFER_EXAMPLES = {
    "pull": Example(
        summary="Pull the data of an agreement",
        value={
            "counterPartyAddress": HAGEN_DSP,
            "counterPartyId": HAGEN_DID,
            "agreementId": "urn:uuid:0b6c3e2f-8a4d-4f0e-9a57-3c2d1e4f5a6b",
            "format": PULL,
        },
    )
}
TRANSFER_ACTION_SCHEMA: dict[str, Any] = {
    "description": "`suspend` and `terminate`: `{reason?}`; `start` and `complete`: no body",
    "anyOf": [
        {"title": "suspend, terminate", "type": "object", "properties": {"reason": _REASON}},
        {"title": "start, complete (no body)", "type": "null"},
    ],
}
TRANSFER_ACTION_EXAMPLES = {
    "suspend": Example(
        summary="suspend or terminate, with a reason",
        value={"reason": "Wartung des Datenbestands bis Montag"},
    )
}


def _documented(schema: dict[str, Any], examples: dict[str, Example]) -> Any:
    """A JSON body (read as a dict, checked by the route) documented by ``schema``."""
    return Body(json_schema_extra=schema, openapi_examples=examples)


DatasetBody = Annotated[dict[str, Any], _documented(DATASET_SCHEMA, DATASET_EXAMPLES)]
PolicyBody = Annotated[dict[str, Any], _documented(POLICY_SCHEMA, POLICY_EXAMPLES)]
CatalogRequestBody = Annotated[
    dict[str, Any], _documented(CATALOG_REQUEST_SCHEMA, CATALOG_REQUEST_EXAMPLES)
]
NegotiationBody = Annotated[dict[str, Any], _documented(NEGOTIATION_SCHEMA, NEGOTIATION_EXAMPLES)]
NegotiationActionBody = Annotated[
    dict[str, Any] | None,
    _documented(NEGOTIATION_ACTION_SCHEMA, NEGOTIATION_ACTION_EXAMPLES),
]
TransferBody = Annotated[dict[str, Any], _documented(TRANSFER_SCHEMA, TRANSFER_EXAMPLES)]
TransferActionBody = Annotated[
    dict[str, Any] | None, _documented(TRANSFER_ACTION_SCHEMA, TRANSFER_ACTION_EXAMPLES)
]
NegotiationAction = Annotated[
    str,
    Path(
        description="the operator's action", json_schema_extra={"enum": list(NEGOTIATION_ACTIONS)}
    ),
]
TransferAction = Annotated[
    str,
    Path(description="the operator's action", json_schema_extra={"enum": list(TRANSFER_ACTIONS)}),
]


def _plane(runtime: Runtime) -> ControlPlane:
    if runtime.controlplane is None:
        raise NotFound("the control plane is not enabled", reason="not_enabled")
    return runtime.controlplane


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _state(process: Negotiation | Transfer) -> str:
    return INITIAL if process.state is None else process.state.value


NEGOTIATION_STATES = (INITIAL, *(s.value for s in NegotiationState))
TRANSFER_STATES = (INITIAL, *(s.value for s in TransferState))
ROLES = tuple(r.value for r in Role)


def _one_of(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    """A list filter's ``value`` as stored (upper case; any case accepted), ``None`` for no
    filter; 400 when it is not one of ``allowed`` (it would match nothing)."""
    if value is None:
        return None
    upper = value.upper()
    if upper not in allowed:
        raise Invalid(
            f"{name} must be one of {', '.join(allowed)} (in any case), not {value[:40]!r}",
            reason="invalid_field",
            field=name,
        )
    return upper


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise Invalid(f"{key} is required", reason="missing_field", field=key)
    return value


def _offer(value: Any) -> Offer:
    if not isinstance(value, Mapping):
        raise Invalid("offer must be an object", reason="missing_field", field="offer")
    content = {k: v for k, v in value.items() if k != "@context"}
    content.setdefault("@type", "Offer")
    try:
        wire = wp.Offer.model_validate(content, context={"wire": True})
    except ValidationError as exc:
        raise invalid_from(exc, "offer") from None
    if wire.target is None:
        raise Invalid("offer.target is required", reason="missing_field", field="offer.target")
    return offer_from_wire(wire)


def _termination(process: Negotiation | Transfer) -> dict[str, Any]:
    """``{"termination": {by, code, reason}}`` once the process is TERMINATED: who terminated
    it and why (this side's explanation, or the code and reasons received, as received)."""
    why = process.termination
    if process.state is None or process.state.value != "TERMINATED" or why is None:
        return {}
    return {"termination": {"by": why.sender.value, "code": why.code, "reason": list(why.reasons)}}


def _undelivered(process: Negotiation | Transfer) -> dict[str, Any]:
    """``{"undelivered": {message, at, status, code, reason}}`` when a message of ours was
    given up (refused by the counterparty, blocked here, or out of attempts)."""
    why = process.undelivered
    if why is None:
        return {}
    return {
        "undelivered": {
            "message": why.message,
            "at": utc_isoformat(why.at),
            "status": why.status,
            "code": why.code,
            "reason": why.reason,
        }
    }


P = TypeVar("P", Negotiation, Transfer)


async def _one(
    plane: ControlPlane,
    kind: str,
    pid: str,
    read: Callable[[str], P | None],
    view: Callable[[P], dict[str, Any]],
) -> dict[str, Any]:
    """The view of process ``pid`` with how its pending message's delivery goes, read in one
    worker hop; 404 when there is no such process."""

    def work() -> dict[str, Any]:
        found = read(pid)
        if found is None:
            raise NotFound(f"{kind} {pid} not found", reason="unknown_process")
        return {**view(found), **_delivery(plane, kind, found)}

    return await plane.workers.run(work)


def _delivery(plane: ControlPlane, kind: str, process: Negotiation | Transfer) -> dict[str, Any]:
    """``{"pending": {message, attempts, lastError, nextAttemptAt}}`` while a message of ours
    waits for its acknowledgement (how its delivery goes: e.g. a counterparty that does not
    answer), read only for a process that has one (call it off the event loop)."""
    if process.pending is None:
        return {}
    found = plane.queries.delivery(kind, process.id)
    return {} if found is None else {"pending": found}


def negotiation_view(n: Negotiation) -> dict[str, Any]:
    """The management representation of a negotiation."""
    return {
        "id": n.id,
        "role": n.role.value,
        "state": _state(n),
        "consumerPid": n.consumer_pid,
        "providerPid": n.provider_pid,
        "counterPartyId": n.counterparty_id,
        "counterPartyAddress": n.counterparty_address,
        "datasetId": n.dataset_id,
        "offerId": None if n.offer is None else n.offer.id,
        "agreementId": None if n.agreement is None else n.agreement.id,
        "contractCheck": None
        if n.check is None
        else {"permitted": n.check.permitted, "explanation": n.check.explanation},
        "history": [
            {
                "at": utc_isoformat(s.at),
                "message": s.event.value,
                "sender": s.sender.value,
                "from": None if s.before is None else s.before.value,
                "to": s.after.value,
            }
            for s in n.history
        ],
        **_termination(n),
        **_undelivered(n),
    }


def transfer_view(t: Transfer) -> dict[str, Any]:
    """The management representation of a transfer."""
    view: dict[str, Any] = {
        "id": t.id,
        "role": t.role.value,
        "state": _state(t),
        "consumerPid": t.consumer_pid,
        "providerPid": t.provider_pid,
        "counterPartyId": t.counterparty_id,
        "agreementId": t.agreement_id,
        "format": t.format,
        **_termination(t),
        **_undelivered(t),
    }
    if t.data_address is not None:
        view["dataAddress"] = {
            "endpointType": t.data_address.endpoint_type,
            "endpoint": t.data_address.endpoint,
            "endpointProperties": [
                {"name": k, "value": v} for k, v in t.data_address.properties.items()
            ],
        }
    return view


def agreement_view(agreement: Agreement, negotiation_id: str) -> dict[str, Any]:
    """The management representation of an agreement."""
    hashed = agreement_details(agreement)
    return {
        "id": agreement.id,
        "datasetId": agreement.target,
        "assigner": agreement.assigner,
        "assignee": agreement.assignee,
        "timestamp": utc_isoformat(agreement.timestamp),
        "policy": dict(agreement.policy),
        "policyId": agreement.policy_id,
        # the provider's policy version hash, or (consumer side, an operator's own terms) the
        # digest of the agreed rules: ``policyHashOf`` says which, as the audit trail does
        "policyHash": hashed["policy_hash"],
        "policyHashOf": hashed["policy_hash_of"],
        "offerId": agreement.offer_id,
        "negotiationId": negotiation_id,
    }


def dataset_view(d: Dataset) -> dict[str, Any]:
    """The management representation of a dataset."""
    doc = dataset_json(d)
    return {
        "id": d.id,
        "title": d.title,
        "description": d.description,
        "source": doc["source"],
        "offers": [
            {"@id": o.id, "policyId": o.policy_id, "policyHash": o.policy_hash} for o in d.offers
        ],
        "policy": d.offers[0].policy_id,
        "accessPolicy": doc["accessPolicy"],
        "formats": list(d.formats),
        "negotiation": d.negotiation.value,
        "transfer": d.transfer.value,
    }


# datasets and policies --------------------------------------------------------------------------


@router.post("/datasets", status_code=201, responses=CONFLICT)
def create_dataset(runtime: RuntimeDep, body: DatasetBody) -> dict[str, Any]:
    """Add a dataset with its contract policy (and optional access policy)."""
    dataset = _plane(runtime).listings.create_dataset(body)
    return {"id": dataset.id}


@router.get("/datasets")
def list_datasets(
    runtime: RuntimeDep, after: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Datasets in id order (``after`` = the last id of the previous page)."""
    return [dataset_view(d) for d in _plane(runtime).catalog_store.datasets_after(after, limit)]


@router.get("/datasets/{dataset_id:path}")
def get_dataset(runtime: RuntimeDep, dataset_id: str) -> dict[str, Any]:
    """One dataset."""
    dataset = _plane(runtime).catalog_store.dataset(dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} not found", reason="unknown_dataset")
    return dataset_view(dataset)


@router.delete("/datasets/{dataset_id:path}", status_code=204)
def delete_dataset(runtime: RuntimeDep, dataset_id: str) -> Response:
    """Remove a dataset from the catalogue (agreements made on it stay)."""
    if not _plane(runtime).catalog_store.delete_dataset(dataset_id):
        raise NotFound(f"dataset {dataset_id} not found", reason="unknown_dataset")
    return Response(status_code=204)


@router.post("/policies", status_code=201)
def create_policy(runtime: RuntimeDep, body: PolicyBody) -> dict[str, Any]:
    """Store a policy: ``{id?, policy}`` or the ODRL document itself; a change is a new version."""
    if "policy" in body and isinstance(body["policy"], Mapping):
        policy_id = body.get("id")
        if policy_id is not None and not isinstance(policy_id, str):
            raise Invalid("id must be a string", reason="invalid_field", field="id")
        version = _plane(runtime).listings.register_policy(body["policy"], policy_id)
    else:
        version = _plane(runtime).listings.register_policy(body)
    return {"id": version.id, "version": version.version, "hash": version.hash}


@router.get("/policies")
def list_policies(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The newest version of every policy."""
    return [
        {"id": v.id, "version": v.version, "hash": v.hash, "uid": v.uid}
        for v in _plane(runtime).catalog_store.policies()
    ]


@router.get("/policies/{policy_id:path}")
def get_policy(runtime: RuntimeDep, policy_id: str, version: int | None = None) -> dict[str, Any]:
    """A policy version (the newest unless ``version`` is given)."""
    found = _plane(runtime).catalog_store.policy(policy_id, version)
    if found is None:
        raise NotFound(f"policy {policy_id} not found", reason="unknown_policy")
    return {
        "id": found.id,
        "version": found.version,
        "hash": found.hash,
        "uid": found.uid,
        "policy": dict(found.body),
    }


# catalogue --------------------------------------------------------------------------------------


@router.get("/catalog")
def own_catalog(
    runtime: RuntimeDep,
    as_: Annotated[str | None, Query(alias="as")] = None,
    after: str | None = None,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """Our catalogue as participant ``as`` would see it (default: ourselves)."""
    caller = Caller(did=as_ or runtime.did)
    page = _plane(runtime).catalogue.page(
        lambda: runtime.participant_facts.facts(caller), after=after, before=before, limit=limit
    )
    headers = page_links("/api/management/catalog", page, limit)
    return JSONResponse(serialize(page.catalog), headers=headers)


@router.post(
    "/catalog/request",
    responses=problem_responses(
        {
            502: "The counterparty refused (it answered 4xx): its status, `code` and `reason` "
            "are in the detail and in `counterparty`",
            503: "The counterparty is unreachable, timed out or answered 5xx",
        }
    ),
)
def request_catalog(runtime: RuntimeDep, body: CatalogRequestBody) -> JSONResponse:
    """A counterparty's DSP catalogue, as received (``filter``: an array, sent as is)."""
    address = _text(body, "counterPartyAddress").rstrip("/")
    party = _text(body, "counterPartyId")
    found = body.get("filter")
    if found is not None and not isinstance(found, list):
        raise Invalid(
            "filter must be an array (DSP CatalogRequestMessage)",
            reason="invalid_field",
            field="filter",
        )
    try:
        message = wc.CatalogRequestMessage(filter=found)
    except ValidationError as exc:
        raise invalid_from(exc, "catalog request") from None
    plane = _plane(runtime)
    headers = {"authorization": runtime.token_source.token_for(party)}
    result = plane.http.post_json(f"{address}/catalog/request", serialize(message), headers=headers)
    if not 200 <= result.status < 300:
        raise counterparty_error(result.status, result.body)
    out = {}
    if "link" in result.headers:
        out["link"] = result.headers["link"]
    return JSONResponse(result.body, headers=out)


# negotiations -----------------------------------------------------------------------------------


@router.post("/negotiations", status_code=201)
async def start_negotiation(runtime: RuntimeDep, body: NegotiationBody) -> dict[str, Any]:
    """Start a negotiation as consumer for an offer of the counterparty's catalogue."""
    plane = _plane(runtime)

    def start() -> dict[str, Any]:
        n = plane.negotiations.start(
            counterparty_address=_text(body, "counterPartyAddress"),
            counterparty_id=_text(body, "counterPartyId"),
            offer=_offer(body.get("offer")),
        )
        return {"id": n.id, "state": _state(n)}

    return await plane.workers.run(start)


@router.get("/negotiations")
def list_negotiations(
    runtime: RuntimeDep,
    *,
    state: Annotated[
        str | None, Query(description="any case: " + ", ".join(NEGOTIATION_STATES))
    ] = None,
    role: Annotated[str | None, Query(description="any case: " + ", ".join(ROLES))] = None,
    counter_party_id: Annotated[str | None, Query(alias="counterPartyId")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Negotiations, newest first."""
    found = _plane(runtime).queries.negotiations(
        state=_one_of(state, NEGOTIATION_STATES, "state"),
        role=_one_of(role, ROLES, "role"),
        counterparty_id=counter_party_id,
        limit=limit,
        offset=offset,
    )
    return [negotiation_view(n) for n in found]


@router.get("/negotiations/{pid}")
async def get_negotiation(runtime: RuntimeDep, pid: str) -> dict[str, Any]:
    """One negotiation (``pid`` = this side's pid)."""
    plane = _plane(runtime)
    return await _one(plane, "negotiation", pid, plane.queries.negotiation, negotiation_view)


@router.post("/negotiations/{pid}/{action}", responses=CONFLICT)
def negotiation_action(
    runtime: RuntimeDep, pid: str, action: NegotiationAction, body: NegotiationActionBody = None
) -> dict[str, Any]:
    """``offer`` {offer}, ``agree``, ``accept``, ``request`` {offer}, ``terminate`` {reason?}."""
    if action not in NEGOTIATION_ACTIONS:
        raise NotFound(f"unknown action {action}", reason="unknown_action")
    body = body or {}
    offer = _offer(body.get("offer")) if action in {"offer", "request"} else None
    reason = body.get("reason")
    n = _plane(runtime).negotiations.act(
        pid, action, offer=offer, reason=reason if isinstance(reason, str) else None
    )
    return {"state": _state(n)}


# agreements -------------------------------------------------------------------------------------


@router.get("/agreements")
def list_agreements(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Agreements (of finalized negotiations), newest first."""
    return [
        agreement_view(a, n)
        for a, n in _plane(runtime).queries.agreements(limit=limit, offset=offset)
    ]


@router.get("/agreements/{agreement_id}")
def get_agreement(runtime: RuntimeDep, agreement_id: str) -> dict[str, Any]:
    """One agreement."""
    found = _plane(runtime).queries.agreement(agreement_id)
    if found is None:
        raise NotFound(f"agreement {agreement_id} not found", reason="unknown_agreement")
    return agreement_view(*found)


# transfers --------------------------------------------------------------------------------------


@router.post("/transfers", status_code=201)
async def request_transfer(runtime: RuntimeDep, body: TransferBody) -> dict[str, Any]:
    """Request a transfer as consumer under an agreement."""
    plane = _plane(runtime)
    return await plane.workers.run(lambda: _request_transfer(plane, body))


def _request_transfer(plane: ControlPlane, body: Mapping[str, Any]) -> dict[str, Any]:
    destination = None
    raw = body.get("dataDestination")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise Invalid("dataDestination must be an object", reason="invalid_field")
        try:
            wire = wt.DataAddress.model_validate({"@type": "DataAddress", **raw})
        except ValidationError as exc:
            raise invalid_from(exc, "dataDestination") from None
        destination = data_address_from_wire(wire)
    t = plane.transfers.request(
        counterparty_address=_text(body, "counterPartyAddress"),
        counterparty_id=_text(body, "counterPartyId"),
        agreement_id=_text(body, "agreementId"),
        format=_text(body, "format"),
        destination=destination,
    )
    return {"id": t.id, "state": _state(t)}


@router.get("/transfers")
def list_transfers(
    runtime: RuntimeDep,
    *,
    state: Annotated[
        str | None, Query(description="any case: " + ", ".join(TRANSFER_STATES))
    ] = None,
    role: Annotated[str | None, Query(description="any case: " + ", ".join(ROLES))] = None,
    counter_party_id: Annotated[str | None, Query(alias="counterPartyId")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Transfers, newest first."""
    found = _plane(runtime).queries.transfers(
        state=_one_of(state, TRANSFER_STATES, "state"),
        role=_one_of(role, ROLES, "role"),
        counterparty_id=counter_party_id,
        limit=limit,
        offset=offset,
    )
    return [transfer_view(t) for t in found]


@router.get("/transfers/{pid}")
async def get_transfer(runtime: RuntimeDep, pid: str) -> dict[str, Any]:
    """One transfer (``pid`` = this side's pid)."""
    plane = _plane(runtime)
    return await _one(plane, "transfer", pid, plane.queries.transfer, transfer_view)


@router.post("/transfers/{pid}/{action}", responses=CONFLICT)
def transfer_action(
    runtime: RuntimeDep, pid: str, action: TransferAction, body: TransferActionBody = None
) -> dict[str, Any]:
    """``start``, ``suspend``, ``complete`` or ``terminate`` {reason?}."""
    if action not in TRANSFER_ACTIONS:
        raise NotFound(f"unknown action {action}", reason="unknown_action")
    reason = (body or {}).get("reason")
    t = _plane(runtime).transfers.act(
        pid,
        action,
        reason=reason if isinstance(reason, str) else None,
        facts=lambda did: runtime.participant_facts.facts(Caller(did=did)),
    )
    return {"state": _state(t)}
