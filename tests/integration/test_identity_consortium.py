"""The consortium-only demo dataset (industrial CO2, ``datasets/hagen-demo.toml``) between real
processes: a member of the federation gets a contract and pulls for the municipal CO2 balance;
another purpose is refused; a non-member does not see the dataset (its access policy is
partner-only) and a request with a member's offer ends TERMINATED.

The demo policy names the federation authority ``did:web:federation.klimakommune.de``, which
cannot resolve on loopback (did:web is bound to that host name). The test therefore runs the
authority as a fourth connector on loopback and registers the config's dataset entry with
that authority's DID in place of the federation's, in its contract and access policy (and ``negotiation = "auto"`` instead of
``manual``, so that the provider decides by the policy without an operator) — every other
term of the entry (source, purpose constraint, credential type, prohibition) is as configured.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ROOT
from .dsp_helpers import ENV, did_of, mgmt, negotiate, offer_for, wait_for
from .test_dataplane_pull import demo_data, start_transfer, token_of
from .test_identity_membership import cli

pytestmark = pytest.mark.integration

DATASET = "https://w3id.org/klimakommune/hagen/datasets/industrie-co2"
FEDERATION = "did:web:federation.klimakommune.de"


def consortium_entry(authority_did: str) -> dict[str, Any]:
    """The industrial-CO2 entry of the demo config, its issuer replaced by ``authority_did``."""
    config = tomllib.loads((ROOT / "datasets" / "hagen-demo.toml").read_text("utf-8"))
    (entry,) = [d for d in config["datasets"] if d["id"] == DATASET]
    policy = json.dumps(entry["policy"])
    assert FEDERATION in policy and "kk:KommunaleCO2Bilanz" in policy
    entry["policy"] = json.loads(policy.replace(FEDERATION, authority_did))
    assert entry["accessPolicy"] == "partner-only"
    partner_only = (ROOT / "policies" / "partner-only.jsonld").read_text("utf-8")
    assert FEDERATION in partner_only
    entry["accessPolicy"] = json.loads(partner_only.replace(FEDERATION, authority_did))
    entry["negotiation"] = "auto"
    return dict(entry)


def test_consortium_dataset_for_members_and_purpose(start_connector: Any, tmp_path: Path) -> None:
    demo = demo_data(tmp_path / "hagen")
    authority = start_connector("federation", **ENV)
    authority_did = did_of(authority.url)
    hagen = start_connector("hagen", CONNECTOR_TRUSTED_ISSUERS=authority_did, **ENV)
    member = start_connector("stadtwerke", **ENV)
    outsider = start_connector("outsider", **ENV)
    hagen_did, member_did = did_of(hagen.url), did_of(member.url)

    credential = tmp_path / "membership.jwt"
    issued = cli(
        authority.env, "credential", "issue", "--subject", member_did, "--out", str(credential)
    )
    assert issued.returncode == 0, issued.stderr
    added = cli(member.env, "credential", "add", str(credential))
    assert added.returncode == 0, added.stderr

    assert mgmt("DELETE", hagen.url, f"/datasets/{DATASET}").status_code == 204
    created = mgmt("POST", hagen.url, "/datasets", consortium_entry(authority_did))
    assert created.status_code == 201, created.text

    # the member: a contract, and pulls only for the municipal CO2 balance
    started = negotiate(member.url, hagen.url, hagen_did, DATASET)
    done = wait_for(member.url, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    transfer = start_transfer(member.url, hagen.url, hagen_did, done["agreementId"])
    endpoint, token = token_of(transfer)
    auth = {"Authorization": f"Bearer {token}"}
    for purpose in (None, "kk:Marketing", "kk:Energiemanagement"):
        params = {"purpose": purpose} if purpose else {}
        refused = httpx.get(endpoint, params=params, headers=auth, timeout=30)
        assert refused.status_code == 403, (purpose, refused.text)
    pulled = httpx.get(
        endpoint, params={"purpose": "kk:KommunaleCO2Bilanz"}, headers=auth, timeout=30
    )
    assert pulled.status_code == 200, pulled.text
    rows = [json.loads(line) for line in pulled.text.splitlines()]
    expected = (demo / "industrie-co2.jsonl").read_text("utf-8").splitlines()
    assert len(rows) == len(expected) > 0
    assert set(rows[0]) <= {
        "month", "company_id", "nace_division", "co2_t", "method", "eu_ets", "days_covered",
    }  # fmt: skip

    # the non-member: the dataset is not in its catalogue (the access policy) ...
    listed = mgmt(
        "POST",
        outsider.url,
        "/catalog/request",
        {"counterPartyAddress": hagen.url + "/api/dsp", "counterPartyId": hagen_did},
    )
    assert listed.status_code == 200, listed.text
    assert DATASET not in [d["@id"] for d in listed.json().get("dataset", [])]
    # ... and a request with the offer the member saw is refused: the process never starts
    started = mgmt(
        "POST",
        outsider.url,
        "/negotiations",
        {
            "counterPartyAddress": hagen.url + "/api/dsp",
            "counterPartyId": hagen_did,
            "offer": offer_for(member.url, hagen.url, hagen_did, DATASET),
        },
    ).json()
    done = wait_for(outsider.url, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "TERMINATED", done
    assert done["providerPid"] is None  # the provider never created a process
    events = httpx.get(
        hagen.url + "/api/audit/events",
        params={"type": "catalog.requested", "participant": did_of(outsider.url)},
        headers={"X-Api-Key": "it-auditor-key"},
        timeout=10,
    )
    assert events.status_code == 200, events.text
    assert any(e["details"]["hidden"] >= 1 for e in events.json()["items"])
