"""The Dataspace Protocol 2025-1 HTTPS binding: catalogue, negotiation and transfer endpoints.

Mounted under ``settings.dsp_path``; ``/.well-known/dspace-version`` at the root (no
authentication). Every endpoint authenticates the caller through ``runtime.authenticator``,
parses the body with :mod:`connector.dsp.codec` (schema-invalid → 400) and answers errors
with the DSP error bodies of :mod:`connector.dsp.errors`: 400 for a malformed message or an
illegal transition (the transaction is rolled back: state unchanged), 401, 404 for an unknown
process or one of another participant. Creation answers 201 with the process body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from connector import jsontext
from connector.audit.vocabulary import EventType
from connector.controlplane.catalog import MAX_PAGE, CatalogPage
from connector.controlplane.ports import Caller, Facts, OutboxMessage
from connector.controlplane.runner import Runner
from connector.dsp import catalog as wc
from connector.dsp import negotiation as wn
from connector.dsp import transfer as wt
from connector.dsp.base import RootMessage
from connector.dsp.codec import loads, serialize
from connector.dsp.conversion import negotiation_ack, transfer_ack
from connector.dsp.errors import ProcessKind, error_response
from connector.dsp.version import version_response
from connector.errors import ConnectorError, Invalid, NotFound, Unauthorized
from connector.model.transfer import TransferEvent
from connector.stores.transactions import carpool
from connector.web.controlplane import ControlPlane
from connector.web.direct_routes import DirectRoutes
from connector.web.participant_auth import authenticate_participant, refusal
from connector.web.runtime import Runtime

M = TypeVar("M", bound=RootMessage)
T = TypeVar("T")
log = structlog.get_logger("connector.dsp")

_TRANSFER_EVENTS: dict[str, tuple[type[RootMessage], TransferEvent]] = {
    "start": (wt.TransferStartMessage, TransferEvent.START),
    "completion": (wt.TransferCompletionMessage, TransferEvent.COMPLETE),
    "suspension": (wt.TransferSuspensionMessage, TransferEvent.SUSPEND),
    "termination": (wt.TransferTerminationMessage, TransferEvent.TERMINATE),
}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _plane(request: Request) -> ControlPlane:
    plane = _runtime(request).controlplane
    if plane is None:
        raise NotFound("the control plane is not enabled", reason="not_enabled")
    return plane


def _usable_callback(plane: ControlPlane, url: str | None) -> None:
    """Refuse (400 ``invalid_callback``) a ``callbackAddress`` our answers could never reach —
    malformed, not http(s), or a literal address the SSRF guard blocks — instead of taking the
    request and finding out when the first answer is given up. A host name is resolved and
    checked when a message goes out."""
    if url is None:
        return
    try:
        plane.http.guard.precheck(url)
    except ConnectorError as exc:
        raise Invalid(
            f"callbackAddress cannot be used: {exc.detail}", reason="invalid_callback"
        ) from exc


def _facts_source(runtime: Runtime, caller: Caller) -> Callable[[], Facts]:
    memo: list[Facts] = []

    def facts() -> Facts:
        if not memo:
            memo.append(runtime.participant_facts.facts(caller))
        return memo[0]

    return facts


def _json(body: RootMessage, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        jsontext.dumps(serialize(body)),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


async def _handle(
    request: Request,
    kind: ProcessKind,
    work: Callable[[Runtime, Caller, bytes], Response],
    *,
    pid: str | None = None,
) -> Response:
    """Authenticate, read the body, run ``work`` in a thread; map errors to DSP bodies."""
    runtime = _runtime(request)
    caller: Caller | None = None
    try:
        raw = await request.body()
        authorization = request.headers.get("authorization")

        def authenticated() -> Response:
            nonlocal caller
            try:
                # the token's one-use record commits with the work's first transaction
                with carpool():
                    known = caller = authenticate_participant(runtime, authorization, "dsp")
                    return _answered_first(runtime, lambda: work(runtime, known, raw))
            except Unauthorized as exc:
                if exc.reason != "replayed_jti":
                    raise
                caller = None
                raise refusal(runtime, exc, "dsp") from exc

        return await _off_loop(runtime, authenticated)
    except Exception as exc:  # every failure becomes a DSP error body
        if isinstance(exc, ConnectorError):
            log.info("dsp_refused", path=request.url.path, reason=exc.reason, detail=exc.detail)
        else:
            log.exception("dsp_unexpected", path=request.url.path)
        pids = await _off_loop(runtime, lambda: _pid_fields(kind, pid, runtime, caller))
        status, body = error_response(exc, kind, **pids)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)


def _answered_first(runtime: Runtime, work: Callable[[], Response]) -> Response:
    """Run ``work``; the messages its transactions queue leave once its answer has been sent
    (a background task of the response), so they cannot overtake it. Should the answer never
    be sent (the caller went away), they leave when their lease runs out."""
    plane = runtime.controlplane
    if plane is None:
        return work()
    with plane.runner.holding() as held:
        try:
            response = work()
        except BaseException:
            plane.runner.release(held)
            raise
    if held:
        response.background = BackgroundTask(_release, plane.runner, held)
    return response


async def _release(runner: Runner, held: list[OutboxMessage]) -> None:
    runner.release(held)  # hands them to delivery threads: no waiting on the event loop


async def _off_loop(runtime: Runtime, call: Callable[[], T]) -> T:
    """Run ``call`` on the control plane's DSP workers (it authenticates, reads and writes the
    database, may resolve a DID over the network): one thread hop, cheaper than a generic
    thread-pool helper on this hot path."""
    plane = runtime.controlplane
    if plane is None:
        return await run_in_threadpool(call)
    return await plane.workers.run(call)


def _pid_fields(
    kind: ProcessKind, pid: str | None, runtime: Runtime, caller: Caller | None
) -> dict[str, Any]:
    """The process ids for an error body, only for the caller's own process."""
    if pid is None or caller is None or kind is ProcessKind.CATALOG or runtime.controlplane is None:
        return {}
    plane = runtime.controlplane
    try:
        process: Any = (
            plane.queries.negotiation(pid)
            if kind is ProcessKind.NEGOTIATION
            else plane.queries.transfer(pid)
        )
    except Exception:  # the error body must not fail; the ids are a courtesy
        return {}
    if process is None or process.counterparty_id != caller.did:
        return {}
    return {"consumer_pid": process.consumer_pid, "provider_pid": process.provider_pid}


