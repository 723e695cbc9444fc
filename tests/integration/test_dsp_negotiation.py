"""Two real connector processes negotiate a contract over DSP 2025-1 (SQLite)."""

from __future__ import annotations

from typing import Any

from .dsp_helpers import ENV, add_dataset, did_of, mgmt, offer_for, wait_for


def test_auto_negotiation_reaches_finalized_on_both_sides(start_connector: Any) -> None:
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "energy")
    offer = offer_for(consumer, provider, provider_did, "energy")
    started = mgmt(
        "POST",
        consumer,
        "/negotiations",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "offer": offer,
        },
    )
    assert started.status_code == 201, started.text
    assert started.json()["state"] in {"INITIAL", "REQUESTED", "AGREED", "VERIFIED", "FINALIZED"}
    pid = started.json()["id"]
    done = wait_for(consumer, f"/negotiations/{pid}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    agreement_id = done["agreementId"]
    provider_view = wait_for(provider, f"/negotiations/{done['providerPid']}", {"FINALIZED"})
    assert provider_view["role"] == "PROVIDER"
    assert [s["to"] for s in provider_view["history"]] == [
        "REQUESTED",
        "AGREED",
        "VERIFIED",
        "FINALIZED",
    ]
    for side in (consumer, provider):
        agreement = mgmt("GET", side, f"/agreements/{agreement_id}")
        assert agreement.status_code == 200, agreement.text
        assert agreement.json()["datasetId"] == "energy"
        assert agreement.json()["assigner"] == provider_did


def test_manual_negotiation_with_counter_offer_and_termination(start_connector: Any) -> None:
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "weather", negotiation="manual")
    offer = offer_for(consumer, provider, provider_did, "weather")
    started = mgmt(
        "POST",
        consumer,
        "/negotiations",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "offer": offer,
        },
    ).json()
    requested = wait_for(consumer, f"/negotiations/{started['id']}", {"REQUESTED"})
    provider_pid = requested["providerPid"]
    waiting = wait_for(provider, f"/negotiations/{provider_pid}", {"REQUESTED"})
    assert waiting["role"] == "PROVIDER"
    assert waiting["contractCheck"]["permitted"] is True  # decided, the operator agrees or not
    # the consumer cannot agree; the provider cannot accept (409)
    assert mgmt("POST", consumer, f"/negotiations/{started['id']}/agree").status_code == 409
    assert mgmt("POST", provider, f"/negotiations/{provider_pid}/accept").status_code == 409
    # provider counter-offers, consumer accepts, provider agrees
    answer = mgmt("POST", provider, f"/negotiations/{provider_pid}/offer", {"offer": offer})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"state": "REQUESTED"}  # unchanged until the consumer acknowledges
    wait_for(consumer, f"/negotiations/{started['id']}", {"OFFERED"})
    wait_for(provider, f"/negotiations/{provider_pid}", {"OFFERED"})
    assert mgmt("POST", consumer, f"/negotiations/{started['id']}/accept").status_code == 200
    wait_for(provider, f"/negotiations/{provider_pid}", {"ACCEPTED"})
    assert mgmt("POST", provider, f"/negotiations/{provider_pid}/agree").status_code == 200
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED"})
    assert [s["to"] for s in done["history"]] == [
        "REQUESTED",
        "OFFERED",
        "ACCEPTED",
        "AGREED",
        "VERIFIED",
        "FINALIZED",
    ]
    wait_for(provider, f"/negotiations/{provider_pid}", {"FINALIZED"})

    # a second negotiation, terminated by the consumer's operator while the provider waits
    second = mgmt(
        "POST",
        consumer,
        "/negotiations",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "offer": offer,
        },
    ).json()
    other = wait_for(consumer, f"/negotiations/{second['id']}", {"REQUESTED"})
    stop = mgmt("POST", consumer, f"/negotiations/{second['id']}/terminate", {"reason": "changed"})
    assert stop.status_code == 200
    mine = wait_for(consumer, f"/negotiations/{second['id']}", {"TERMINATED"})
    theirs = wait_for(provider, f"/negotiations/{other['providerPid']}", {"TERMINATED"})
    # both sides say why: the operator's own reason, and the reason as received
    assert mine["termination"] == {"by": "CONSUMER", "code": "terminated", "reason": ["changed"]}
    assert theirs["termination"] == mine["termination"]
    listed = mgmt("GET", provider, "/negotiations?state=TERMINATED&role=provider").json()
    assert [n["id"] for n in listed] == [other["providerPid"]]


def test_auto_mode_terminates_when_the_contract_policy_refuses(start_connector: Any) -> None:
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    add_dataset(provider, "partners", policy="partner-only")
    offer = offer_for(consumer, provider, provider_did, "partners")
    started = mgmt(
        "POST",
        consumer,
        "/negotiations",
        {
            "counterPartyAddress": provider + "/api/dsp",
            "counterPartyId": provider_did,
            "offer": offer,
        },
    ).json()
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"TERMINATED", "FINALIZED"})
    assert done["state"] == "TERMINATED"
    assert mgmt("GET", consumer, "/agreements").json() == []
    # the consumer reads the provider's explanation; the provider shows the same, as its own
    why = done["termination"]
    assert why["by"] == "PROVIDER" and why["reason"] and isinstance(why["reason"][0], str)
    theirs = wait_for(provider, f"/negotiations/{done['providerPid']}", {"TERMINATED"})
    assert theirs["termination"] == why
