"""Two real connector processes: negotiate, then transfer (auto and manual provider modes)."""

from __future__ import annotations

from typing import Any

from .dsp_helpers import ENV, add_dataset, did_of, mgmt, negotiate, wait_for


def _agreement(consumer: str, provider: str, provider_did: str, dataset_id: str) -> str:
    started = negotiate(consumer, provider, provider_did, dataset_id)
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    agreement: str = done["agreementId"]
    return agreement


def _request(consumer: str, provider: str, provider_did: str, agreement: str) -> str:
    answer = mgmt(
        "POST",
        consumer,
        "/transfers",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "agreementId": agreement,
            "format": "HttpData-PULL",
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["state"] in {"INITIAL", "REQUESTED", "STARTED"}
    pid: str = answer.json()["id"]
    return pid


def test_auto_transfer_starts_suspends_resumes_and_completes(start_connector: Any) -> None:
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "energy")
    agreement = _agreement(consumer, provider, provider_did, "energy")
    pid = _request(consumer, provider, provider_did, agreement)
    started = wait_for(consumer, f"/transfers/{pid}", {"STARTED", "TERMINATED"})
    assert started["state"] == "STARTED", started
    assert started["agreementId"] == agreement
    address = started["dataAddress"]
    assert address["endpoint"].startswith(provider)
    assert {p["name"] for p in address["endpointProperties"]} >= {"authorization"}
    provider_pid = started["providerPid"]
    wait_for(provider, f"/transfers/{provider_pid}", {"STARTED"})
    # the consumer suspends; only the provider may start a REQUESTED one, either may resume
    assert mgmt("POST", consumer, f"/transfers/{pid}/suspend").json() == {"state": "STARTED"}
    wait_for(provider, f"/transfers/{provider_pid}", {"SUSPENDED"})
    wait_for(consumer, f"/transfers/{pid}", {"SUSPENDED"})
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/complete").status_code == 409
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/start").status_code == 200
    wait_for(consumer, f"/transfers/{pid}", {"STARTED"})
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/complete").status_code == 200
    wait_for(consumer, f"/transfers/{pid}", {"COMPLETED"})
    wait_for(provider, f"/transfers/{provider_pid}", {"COMPLETED"})


def test_manual_transfer_waits_for_the_operator(start_connector: Any) -> None:
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "weather", transfer="manual")
    agreement = _agreement(consumer, provider, provider_did, "weather")
    pid = _request(consumer, provider, provider_did, agreement)
    requested = wait_for(consumer, f"/transfers/{pid}", {"REQUESTED"})
    provider_pid = requested["providerPid"]
    assert mgmt("GET", provider, f"/transfers/{provider_pid}").json()["state"] == "REQUESTED"
    assert mgmt("POST", consumer, f"/transfers/{pid}/start").status_code == 409
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/start").status_code == 200
    assert wait_for(consumer, f"/transfers/{pid}", {"STARTED"})["dataAddress"]
    assert mgmt("POST", consumer, f"/transfers/{pid}/terminate").status_code == 200
    wait_for(provider, f"/transfers/{provider_pid}", {"TERMINATED"})
