"""Membership through DCP between real processes: a federation authority issues a
MembershipCredential to connector A; connector B learns it through A's Credential Service.

Four connectors on loopback (did:web over http): the authority, A (member), B (provider,
trusting the authority as issuer) and C (not a member).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from connector.clock import SystemClock
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import default_loader
from connector.credentials.verifier import Verifier
from connector.http.client import GuardedJsonClient
from connector.http.guard import OutboundGuard
from connector.identity.did_fetcher import HttpDidFetcher
from connector.identity.keystore import load_keys
from connector.identity.presentations import PresentationClient
from connector.identity.replay import MemoryReplayStore
from connector.identity.scopes import MEMBERSHIP_SCOPE
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.identity.trust import DcpParticipantFacts, TrustList

from .conftest import ROOT
from .dsp_helpers import ENV, KEY, add_dataset, did_of, mgmt, offer_for, wait_for

OPEN_POLICY: dict[str, Any] = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/open",
    "permission": [{"action": "use"}],
}


def partner_policy(authority_did: str) -> dict[str, Any]:
    """Only holders of a MembershipCredential from the authority may use the data."""
    uid = "https://example.org/policies/partners"
    return {
        "@context": [
            "http://www.w3.org/ns/odrl.jsonld",
            {"kk": "https://w3id.org/klimakommune/policy#"},
        ],
        "@type": "Set",
        "uid": uid,
        "permission": [
            {
                "uid": uid + "#use",
                "action": "use",
                "assignee": {
                    "@type": "PartyCollection",
                    "uid": uid + "#members",
                    "source": "https://w3id.org/klimakommune/federation",
                    "refinement": [
                        {
                            "@type": "LogicalConstraint",
                            "uid": uid + "#credential",
                            "and": [
                                {
                                    "leftOperand": "kk:membershipCredentialType",
                                    "operator": "eq",
                                    "rightOperand": {"@id": "kk:MembershipCredential"},
                                },
                                {
                                    "leftOperand": "kk:membershipCredentialIssuer",
                                    "operator": "eq",
                                    "rightOperand": {"@id": authority_did},
                                },
                            ],
                        }
                    ],
                },
            }
        ],
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def facts_as(provider: Any, provider_did: str, caller: Any, caller_did: str, issuer: str) -> Any:
    """The provider's ParticipantFacts for ``caller``, through the real DCP flow over HTTP: the
    caller's self-issued token (made with its keys, as its process would) is verified with the
    caller's DID document, and its Credential Service is queried."""
    clock = SystemClock()
    fetcher = HttpDidFetcher(allow_insecure=True, allowed_networks=["127.0.0.1"])
    resolver = DidResolver(clock, fetcher, allow_http=True)
    caller_tokens = SelfIssuedTokenSource(
        load_keys(caller.data_dir / "keys", caller_did), clock, default_scopes=[MEMBERSHIP_SCOPE]
    )
    authenticated = SelfIssuedAuthenticator(
        resolver, provider_did, MemoryReplayStore(clock), clock
    ).authenticate(caller_tokens.token_for(provider_did))
    http = GuardedJsonClient(OutboundGuard.from_allowlist(["127.0.0.1"]))
    try:
        client = PresentationClient(
            own_did=provider_did,
            resolver=resolver,
            tokens=SelfIssuedTokenSource(
                load_keys(provider.data_dir / "keys", provider_did), clock
            ),
            http=http,
            verifier=lambda: Verifier(
                resolver=resolver,
                loader=default_loader(),
                clock=clock,
                status_lookup=lambda url: json.loads(fetcher.fetch(url)),
            ),
            trusted_issuers=[issuer],
            clock=clock,
            allow_http=True,
        )
        participant_facts = DcpParticipantFacts(
            TrustList([]), clock, credentials=client, default_scopes=[MEMBERSHIP_SCOPE]
        )
        return participant_facts.facts(authenticated), participant_facts.last_failure
    finally:
        http.close()
        fetcher.close()


