"""Builds the identity adapters of the runtime: tokens, replay store, trust list, DCP flow."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from connector.clock import Clock
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import PinnedLoader
from connector.credentials.keys import KeySet
from connector.credentials.verifier import Verifier
from connector.http.client import GuardedJsonClient
from connector.http.guard import OutboundGuard
from connector.identity.credential_service import CredentialService
from connector.identity.presentations import PresentationClient
from connector.identity.scopes import MEMBERSHIP_SCOPE
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.identity.trust import FAILURE_CACHE_SECONDS, DcpParticipantFacts, TrustList
from connector.settings import Settings
from connector.stores.credential_store import SqlCredentialStore
from connector.stores.replay_store import SqlReplayStore
from connector.stores.trust_store import SqlTrustStore

DCP_PATH = "/api/dcp"


@dataclass
class Identity:
    authenticator: SelfIssuedAuthenticator
    token_source: SelfIssuedTokenSource
    participant_facts: DcpParticipantFacts
    trust_store: SqlTrustStore
    trust_list: TrustList
    credentials: SqlCredentialStore
    credential_service: CredentialService
    presentations: PresentationClient
    http: GuardedJsonClient


def credential_service_url(settings: Settings) -> str:
    """Our Credential Service base URL (the ``CredentialService`` entry of our DID document)."""
    return settings.base_url + DCP_PATH


def build_identity(
    settings: Settings,
    clock: Clock,
    *,
    engine: Engine,
    keyset: KeySet,
    resolver: DidResolver,
    loader: PinnedLoader,
) -> Identity:
    """Self-issued tokens with a shared replay store, the trust list, our Credential Service
    and the DCP presentation flow. ``presentations.verifier`` is rebound by the app factory to
    the runtime's verifier (with status-list lookups)."""
    token_source = SelfIssuedTokenSource(keyset, clock, default_scopes=[MEMBERSHIP_SCOPE])
    authenticator = SelfIssuedAuthenticator(
        resolver, keyset.did, SqlReplayStore(engine, clock), clock
    )
    trust_store = SqlTrustStore(engine, clock)
    trust_list = TrustList(settings.trusted_participants, trust_store)
    credentials = SqlCredentialStore(engine, clock)
    service = CredentialService(keyset, resolver, credentials, clock, loader)
    guard = OutboundGuard.from_allowlist(settings.allow_private_addresses)
    http = GuardedJsonClient(guard, timeout_seconds=settings.http_timeout_seconds)
    presentations = PresentationClient(
        own_did=keyset.did,
        resolver=resolver,
        tokens=token_source,
        http=http,
        verifier=lambda: Verifier(resolver=resolver, loader=loader, clock=clock),
        trusted_issuers=settings.trusted_issuers,
        clock=clock,
        allow_http=settings.allow_insecure_did_web,
    )
    cache = settings.participant_facts_cache_seconds
    facts = DcpParticipantFacts(
        trust_list,
        clock,
        credentials=presentations,
        default_scopes=[MEMBERSHIP_SCOPE],
        cache_seconds=cache,
        failure_cache_seconds=min(cache, FAILURE_CACHE_SECONDS),
    )
    return Identity(
        authenticator,
        token_source,
        facts,
        trust_store,
        trust_list,
        credentials,
        service,
        presentations,
        http,
    )
