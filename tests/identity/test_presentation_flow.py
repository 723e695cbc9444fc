"""The DCP presentation flow between two participants, in process, with every refusal.

The consumer's Credential Service (real :class:`CredentialService`, real SQL credential store,
real authenticator) is reached through :class:`Loopback`, an ``OutboundHttp`` that hands the
request to it the way ``connector.web.dcp`` does; the real HTTP path is in the integration test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine

from connector.controlplane.ports import Caller, HttpResult
from connector.credentials import data_integrity
from connector.credentials.jsonld import default_loader
from connector.credentials.keys import KeySet
from connector.credentials.status_list import Bitstring, build_status_list_credential, status_entry
from connector.credentials.verifier import Verifier
from connector.errors import ConnectorError
from connector.identity.credential_service import DCP_CONTEXT, CredentialService
from connector.identity.membership import describe, membership_credential, secure
from connector.identity.presentations import PresentationClient
from connector.identity.replay import MemoryReplayStore
from connector.identity.scopes import MEMBERSHIP_SCOPE, scope_for_type
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.identity.trust import DcpParticipantFacts, TrustList
from connector.stores.credential_store import SqlCredentialStore

from .conftest import AUTHORITY, CONSUMER, PROVIDER, World

LOADER = default_loader()
STATUS_URL = "https://authority.test/status/1"


@dataclass
class Loopback:
    """``OutboundHttp`` delivering a query to the consumer's Credential Service in process."""

    authenticator: SelfIssuedAuthenticator
    service: CredentialService
    rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    calls: list[str] = field(default_factory=list)

    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        self.calls.append(url)
        try:
            caller = self.authenticator.authenticate(headers.get("Authorization"))
            answer = self.service.query(caller, dict(body))
        except ConnectorError as exc:
            return HttpResult(exc.status, {"reason": exc.reason})
        return HttpResult(200, self.rewrite(answer) if self.rewrite else answer)

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult:
        raise AssertionError("the flow only POSTs")


@dataclass
class Flow:
    world: World
    store: SqlCredentialStore
    http: Loopback
    status_bits: Bitstring
    trusted_issuers: list[str]

    def hold(self, item: str | dict[str, Any]) -> None:
        d = describe(item)
        self.store.add(
            id=d.id,
            format=d.format,
            types=d.types,
            issuer=d.issuer,
            subject=d.subject,
            valid_until=d.valid_until,
            body=d.body,
        )

    def issue(
        self,
        *,
        issuer: KeySet | None = None,
        subject: str = CONSUMER,
        fmt: str = "vc+jwt",
        valid_for: dt.timedelta | None = dt.timedelta(days=365),
        status_index: int | None = None,
    ) -> str | dict[str, Any]:
        issuer = issuer or self.world.authority
        now = self.world.clock.now()
        credential = membership_credential(
            issuer=issuer.did,
            subject=subject,
            issued_at=now,
            valid_until=now + valid_for if valid_for else None,
            roles=["partner"],
            status=status_entry(STATUS_URL, status_index) if status_index is not None else None,
        )
        return secure(credential, keyset=issuer, loader=LOADER, fmt=fmt, now=now)  # type: ignore[arg-type]

    def status_list(self, url: str) -> Mapping[str, Any]:
        assert url == STATUS_URL
        unsigned = build_status_list_credential(
            list_id=STATUS_URL, issuer=AUTHORITY, purpose="revocation", bits=self.status_bits
        )
        now = self.world.clock.now()
        return data_integrity.sign(
            unsigned,
            key=self.world.authority.ed25519,
            verification_method=self.world.authority.method_id("ed25519", multikey=True),
            created=now,
            loader=LOADER,
        )

    def caller(self) -> Caller:
        """The consumer calls the provider (a DSP request): the provider's view of it."""
        header = SelfIssuedTokenSource(
            self.world.consumer, self.world.clock, default_scopes=[MEMBERSHIP_SCOPE]
        ).token_for(PROVIDER)
        provider = SelfIssuedAuthenticator(
            self.world.resolver, PROVIDER, MemoryReplayStore(self.world.clock), self.world.clock
        )
        return provider.authenticate(header)

    def client(self) -> PresentationClient:
        world = self.world
        return PresentationClient(
            own_did=PROVIDER,
            resolver=world.resolver,
            tokens=SelfIssuedTokenSource(world.provider, world.clock),
            http=self.http,
            verifier=lambda: Verifier(
                resolver=world.resolver,
                loader=LOADER,
                clock=world.clock,
                status_lookup=self.status_list,
            ),
            trusted_issuers=self.trusted_issuers,
            clock=world.clock,
        )

    def facts(self, **kwargs: Any) -> DcpParticipantFacts:
        return DcpParticipantFacts(
            TrustList([]), self.world.clock, credentials=self.client(), **kwargs
        )

    def refusal(self) -> str:
        facts = self.facts(default_scopes=[MEMBERSHIP_SCOPE])
        result = facts.facts(self.caller())
        assert result.credentials == ()
        assert facts.last_failure is not None
        return facts.last_failure.reason


