"""Two real connector processes: negotiate, then transfer (auto and manual provider modes)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .dsp_helpers import ENV, OPEN_POLICY, add_dataset, did_of, mgmt, negotiate, wait_for


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


def _token(transfer: dict[str, Any]) -> tuple[str, dict[str, str]]:
    address = transfer["dataAddress"]
    props = {p["name"]: p["value"] for p in address["endpointProperties"]}
    return address["endpoint"], {"Authorization": f"Bearer {props['authorization']}"}


def _started_with_new_address(consumer: str, pid: str, old: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        view = mgmt("GET", consumer, f"/transfers/{pid}").json()
        if view["state"] == "STARTED" and view.get("dataAddress") and _token(view)[1] != old:
            return view
        time.sleep(0.02)
    raise AssertionError(f"no fresh data address: {view}")


def test_every_resume_sends_a_fresh_data_address(start_connector: Any) -> None:
    provider_proc = start_connector("provider", **ENV)
    provider = provider_proc.url
    consumer = start_connector("consumer", **ENV).url
    (provider_proc.data_dir / "resume.csv").write_text("a,b\n1,2\n")
    provider_did = did_of(provider)
    response = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": "resumable",
            "title": "Resumable",
            "source": {"type": "file", "path": "resume.csv", "mediaType": "text/csv"},
            "policy": OPEN_POLICY,
        },
    )
    assert response.status_code == 201, response.text
    agreement = _agreement(consumer, provider, provider_did, "resumable")
    pid = _request(consumer, provider, provider_did, agreement)
    first = wait_for(consumer, f"/transfers/{pid}", {"STARTED", "TERMINATED"})
    endpoint, first_auth = _token(first)
    assert httpx.get(endpoint, headers=first_auth, timeout=10).text == "a,b\n1,2\n"
    provider_pid = first["providerPid"]
    wait_for(provider, f"/transfers/{provider_pid}", {"STARTED"})

    # suspended: the old token is refused; the provider's operator resumes with a new one
    assert mgmt("POST", consumer, f"/transfers/{pid}/suspend").status_code == 200
    wait_for(provider, f"/transfers/{provider_pid}", {"SUSPENDED"})
    wait_for(consumer, f"/transfers/{pid}", {"SUSPENDED"})
    assert httpx.get(endpoint, headers=first_auth, timeout=10).status_code in (401, 403)
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/start").status_code == 200
    second = _started_with_new_address(consumer, pid, first_auth)
    wait_for(provider, f"/transfers/{provider_pid}", {"STARTED"})
    endpoint, second_auth = _token(second)
    assert httpx.get(endpoint, headers=first_auth, timeout=10).status_code in (401, 403)
    assert httpx.get(endpoint, headers=second_auth, timeout=10).text == "a,b\n1,2\n"
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/start").status_code == 409

    # suspended by the provider, resumed by the consumer: the provider still sends a new address
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/suspend").status_code == 200
    wait_for(consumer, f"/transfers/{pid}", {"SUSPENDED"})
    wait_for(provider, f"/transfers/{provider_pid}", {"SUSPENDED"})
    assert httpx.get(endpoint, headers=second_auth, timeout=10).status_code in (401, 403)
    assert mgmt("POST", consumer, f"/transfers/{pid}/start").status_code == 200
    third = _started_with_new_address(consumer, pid, second_auth)
    wait_for(provider, f"/transfers/{provider_pid}", {"STARTED"})
    endpoint, third_auth = _token(third)
    assert httpx.get(endpoint, headers=second_auth, timeout=10).status_code in (401, 403)
    assert httpx.get(endpoint, headers=third_auth, timeout=10).text == "a,b\n1,2\n"
    assert mgmt("POST", consumer, f"/transfers/{pid}/complete").status_code == 200
    wait_for(provider, f"/transfers/{provider_pid}", {"COMPLETED"})