def test_membership_travels_through_dcp(start_connector: Any, tmp_path: Path) -> None:
    authority = start_connector("authority", **ENV)
    authority_did = did_of(authority.url)
    member = start_connector("a", **ENV)
    outsider = start_connector("c", **ENV)
    provider = start_connector("b", CONNECTOR_TRUSTED_ISSUERS=authority_did, **ENV)
    member_did, outsider_did, provider_did = (did_of(p.url) for p in (member, outsider, provider))

    # our DID documents list the Credential Service
    document = httpx.get(member.url + "/.well-known/did.json", timeout=5).json()
    services = {s["type"]: s["serviceEndpoint"] for s in document["service"]}
    assert services["CredentialService"] == member.url + "/api/dcp"
    assert document["capabilityInvocation"]

    # the authority issues, the member keeps the credential
    credential = tmp_path / "membership.jwt"
    issued = cli(
        authority.env, "credential", "issue", "--subject", member_did,
        "--valid-until", "2099-12-31", "--role", "partner", "--out", str(credential),
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    added = cli(member.env, "credential", "add", str(credential))
    assert added.returncode == 0, added.stderr
    listed = cli(member.env, "credential", "list", "--json")
    assert '"MembershipCredential"' in listed.stdout
    # a credential about someone else is not accepted
    assert cli(outsider.env, "credential", "add", str(credential)).returncode == 1

    # the provider's facts: the member has the membership, the outsider none
    facts, failure = facts_as(provider, provider_did, member, member_did, authority_did)
    assert failure is None
    assert facts.has_credential("MembershipCredential", [authority_did])
    assert facts.credentials[0].claims["role"] == ["partner"]
    facts, failure = facts_as(provider, provider_did, outsider, outsider_did, authority_did)
    assert facts.credentials == ()
    # and an issuer the provider does not trust is worth nothing
    facts, failure = facts_as(provider, provider_did, member, member_did, "did:web:other.test")
    assert facts.credentials == () and failure is not None
    assert failure.reason == "untrusted_issuer"

    # the catalogue: the member sees the partner-only dataset, the outsider does not
    policy = partner_policy(authority_did)
    add_dataset(provider.url, "open-data", policy=OPEN_POLICY)
    add_dataset(provider.url, "partner-data", policy=policy, access=policy)
    offer = offer_for(member.url, provider.url, provider_did, "partner-data")
    outsider_view = mgmt(
        "POST",
        outsider.url,
        "/catalog/request",
        {"counterPartyAddress": provider.url + "/api/dsp", "counterPartyId": provider_did},
    )
    assert outsider_view.status_code == 200, outsider_view.text
    shown = {d["@id"] for d in outsider_view.json().get("dataset", [])}
    assert "open-data" in shown
    assert "partner-data" not in shown

    # the member negotiates a contract; the outsider's request is refused with an explanation
    for consumer, expected in ((member, "FINALIZED"), (outsider, "TERMINATED")):
        started = mgmt(
            "POST",
            consumer.url,
            "/negotiations",
            {
                "counterPartyAddress": provider.url + "/api/dsp",
                "counterPartyId": provider_did,
                "offer": offer,
            },
        )
        assert started.status_code == 201, started.text
        done = wait_for(consumer.url, f"/negotiations/{started.json()['id']}", {expected})
        assert done["state"] == expected, done

    # the trust list lets an operator vouch for the outsider without a credential
    trusted = httpx.post(
        provider.url + "/api/management/trust/participants",
        json={"did": outsider_did, "note": "pilot partner"},
        headers=KEY,
        timeout=5,
    )
    assert trusted.status_code == 201, trusted.text
    listing = httpx.get(
        provider.url + "/api/management/trust/participants", headers=KEY, timeout=5
    ).json()
    assert {"did": outsider_did, "source": "api"}.items() <= listing["participants"][0].items()
