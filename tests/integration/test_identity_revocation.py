"""Revocation between real processes: the federation authority revokes the membership it
issued to A; B, which saw A as a member through DCP, no longer does once its facts cache
(``CONNECTOR_PARTICIPANT_FACTS_CACHE_SECONDS``, 1 s here) has expired."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from connector.credentials.status_list import Bitstring

from .dsp_helpers import ENV, add_dataset, did_of, mgmt, offer_for, wait_for
from .test_identity_membership import OPEN_POLICY, cli, partner_policy


def catalogue(consumer: Any, provider: Any, provider_did: str) -> set[str]:
    response = mgmt(
        "POST",
        consumer.url,
        "/catalog/request",
        {"counterPartyAddress": provider.url + "/api/dsp", "counterPartyId": provider_did},
    )
    assert response.status_code == 200, response.text
    return {d["@id"] for d in response.json().get("dataset", [])}


def shown_eventually(consumer: Any, provider: Any, provider_did: str, shown: bool) -> set[str]:
    """Poll the catalogue until the partner-only dataset is (not) shown (cache expiry)."""
    deadline = time.monotonic() + 20
    while True:
        datasets = catalogue(consumer, provider, provider_did)
        if ("partner-data" in datasets) == shown or time.monotonic() > deadline:
            return datasets
        time.sleep(0.3)


def test_a_revoked_membership_stops_counting(start_connector: Any, tmp_path: Path) -> None:
    authority = start_connector("authority", **ENV)
    authority_did = did_of(authority.url)
    member = start_connector("a", **ENV)
    provider = start_connector(
        "b",
        CONNECTOR_TRUSTED_ISSUERS=authority_did,
        CONNECTOR_PARTICIPANT_FACTS_CACHE_SECONDS="1",
        **ENV,
    )
    member_did, provider_did = did_of(member.url), did_of(provider.url)

    credential = tmp_path / "membership.jwt"
    issued = cli(
        authority.env, "credential", "issue", "--subject", member_did, "--out", str(credential)
    )
    assert issued.returncode == 0, issued.stderr
    assert cli(member.env, "credential", "add", str(credential)).returncode == 0
    registry = json.loads(cli(authority.env, "credential", "issued", "--json").stdout)
    (entry,) = registry
    assert (entry["subject"], entry["index"], entry["revoked"]) == (member_did, 0, False)

    # the authority's connector publishes its signed revocation list
    status = httpx.get(authority.url + "/credentials/status/1", timeout=5)
    assert status.status_code == 200
    assert status.json()["issuer"] == authority_did
    assert not Bitstring.decode(status.json()["credentialSubject"]["encodedList"]).get(0)

    policy = partner_policy(authority_did)
    add_dataset(provider.url, "open-data", policy=OPEN_POLICY)
    add_dataset(provider.url, "partner-data", policy=policy, access=policy)
    assert "partner-data" in catalogue(member, provider, provider_did)
    offer = offer_for(member.url, provider.url, provider_did, "partner-data")

    revoked = cli(authority.env, "credential", "revoke", entry["id"])
    assert revoked.returncode == 0, revoked.stderr
    status = httpx.get(authority.url + "/credentials/status/1", timeout=5).json()
    assert Bitstring.decode(status["credentialSubject"]["encodedList"]).get(0)
    assert cli(authority.env, "credential", "revoke", "urn:uuid:unknown").returncode == 1

    datasets = shown_eventually(member, provider, provider_did, shown=False)
    assert "partner-data" not in datasets
    assert "open-data" in datasets
    # and a contract request for it is refused
    started = mgmt(
        "POST",
        member.url,
        "/negotiations",
        {"counterPartyAddress": provider.url + "/api/dsp", "counterPartyId": provider_did,
         "offer": offer},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    done = wait_for(member.url, f"/negotiations/{started.json()['id']}", {"TERMINATED"})
    assert done["state"] == "TERMINATED", done

    # reinstated: the member counts again
    assert cli(authority.env, "credential", "revoke", "--undo", entry["id"]).returncode == 0
    assert "partner-data" in shown_eventually(member, provider, provider_did, shown=True)
