"""``CONNECTOR_WORKERS=2``: two server processes per connector share the port and the SQLite
database — negotiations and transfers complete, nothing is lost or sent twice, and the audit
chain (one hash chain written by both processes) still verifies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .dsp_helpers import ENV, add_dataset, did_of, mgmt, offer_for, wait_for
from .test_dataplane_pull import start_transfer

pytestmark = pytest.mark.integration

COUNT = 24


def test_two_workers_per_connector(start_connector: Any) -> None:
    provider = start_connector("provider", CONNECTOR_WORKERS="2", **ENV).url
    consumer = start_connector("consumer", CONNECTOR_WORKERS="2", **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "energy")
    offer = offer_for(consumer, provider, provider_did, "energy")
    body = {"counterPartyAddress": provider + "/api/dsp", "counterPartyId": provider_did}
    started = [
        mgmt("POST", consumer, "/negotiations", {**body, "offer": offer}).json()["id"]
        for _ in range(COUNT)
    ]
    done = [
        wait_for(consumer, f"/negotiations/{pid}", {"FINALIZED", "TERMINATED"}) for pid in started
    ]
    assert {d["state"] for d in done} == {"FINALIZED"}
    for d in done:  # each step exactly once on both sides
        assert [s["to"] for s in d["history"]] == ["REQUESTED", "AGREED", "VERIFIED", "FINALIZED"]
        view = wait_for(provider, f"/negotiations/{d['providerPid']}", {"FINALIZED"})
        assert [s["to"] for s in view["history"]] == [
            "REQUESTED",
            "AGREED",
            "VERIFIED",
            "FINALIZED",
        ]
    finalized = mgmt("GET", provider, "/negotiations?state=FINALIZED&limit=1000").json()
    assert len(finalized) == COUNT
    transfer = start_transfer(consumer, provider, provider_did, done[0]["agreementId"])
    assert transfer["state"] == "STARTED"
    for side in (provider, consumer):
        verified = httpx.get(
            side + "/api/audit/verify", headers={"X-Api-Key": "it-auditor-key"}, timeout=30
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True, verified.json()
