"""The app factory: ``create_app(settings)`` builds a FastAPI app; nothing happens at import."""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from connector import __version__
from connector.audit.sink import NullAuditSink
from connector.audit.vocabulary import EventType
from connector.bootstrap import initialise
from connector.clock import Clock, SystemClock
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.credentials.jsonld import PinnedLoader, default_loader
from connector.credentials.keys import KeySet
from connector.credentials.shacl import project_shapes
from connector.identity.api_keys import ensure_dev_key
from connector.identity.did_fetcher import HttpDidFetcher
from connector.settings import Settings
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
from connector.stores.database import create_db_engine, migrate
from connector.stores.sd_files import SelfDescriptionFolder
from connector.stores.sd_publisher import config_digest, is_current, publish
from connector.web import audit, did, health, maintenance, problems, self_descriptions, vc_api
from connector.web import credential_status as credential_status_routes
from connector.web import data as data_routes
from connector.web import dcp as dcp_routes
from connector.web import dsp as dsp_routes
from connector.web import management as management_routes
from connector.web import trust as trust_routes
from connector.web.controlplane import build_controlplane, load_demo_catalogue
from connector.web.dataplane import build_dataplane
from connector.web.identity import build_identity, credential_service_url
from connector.web.limits import BodySizeLimit
from connector.web.runtime import Runtime

log = structlog.get_logger("connector.web")


def _api_key(settings: Settings, name: str) -> str:
    secret = getattr(settings, name)
    if secret is not None:
        value: str = secret.get_secret_value()
        return value
    return ensure_dev_key(settings.data_dir, name.replace("_", "-"))


def _publish_self_descriptions(
    settings: Settings,
    clock: Clock,
    keyset: KeySet,
    loader: PinnedLoader,
    audit: SqlAuditStore,
) -> SelfDescriptionFolder:
    """Keep ``<data dir>/self-descriptions`` signed by our keys for the configured participant."""
    folder = SelfDescriptionFolder(settings.data_dir / "self-descriptions")
    config = settings.participant_config_path
    if not config.is_file():
        log.warning("no_participant_config", path=str(config))
        return folder
    now = clock.now()
    if not is_current(
        config,
        folder,
        did=keyset.did,
        base_url=settings.base_url,
        now=now,
        signing_keys=keyset.fingerprint(),
    ):
        published = publish(
            config, folder, keyset=keyset, base_url=settings.base_url, loader=loader, now=now
        )
        log.info("self_descriptions_published", count=len(published.signed.credentials))
        audit.record(
            EventType.CREDENTIAL_CHANGED,
            actor=keyset.did,
            details={
                "credential": "self-descriptions",
                "change": "published",
                "count": len(published.signed.credentials),
                "config_sha256": config_digest(config),
            },
        )
    return folder


def build_runtime(settings: Settings, clock: Clock) -> Runtime:
    """Keys, database, DID resolution and published credentials: what the routers share."""
    init = initialise(settings, clock)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    x5u = settings.base_url + did.X5U_PATH if init.keyset.rsa is not None else None
    services = [
        {
            "id": f"{init.did}#dsp",
            "type": "DataService",
            "serviceEndpoint": settings.base_url + "/.well-known/dspace-version",
        },
        {
            "id": f"{init.did}#credential-service",
            "type": "CredentialService",
            "serviceEndpoint": credential_service_url(settings),
        },
    ]
    did_document = build_did_document(init.keyset, services=services, x5u=x5u)
    did_document["capabilityInvocation"] = list(did_document["authentication"])
    loader = default_loader()
    audit = SqlAuditStore(engine, clock, checkpoint_signer(init.keyset))
    networks = [n for n in settings.allow_private_addresses if _is_network(n)]
    fetcher = HttpDidFetcher(
        allow_insecure=settings.allow_insecure_did_web,
        allowed_networks=networks,
        read_timeout=settings.http_timeout_seconds,
    )
    resolver = DidResolver(
        clock,
        fetcher,
        allow_http=settings.allow_insecure_did_web,
        ttl_seconds=settings.did_cache_ttl_seconds,
        pinned=[did_document],
    )
    identity = build_identity(
        settings, clock, engine=engine, keyset=init.keyset, resolver=resolver, loader=loader
    )
    runtime = Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        keyset=init.keyset,
        management_key=_api_key(settings, "management_api_key"),
        auditor_key=_api_key(settings, "auditor_api_key"),
        did_document=did_document,
        resolver=resolver,
        loader=loader,
        sd_folder=_publish_self_descriptions(settings, clock, init.keyset, loader, audit),
        authenticator=identity.authenticator,
        token_source=identity.token_source,
        participant_facts=identity.participant_facts,
        identity=identity,
        shapes=project_shapes(),
        fetcher=fetcher,
        audit=audit,
    )
    identity.presentations.verifier = runtime.verifier
    return runtime


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the connector's ASGI app for ``settings``."""
    runtime = build_runtime(settings, clock or SystemClock())
    dataplane = build_dataplane(
        settings,
        runtime.clock,
        runtime.engine,
        runtime.audit or NullAuditSink(runtime.clock),
        controlplane=lambda: runtime.controlplane,
        participant_facts=runtime.participant_facts,
    )
    runtime.extras["dataplane"] = dataplane
    runtime.controlplane = build_controlplane(
        settings,
        runtime.clock,
        runtime.engine,
        own_did=runtime.did,
        tokens=runtime.token_source,
        issuer=dataplane.issuer,
    )
    runtime.controlplane.store.audit = runtime.controlplane.catalog_store.audit = runtime.audit
    load_demo_catalogue(runtime.controlplane, data_dir=settings.data_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime.controlplane is not None:
            runtime.controlplane.runner.start()
        async with maintenance.running(runtime.audit, settings):
            yield
        if runtime.controlplane is not None:
            runtime.controlplane.close()
        dataplane.close()
        runtime.engine.dispose()
        if runtime.fetcher is not None:
            runtime.fetcher.close()
        if runtime.identity is not None:
            runtime.identity.http.close()

    app = FastAPI(
        title="klimakommune-connector",
        version=__version__,
        description=(
            "Föderierter Datenkonnektor für Kommunen (Dataspace Protocol 2025-1, ODRL 2.2, "
            "W3C Verifiable Credentials). / Federated data connector for municipalities."
        ),
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    problems.install(app)
    # the hot paths first: a request is matched against the routes in order (~3 µs each)
    dsp_routes.install(app, runtime)
    app.include_router(data_routes.router)
    app.include_router(health.router)
    app.include_router(did.router)
    app.include_router(self_descriptions.router)
    app.include_router(vc_api.router)
    app.include_router(audit.router)
    app.include_router(management_routes.router)
    app.include_router(dcp_routes.router)
    app.include_router(trust_routes.router)
    app.include_router(credential_status_routes.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``connector serve`` with ``CONNECTOR_WORKERS`` > 1
    (uvicorn calls this factory in each worker; settings come from the environment)."""
    from connector.logging import configure

    settings = Settings()
    configure(settings.log_level)
    app = create_app(settings)
    settle_heap()
    return app


def settle_heap() -> None:
    """Before a server process starts serving: move everything built so far (the app, its
    schemas, shapes and caches, which live as long as the process) out of the garbage
    collector's view (``gc.freeze``), so collections under load walk only the objects of
    requests, and collect the young generation less often (allocation-heavy requests would
    otherwise trigger it every few hundred objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
