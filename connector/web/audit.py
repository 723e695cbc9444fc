"""The auditor's API (``/api/audit``): read-only, behind ``X-Api-Key`` = the auditor key.

Events with filters, one event with its proof, exports (JSON Lines, CSV; streamed), checkpoints,
the chain's verification, the per-partner access report, the policy versions (hashes, validity)
and the agreements with the policy version each was made under. Nothing here writes: every route
is a ``GET``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from connector.audit.event import format_time
from connector.audit.query import AuditQuery
from connector.audit.vocabulary import EventType, Result
from connector.stores import contract_ledger
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer, own_keys
from connector.web.runtime import Runtime, get_runtime
from connector.web.security import require_auditor_key

router = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Depends(require_auditor_key)])


def get_audit_store(runtime: Annotated[Runtime, Depends(get_runtime)]) -> SqlAuditStore:
    """The runtime's audit store (built by the app factory)."""
    if runtime.audit is None:
        runtime.audit = SqlAuditStore(
            runtime.engine, runtime.clock, checkpoint_signer(runtime.keyset)
        )
    return runtime.audit


Store = Annotated[SqlAuditStore, Depends(get_audit_store)]


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def audit_query(
    *,
    since: Annotated[dt.datetime | None, Query(description="From (inclusive), ISO 8601")] = None,
    until: Annotated[dt.datetime | None, Query(description="Until (exclusive)")] = None,
    participant: Annotated[str | None, Query(description="Partner DID")] = None,
    dataset: Annotated[str | None, Query()] = None,
    agreement: Annotated[str | None, Query()] = None,
    process: Annotated[str | None, Query(description="Negotiation or transfer id")] = None,
    actor: Annotated[str | None, Query()] = None,
    type: Annotated[EventType | None, Query(description="Event type")] = None,
    result: Annotated[Result | None, Query()] = None,
) -> AuditQuery:
    return AuditQuery(
        since=_utc(since),
        until=_utc(until),
        participant=participant,
        dataset=dataset,
        agreement=agreement,
        process=process,
        actor=actor,
        type=type,
        result=result,
    )


Filters = Annotated[AuditQuery, Depends(audit_query)]


@router.get("/events")
def list_events(
    store: Store,
    query: Filters,
    after: Annotated[int, Query(ge=0, description="Only entries after this sequence")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Entries matching the filters, oldest first; page on with ``after = next_after``."""
    items = store.query(query, after=after, limit=limit)
    return {
        "items": [entry.to_record() for entry in items],
        "next_after": items[-1].seq if len(items) == limit else None,
    }


@router.get("/events/{seq}")
def get_event(store: Store, seq: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    """One entry with its proof: its neighbours and the path to the nearest signed checkpoint."""
    proof = store.proof(seq)
    return {"entry": proof.entry.to_record(), "proof": proof.to_dict()}


def _download(lines: Iterator[str], media_type: str, name: str) -> StreamingResponse:
    return StreamingResponse(
        (line.encode("utf-8") for line in lines),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/export.jsonl")
def export_jsonl(
    store: Store,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    from_seq: Annotated[int | None, Query(alias="from", ge=1)] = None,
) -> StreamingResponse:
    """The chain with its checkpoints as JSON Lines (``connector audit verify --export``)."""
    stamp = format_time(runtime.clock.now())[:10]
    return _download(
        store.export_jsonl(from_seq=from_seq), "application/jsonl", f"audit-{stamp}.jsonl"
    )


@router.get("/export.csv")
def export_csv(
    store: Store, runtime: Annotated[Runtime, Depends(get_runtime)], query: Filters
) -> StreamingResponse:
    """The matching entries as CSV (``details`` as JSON)."""
    stamp = format_time(runtime.clock.now())[:10]
    return _download(store.export_csv(query), "text/csv; charset=utf-8", f"audit-{stamp}.csv")


@router.get("/checkpoints")
def list_checkpoints(store: Store) -> dict[str, Any]:
    """Every signed checkpoint, oldest first, and the current head."""
    head = store.head()
    return {
        "head": {"seq": head.seq, "hash": head.hash},
        "items": [cp.to_record() for cp in store.checkpoints()],
    }


@router.get("/verify")
def verify(
    store: Store,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    from_seq: Annotated[int | None, Query(alias="from", ge=1)] = None,
) -> dict[str, Any]:
    """Verify the chain and the checkpoint signatures against this connector's keys."""
    report = store.verify(from_seq=from_seq, trusted_keys=own_keys(runtime.keyset))
    return report.to_dict()


@router.get("/reports/partners")
def partner_report(store: Store, query: Filters) -> dict[str, Any]:
    """Per partner: datasets accessed, counts, bytes, denials, agreements (filters apply)."""
    return {"items": [report.to_dict() for report in store.partner_reports(query)]}


@router.get("/policies")
def list_policy_versions(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    policy: Annotated[str | None, Query(description="Only this policy id")] = None,
) -> dict[str, Any]:
    """Every policy version with its hash and validity (from creation until superseded)."""
    return {"items": contract_ledger.policy_versions(runtime.engine, policy)}


@router.get("/agreements")
def list_agreements(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    participant: Annotated[str | None, Query(description="Assigner or assignee DID")] = None,
    dataset: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query(description="Only agreements with a greater id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Agreements with the policy version (id, version, hash) each was concluded under."""
    items = contract_ledger.agreements(
        runtime.engine, participant=participant, dataset=dataset, after=after, limit=limit
    )
    return {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}