def record_catalog_request(
    runtime: Runtime,
    plane: ControlPlane,
    caller: Caller,
    page: CatalogPage,
    *,
    after: str | None,
    before: str | None,
) -> None:
    """A ``catalog.requested`` event: datasets shown, and hidden in the id range the page
    covered (the policy refused them to this requester)."""
    if runtime.audit is None:
        return
    shown = page.catalog.dataset or []
    ids = [d.id for d in shown]
    if before is not None and after is None:  # paging back: [first shown, before)
        start = ids[0] if ids and page.previous_before is not None else None
        covered = plane.catalog_store.count_datasets(start=start, before=before)
    else:  # (after, last shown] while more follow, else to the end
        upto = ids[-1] if ids and page.next_after is not None else None
        covered = plane.catalog_store.count_datasets(after=after, upto=upto)
    runtime.audit.record(
        EventType.CATALOG_REQUESTED,
        actor=caller.did,
        participant=caller.did,
        details={"shown": len(ids), "hidden": max(0, covered - len(ids))},
    )


def record_catalog_lookup(
    runtime: Runtime, caller: Caller, dataset_id: str, *, shown: int, hidden: int
) -> None:
    """A ``catalog.requested`` event for one dataset asked for by id (hidden: it exists, the
    requester may not see it; neither: it does not exist)."""
    if runtime.audit is not None:
        runtime.audit.record(
            EventType.CATALOG_REQUESTED,
            actor=caller.did,
            participant=caller.did,
            dataset=dataset_id[:1024],
            details={"shown": shown, "hidden": hidden},
        )


def page_links(base: str, page: CatalogPage, limit: int) -> dict[str, str]:
    """The ``Link`` header (``next``/``previous``) of a catalogue page, if it has neighbours."""
    links = []
    if page.previous_before is not None:
        cursor = quote(page.previous_before, safe="")
        links.append(f'<{base}?before={cursor}&limit={limit}>; rel="previous"')
    if page.next_after is not None:
        links.append(f'<{base}?after={quote(page.next_after, safe="")}&limit={limit}>; rel="next"')
    return {"link": ", ".join(links)} if links else {}


