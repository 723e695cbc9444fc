"""What the routers need, assembled once by the app factory and kept on ``app.state``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from connector.clock import Clock
from connector.controlplane.ports import Authenticator, ParticipantFacts, TokenSource
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import PinnedLoader
from connector.credentials.keys import KeySet
from connector.credentials.shacl import Shapes
from connector.credentials.verifier import Verifier
from connector.errors import Invalid
from connector.identity.did_fetcher import HttpDidFetcher
from connector.settings import Settings
from connector.stores.audit_store import SqlAuditStore
from connector.stores.sd_files import SelfDescriptionFolder
from connector.web.controlplane import ControlPlane
from connector.web.identity import Identity


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    keyset: KeySet
    management_key: str
    auditor_key: str
    did_document: dict[str, Any]
    resolver: DidResolver
    loader: PinnedLoader
    sd_folder: SelfDescriptionFolder
    authenticator: Authenticator
    """Verifies the self-issued ID token of an incoming DSP / DCP request."""
    token_source: TokenSource
    """``Authorization`` values for outgoing DSP requests."""
    participant_facts: ParticipantFacts
    """Trust list and verified credentials of a caller, for policy evaluation."""
    identity: Identity | None = None
    """Trust list, held credentials and our Credential Service (set by the app factory)."""
    audit: SqlAuditStore | None = None
    """The tamper-evident audit trail (always set by the app factory)."""
    shapes: Shapes | None = None
    fetcher: HttpDidFetcher | None = None
    controlplane: ControlPlane | None = None
    """Catalogue, negotiations, transfers and the outbox runner (set by the app factory)."""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def did(self) -> str:
        return self.keyset.did

    def status_list(self, url: str) -> Mapping[str, Any]:
        """Our own status list from the published folder; others through the guarded fetcher."""
        from connector.credentials.publication import STATUS_LIST_ID, status_list_url

        if url == status_list_url(self.settings.base_url):
            return self.sd_folder.read_json(STATUS_LIST_ID)
        if self.fetcher is None:
            raise Invalid(f"status list {url} unavailable", reason="status_list_unavailable")
        value = json.loads(self.fetcher.fetch(url))
        if not isinstance(value, dict):
            raise Invalid("status list is not a JSON object", reason="status_list_unavailable")
        return value

    def verifier(self, *, shapes: bool = False) -> Verifier:
        return Verifier(
            resolver=self.resolver,
            loader=self.loader,
            clock=self.clock,
            status_lookup=self.status_list,
            shapes=self.shapes if shapes else None,
        )


def runtime_of(request: Request) -> Runtime:
    """The runtime of the app serving ``request``."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """:func:`runtime_of` as a dependency (a coroutine: FastAPI would run a plain function
    dependency in a worker thread, one thread hop per request for nothing)."""
    return runtime_of(request)
