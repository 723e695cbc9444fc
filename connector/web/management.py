"""The management API of the control plane (``/api/management``, header ``X-Api-Key``).

Datasets, policies, catalogue (ours as a participant sees it; a counterparty's on request),
negotiations, agreements and transfers. Process ids are always this side's own pid. Errors are
problem details: 400 invalid input, 401, 404 unknown, 409 an action not allowed in the current
state or role. A process whose first message has not been acknowledged yet is ``INITIAL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from connector.clock import utc_isoformat
from connector.controlplane.ports import Caller
from connector.dsp import catalog as wc
from connector.dsp import policy as wp
from connector.dsp import transfer as wt
from connector.dsp.codec import invalid_from, serialize
from connector.dsp.conversion import data_address_from_wire, offer_from_wire
from connector.errors import Invalid, NotFound, Unavailable
from connector.model.contract import Agreement, Offer
from connector.model.dataset import Dataset
from connector.model.negotiation import Negotiation
from connector.model.transfer import Transfer
from connector.stores.records import dataset_json
from connector.web.controlplane import ControlPlane
from connector.web.dsp import page_links
from connector.web.runtime import Runtime, get_runtime
from connector.web.security import require_management_key

router = APIRouter(
    prefix="/api/management", tags=["management"], dependencies=[Depends(require_management_key)]
)

JsonBody = Annotated[dict[str, Any], Body()]
OptionalBody = Annotated[dict[str, Any] | None, Body()]
INITIAL = "INITIAL"


def _plane(runtime: Runtime) -> ControlPlane:
    if runtime.controlplane is None:
        raise NotFound("the control plane is not enabled", reason="not_enabled")
    return runtime.controlplane


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _state(process: Negotiation | Transfer) -> str:
    return INITIAL if process.state is None else process.state.value


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
    return {
        "id": agreement.id,
        "datasetId": agreement.target,
        "assigner": agreement.assigner,
        "assignee": agreement.assignee,
        "timestamp": utc_isoformat(agreement.timestamp),
        "policy": dict(agreement.policy),
        "policyId": agreement.policy_id,
        "policyHash": agreement.policy_hash,
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


@router.post("/datasets", status_code=201)
def create_dataset(runtime: RuntimeDep, body: JsonBody) -> dict[str, Any]:
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
def create_policy(runtime: RuntimeDep, body: JsonBody) -> dict[str, Any]:
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


@router.post("/catalog/request")
def request_catalog(runtime: RuntimeDep, body: JsonBody) -> JSONResponse:
    """A counterparty's DSP catalogue, as received."""
    address = _text(body, "counterPartyAddress").rstrip("/")
    party = _text(body, "counterPartyId")
    message = wc.CatalogRequestMessage(filter=body.get("filter"))
    plane = _plane(runtime)
    headers = {"authorization": runtime.token_source.token_for(party)}
    result = plane.http.post_json(f"{address}/catalog/request", serialize(message), headers=headers)
    if not 200 <= result.status < 300:
        raise Unavailable(
            f"the counterparty answered {result.status}",
            reason="counterparty_error",
            status=result.status,
        )
    out = {}
    if "link" in result.headers:
        out["link"] = result.headers["link"]
    return JSONResponse(result.body, headers=out)


# negotiations -----------------------------------------------------------------------------------


@router.post("/negotiations", status_code=201)
async def start_negotiation(runtime: RuntimeDep, body: JsonBody) -> dict[str, Any]:
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
    state: str | None = None,
    role: str | None = None,
    counter_party_id: Annotated[str | None, Query(alias="counterPartyId")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Negotiations, newest first."""
    found = _plane(runtime).queries.negotiations(
        state=state,
        role=role.upper() if role else None,
        counterparty_id=counter_party_id,
        limit=limit,
        offset=offset,
    )
    return [negotiation_view(n) for n in found]


@router.get("/negotiations/{pid}")
async def get_negotiation(runtime: RuntimeDep, pid: str) -> dict[str, Any]:
    """One negotiation (``pid`` = this side's pid)."""
    plane = _plane(runtime)
    n = await plane.workers.run(lambda: plane.queries.negotiation(pid))
    if n is None:
        raise NotFound(f"negotiation {pid} not found", reason="unknown_process")
    return negotiation_view(n)


@router.post("/negotiations/{pid}/{action}")
def negotiation_action(
    runtime: RuntimeDep, pid: str, action: str, body: OptionalBody = None
) -> dict[str, Any]:
    """``offer`` {offer}, ``agree``, ``accept``, ``request`` {offer}, ``terminate`` {reason?}."""
    if action not in {"offer", "agree", "accept", "request", "terminate"}:
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
async def request_transfer(runtime: RuntimeDep, body: JsonBody) -> dict[str, Any]:
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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Transfers, newest first."""
    return [transfer_view(t) for t in _plane(runtime).queries.transfers(limit=limit, offset=offset)]


@router.get("/transfers/{pid}")
async def get_transfer(runtime: RuntimeDep, pid: str) -> dict[str, Any]:
    """One transfer (``pid`` = this side's pid)."""
    plane = _plane(runtime)
    t = await plane.workers.run(lambda: plane.queries.transfer(pid))
    if t is None:
        raise NotFound(f"transfer {pid} not found", reason="unknown_process")
    return transfer_view(t)


@router.post("/transfers/{pid}/{action}")
def transfer_action(
    runtime: RuntimeDep, pid: str, action: str, body: OptionalBody = None
) -> dict[str, Any]:
    """``start``, ``suspend``, ``complete`` or ``terminate`` {reason?}."""
    if action not in {"start", "suspend", "complete", "terminate"}:
        raise NotFound(f"unknown action {action}", reason="unknown_action")
    reason = (body or {}).get("reason")
    t = _plane(runtime).transfers.act(
        pid,
        action,
        reason=reason if isinstance(reason, str) else None,
        facts=lambda did: runtime.participant_facts.facts(Caller(did=did)),
    )
    return {"state": _state(t)}
