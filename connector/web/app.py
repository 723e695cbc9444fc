"""The app factory: ``create_app(settings)`` builds a FastAPI app; nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from connector import __version__
from connector.bootstrap import initialise
from connector.clock import Clock, SystemClock
from connector.credentials.did_web import build_did_document
from connector.identity.api_keys import ensure_dev_key
from connector.settings import Settings
from connector.stores.database import create_db_engine, migrate
from connector.web import did, health, problems
from connector.web.limits import BodySizeLimit
from connector.web.runtime import Runtime


def _api_key(settings: Settings, name: str) -> str:
    secret = getattr(settings, name)
    if secret is not None:
        value: str = secret.get_secret_value()
        return value
    return ensure_dev_key(settings.data_dir, name.replace("_", "-"))


def build_runtime(settings: Settings, clock: Clock) -> Runtime:
    """Keys, database and the DID document: everything the routers share."""
    init = initialise(settings, clock)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    x5u = settings.base_url + did.X5U_PATH if init.keyset.rsa is not None else None
    services = [
        {
            "id": f"{init.did}#dsp",
            "type": "DataService",
            "serviceEndpoint": settings.base_url + "/.well-known/dspace-version",
        }
    ]
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        keyset=init.keyset,
        management_key=_api_key(settings, "management_api_key"),
        auditor_key=_api_key(settings, "auditor_api_key"),
        did_document=build_did_document(init.keyset, services=services, x5u=x5u),
    )


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the connector's ASGI app for ``settings``."""
    runtime = build_runtime(settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.engine.dispose()

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
    app.include_router(health.router)
    app.include_router(did.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