@pytest.fixture
def flow(world: World, engine: Engine) -> Flow:
    store = SqlCredentialStore(engine, world.clock)
    consumer_auth = SelfIssuedAuthenticator(
        world.resolver, CONSUMER, MemoryReplayStore(world.clock), world.clock
    )
    service = CredentialService(world.consumer, world.resolver, store, world.clock, LOADER)
    return Flow(world, store, Loopback(consumer_auth, service), Bitstring(), [AUTHORITY])


@pytest.mark.parametrize("fmt", ["vc+jwt", "ldp_vc"])
def test_a_member_presents_its_membership(flow: Flow, fmt: str) -> None:
    flow.hold(flow.issue(fmt=fmt))
    facts = flow.facts(default_scopes=[MEMBERSHIP_SCOPE]).facts(flow.caller())
    assert facts.did == CONSUMER
    assert not facts.trusted
    assert facts.has_credential("MembershipCredential", [AUTHORITY])
    (credential,) = facts.credentials
    assert credential.subject == CONSUMER
    assert credential.claims["memberOf"] == AUTHORITY
    assert credential.claims["role"] == ["partner"]
    assert flow.http.calls == ["https://consumer.test/api/dcp/presentations/query"]


def test_facts_are_cached_briefly(flow: Flow) -> None:
    flow.hold(flow.issue())
    facts = flow.facts(default_scopes=[MEMBERSHIP_SCOPE], cache_seconds=60)
    assert facts.facts(flow.caller()).has_credential("MembershipCredential")
    assert facts.facts(flow.caller()).has_credential("MembershipCredential")
    assert len(flow.http.calls) == 1
    flow.world.clock.advance(61)
    assert facts.facts(flow.caller()).has_credential("MembershipCredential")
    assert len(flow.http.calls) == 2


def test_the_trust_list_alone_makes_a_caller_trusted(flow: Flow) -> None:
    facts = DcpParticipantFacts(TrustList([CONSUMER]), flow.world.clock)
    result = facts.facts(flow.caller())
    assert result.trusted and result.credentials == ()


def test_a_non_member_has_no_membership(flow: Flow) -> None:
    facts = flow.facts(default_scopes=[MEMBERSHIP_SCOPE]).facts(flow.caller())
    assert facts.credentials == ()
    assert not facts.has_credential("MembershipCredential")


def test_untrusted_issuer_is_refused(flow: Flow) -> None:
    flow.hold(flow.issue(issuer=flow.world.provider))  # the provider is no federation authority
    assert flow.refusal() == "untrusted_issuer"


def test_expired_membership_is_refused(flow: Flow) -> None:
    flow.hold(flow.issue(valid_for=dt.timedelta(hours=1)))
    flow.world.clock.advance(2 * 3600)
    assert flow.refusal() == "expired"


def test_revoked_membership_is_refused(flow: Flow) -> None:
    flow.hold(flow.issue(status_index=7))
    caller = flow.caller()
    assert flow.facts().facts(caller, scopes=["MembershipCredential"]).credentials  # not revoked
    flow.status_bits.set(7)
    assert flow.refusal() == "revoked"


