"""Fixtures of the identity tests: two participants with pinned DID documents, a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connector.clock import FixedClock
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.credentials.keys import KeySet
from connector.identity.replay import MemoryReplayStore
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.stores.database import create_db_engine, migrate
from connector.testing import throwaway_keyset

PROVIDER = "did:web:provider.test"
CONSUMER = "did:web:consumer.test"
AUTHORITY = "did:web:authority.test"


def did_document(keyset: KeySet, services: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A DID document as the connector publishes it (with ``capabilityInvocation``)."""
    document = build_did_document(keyset, services=services)
    document["capabilityInvocation"] = list(document["authentication"])
    return document


def credential_service(did: str) -> list[dict[str, Any]]:
    """The ``CredentialService`` entry of a test participant's DID document."""
    host = did.removeprefix("did:web:")
    return [
        {
            "id": f"{did}#credential-service",
            "type": "CredentialService",
            "serviceEndpoint": f"https://{host}/api/dcp",
        }
    ]


@dataclass
class World:
    clock: FixedClock
    provider: KeySet
    consumer: KeySet
    authority: KeySet
    resolver: DidResolver
    replay: MemoryReplayStore

    def source(self, keyset: KeySet | None = None, **kwargs: Any) -> SelfIssuedTokenSource:
        return SelfIssuedTokenSource(keyset or self.consumer, self.clock, **kwargs)

    def authenticator(self, **kwargs: Any) -> SelfIssuedAuthenticator:
        return SelfIssuedAuthenticator(
            self.resolver, self.provider.did, self.replay, self.clock, **kwargs
        )


@pytest.fixture(scope="session")
def keysets() -> tuple[KeySet, KeySet, KeySet]:
    return throwaway_keyset(PROVIDER), throwaway_keyset(CONSUMER), throwaway_keyset(AUTHORITY)


@pytest.fixture
def world(keysets: tuple[KeySet, KeySet, KeySet]) -> World:
    clock = FixedClock("2026-12-01T10:00:00Z")
    provider, consumer, authority = keysets
    resolver = DidResolver(
        clock,
        pinned=[did_document(keyset, credential_service(keyset.did)) for keyset in keysets],
    )
    return World(clock, provider, consumer, authority, resolver, MemoryReplayStore(clock))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'connector.db'}")
    migrate(engine)
    return engine