def page_limit(raw: str | None) -> int:
    """The ``limit`` of a DSP catalogue request: 100 when absent, at most :data:`MAX_PAGE`
    (a larger one is served as that, and the page links say so); 400 when it is not an integer
    of at least 1."""
    if raw is None:
        return 100
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise Invalid(
            f"limit must be an integer from 1 to {MAX_PAGE}", reason="invalid_field", field="limit"
        )
    return min(limit, MAX_PAGE)


DSP_ERROR_SCHEMA: dict[str, Any] = {
    "title": "DSP error",
    "description": "CatalogError, ContractNegotiationError or TransferError (by endpoint)",
    "type": "object",
    "required": ["@context", "@type"],
    "properties": {
        "@context": {"type": "array", "items": {"type": "string"}},
        "@type": {"enum": ["CatalogError", "ContractNegotiationError", "TransferError"]},
        "code": {"type": "string"},
        "reason": {"type": "array", "items": {}},
        "consumerPid": {"type": "string"},
        "providerPid": {"type": "string"},
    },
}


def _dsp_errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": text,
            "content": {"application/json": {"schema": DSP_ERROR_SCHEMA}},
        }
        for status, text in descriptions.items()
    }


def build_router(dsp_path: str) -> APIRouter:
    """The DSP routes under ``dsp_path`` (e.g. ``/api/dsp``)."""
    router = APIRouter(
        prefix=dsp_path,
        tags=["dsp"],
        responses=_dsp_errors(
            {
                400: "A malformed message, or one not allowed in the process's state",
                401: "Missing or invalid participant token",
                404: "Unknown process (or one of another participant) or dataset",
            }
        ),
    )

    @router.post("/catalog/request")
    async def catalog_request(request: Request) -> Response:
        after = request.query_params.get("after")
        before = request.query_params.get("before")

        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            limit = page_limit(request.query_params.get("limit"))
            message = loads(raw, wc.CatalogRequestMessage)
            if message.filter:
                raise Invalid("catalogue filters are not supported", reason="unsupported_filter")
            plane = _plane(request)
            facts = _facts_source(runtime, caller)
            page = plane.catalogue.page(facts, after=after, before=before, limit=limit)
            record_catalog_request(runtime, plane, caller, page, after=after, before=before)
            links = page_links(f"{plane.dsp_url}/catalog/request", page, limit)
            return _json(page.catalog, headers=links)

        return await _handle(request, ProcessKind.CATALOG, work)

    @router.get("/catalog/datasets/{dataset_id:path}")
    async def catalog_dataset(request: Request, dataset_id: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            plane = _plane(request)
            try:
                found = plane.catalogue.dataset(_facts_source(runtime, caller), dataset_id)
            except NotFound:
                hidden = int(plane.catalog_store.dataset(dataset_id) is not None)
                record_catalog_lookup(runtime, caller, dataset_id, shown=0, hidden=hidden)
                raise
            record_catalog_lookup(runtime, caller, dataset_id, shown=1, hidden=0)
            return _json(found)

        return await _handle(request, ProcessKind.CATALOG, work)

    # negotiations ------------------------------------------------------------------------------

    @router.get("/negotiations/{pid}")
    async def negotiation_get(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            n = _plane(request).queries.negotiation(pid)
            if n is None or n.counterparty_id != caller.did or n.state is None:
                raise NotFound(f"negotiation {pid} not found", reason="unknown_process")
            return _json(negotiation_ack(n))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    @router.post("/negotiations/request", status_code=201)
    async def negotiation_request(request: Request) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            plane = _plane(request)
            msg = loads(raw, wn.ContractRequestMessage)
            _usable_callback(plane, msg.callback_address)
            facts = _facts_source(runtime, caller)
            n = plane.negotiations.requested(
                caller, msg, facts, visible=lambda d: plane.catalogue.visible(d, facts)
            )
            return _json(negotiation_ack(n), 201)

        return await _handle(request, ProcessKind.NEGOTIATION, work)

    @router.post("/negotiations/offers", status_code=201)
    async def negotiation_offer_initial(request: Request) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            plane = _plane(request)
            msg = loads(raw, wn.ContractOfferMessage)
            _usable_callback(plane, msg.callback_address)
            n = plane.negotiations.offered(caller, msg)
            return _json(negotiation_ack(n), 201)

        return await _handle(request, ProcessKind.NEGOTIATION, work)

    @router.post("/negotiations/{pid}/request")
    async def negotiation_counter_request(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            plane = _plane(request)
            msg = loads(raw, wn.ContractRequestMessage)
            facts = _facts_source(runtime, caller)
            n = plane.negotiations.requested(
                caller, msg, facts, visible=lambda d: plane.catalogue.visible(d, facts), pid=pid
            )
            return _json(negotiation_ack(n))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    @router.post("/negotiations/{pid}/offers")
    async def negotiation_counter_offer(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            msg = loads(raw, wn.ContractOfferMessage)
            n = _plane(request).negotiations.offered(caller, msg, pid=pid)
            return _json(negotiation_ack(n))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    @router.post("/negotiations/{pid}/events")
    async def negotiation_event(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            msg = loads(raw, wn.ContractNegotiationEventMessage)
            n = _plane(request).negotiations.event(caller, pid, msg, _facts_source(runtime, caller))
            return _json(negotiation_ack(n))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    @router.post("/negotiations/{pid}/agreement/verification")
    async def negotiation_verification(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            msg = loads(raw, wn.ContractAgreementVerificationMessage)
            return _json(negotiation_ack(_plane(request).negotiations.verified(caller, pid, msg)))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    @router.post("/negotiations/{pid}/agreement")
    async def negotiation_agreement(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            msg = loads(raw, wn.ContractAgreementMessage)
            return _json(negotiation_ack(_plane(request).negotiations.agreed(caller, pid, msg)))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    @router.post("/negotiations/{pid}/termination")
    async def negotiation_termination(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            msg = loads(raw, wn.ContractNegotiationTerminationMessage)
            return _json(negotiation_ack(_plane(request).negotiations.terminated(caller, pid, msg)))

        return await _handle(request, ProcessKind.NEGOTIATION, work, pid=pid)

    # transfers ---------------------------------------------------------------------------------

    @router.get("/transfers/{pid}")
    async def transfer_get(request: Request, pid: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            t = _plane(request).queries.transfer(pid)
            if t is None or t.counterparty_id != caller.did or t.state is None:
                raise NotFound(f"transfer {pid} not found", reason="unknown_process")
            return _json(transfer_ack(t))

        return await _handle(request, ProcessKind.TRANSFER, work, pid=pid)

    @router.post("/transfers/request", status_code=201)
    async def transfer_request(request: Request) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            plane = _plane(request)
            msg = loads(raw, wt.TransferRequestMessage)
            _usable_callback(plane, msg.callback_address)
            t, _created = plane.transfers.requested(caller, msg, _facts_source(runtime, caller))
            return _json(transfer_ack(t), 201)

        return await _handle(request, ProcessKind.TRANSFER, work)

    @router.post("/transfers/{pid}/{action}")
    async def transfer_message(request: Request, pid: str, action: str) -> Response:
        def work(runtime: Runtime, caller: Caller, raw: bytes) -> Response:
            spec = _TRANSFER_EVENTS.get(action)
            if spec is None:
                raise NotFound(f"no endpoint {action}", reason="not_found")
            cls, event = spec
            msg: Any = loads(raw, cls)
            t = _plane(request).transfers.received(
                caller, pid, msg, event, _facts_source(runtime, caller)
            )
            return _json(transfer_ack(t))

        return await _handle(request, ProcessKind.TRANSFER, work, pid=pid)

    return router


def install(app: FastAPI, runtime: Runtime) -> None:
    """Add the version document and the DSP routes."""
    path = runtime.settings.dsp_path

    @app.get("/.well-known/dspace-version", tags=["dsp"])
    def dspace_version() -> JSONResponse:
        body = version_response(path, identifier_type="did:web")
        return JSONResponse(serialize(body))

    router = build_router(path)
    app.include_router(router)
    app.add_middleware(
        DirectRoutes,
        prefix=path,
        routes=[r for r in router.routes if isinstance(r, APIRoute)],
    )