def test_a_membership_of_someone_else_is_refused(flow: Flow) -> None:
    flow.hold(flow.issue(subject="did:web:elsewhere.test"))
    assert flow.refusal() == "subject_mismatch"


@pytest.mark.parametrize("fmt", ["vc+jwt", "ldp_vc"])
def test_a_presentation_for_another_audience_is_refused(flow: Flow, fmt: str) -> None:
    flow.hold(flow.issue(fmt=fmt))
    service = flow.http.service
    held = flow.store.all()

    def for_someone_else(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "presentation": service.present(held, audience="did:web:other.test")}

    flow.http.rewrite = for_someone_else
    assert flow.refusal() == "audience_mismatch"


def test_a_presentation_held_by_another_party_is_refused(flow: Flow) -> None:
    credential = flow.issue()
    other = CredentialService(
        flow.world.authority, flow.world.resolver, flow.store, flow.world.clock, LOADER
    )
    flow.hold(credential)
    held = flow.store.all()
    flow.http.rewrite = lambda answer: {
        **answer,
        "presentation": other.present(held, audience=PROVIDER),
    }
    assert flow.refusal() == "holder_mismatch"


def test_a_caller_without_access_token_gets_no_credentials(flow: Flow) -> None:
    flow.hold(flow.issue())
    header = SelfIssuedTokenSource(flow.world.consumer, flow.world.clock).token_for(PROVIDER)
    caller = SelfIssuedAuthenticator(
        flow.world.resolver, PROVIDER, MemoryReplayStore(flow.world.clock), flow.world.clock
    ).authenticate(header)
    facts = flow.facts(default_scopes=[MEMBERSHIP_SCOPE])
    assert facts.facts(caller).credentials == ()
    assert facts.last_failure is not None and facts.last_failure.reason == "no_access_token"


def test_a_scope_the_token_does_not_grant_is_refused(flow: Flow) -> None:
    flow.hold(flow.issue())
    facts = flow.facts(default_scopes=[scope_for_type("OtherCredential")])
    assert facts.facts(flow.caller()).credentials == ()
    assert facts.last_failure is not None
    assert facts.last_failure.reason == "presentation_query_refused"
    assert flow.http.calls  # the consumer's service refused with 403 scope_not_granted


def _service_refusal(flow: Flow, caller: Caller, scopes: list[str]) -> str:
    message = {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": scopes}
    with pytest.raises(ConnectorError) as info:
        flow.http.service.query(caller, message)
    return info.value.reason


def test_the_credential_service_checks_the_access_token(flow: Flow) -> None:
    world = flow.world
    consumer_tokens = SelfIssuedTokenSource(world.consumer, world.clock)
    granted = consumer_tokens.access_token(PROVIDER, [MEMBERSHIP_SCOPE])
    provider = Caller(PROVIDER, {"token": granted})
    assert (
        flow.http.service.query(
            provider, {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": []}
        )["type"]
        == "PresentationResponseMessage"
    )
    # issued to someone else
    assert _service_refusal(flow, Caller(AUTHORITY, {"token": granted}), []) == "bad_access_token"
    # not issued by the consumer
    forged = SelfIssuedTokenSource(world.authority, world.clock).access_token(
        PROVIDER, [MEMBERSHIP_SCOPE]
    )
    assert _service_refusal(flow, Caller(PROVIDER, {"token": forged}), []) == "bad_access_token"
    # an ID token is not an access token
    id_token = consumer_tokens.issue(PROVIDER)
    assert _service_refusal(flow, Caller(PROVIDER, {"token": id_token}), []) == "bad_access_token"
    # no token, wrong scope, malformed query
    assert _service_refusal(flow, Caller(PROVIDER, {}), []) == "no_access_token"
    other = scope_for_type("OtherCredential")
    assert _service_refusal(flow, provider, [other]) == "scope_not_granted"
    with pytest.raises(ConnectorError) as info:
        flow.http.service.query(provider, {"type": "PresentationQueryMessage", "scope": []})
    assert info.value.reason == "bad_query"
    # expired
    world.clock.advance(400)
    assert _service_refusal(flow, provider, [MEMBERSHIP_SCOPE]) == "expired"
