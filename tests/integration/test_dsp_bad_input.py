"""Bad input at the DSP endpoints of a real connector: 4xx with a DSP error body, state
unchanged, nothing half-written, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx

from .dsp_helpers import ENV, add_dataset, did_of, dsp_as, mgmt, negotiate, offer_for, wait_for

CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]


def test_bad_input_is_refused_without_side_effects(start_connector: Any) -> None:
    provider_proc = start_connector("provider", **ENV)
    consumer_proc = start_connector("consumer", **ENV)
    provider, consumer = provider_proc.url, consumer_proc.url
    provider_did = did_of(provider)
    dsp = provider + "/api/dsp"
    add_dataset(provider, "energy")
    as_consumer = dsp_as(consumer_proc, consumer, provider_did)
    as_provider_itself = dsp_as(provider_proc, provider, provider_did)

    # version document: no authentication
    version = httpx.get(provider + "/.well-known/dspace-version", timeout=5).json()
    assert version["protocolVersions"][0] == {
        "version": "2025-1",
        "path": "/api/dsp",
        "binding": "HTTPS",
        "identifierType": "did:web",
    }

    # 401 without a token, with a DSP error body
    denied = httpx.post(
        dsp + "/catalog/request",
        json={"@context": CTX, "@type": "CatalogRequestMessage"},
        timeout=5,
    )
    assert denied.status_code == 401
    assert denied.json()["@type"] == "CatalogError"

    # catalogue: an unsupported filter is a 400; pages are linked with next/previous
    filtered = as_consumer(
        "POST",
        dsp + "/catalog/request",
        {"@context": CTX, "@type": "CatalogRequestMessage", "filter": ["x"]},
    )
    assert filtered.status_code == 400
    assert filtered.json()["@type"] == "CatalogError"
    request = {"@context": CTX, "@type": "CatalogRequestMessage"}
    first = as_consumer("POST", dsp + "/catalog/request?limit=1", request)
    assert first.status_code == 200
    assert first.links["next"]["url"].startswith(dsp + "/catalog/request?after=")
    second = as_consumer("POST", first.links["next"]["url"], request)
    assert second.status_code == 200
    assert "previous" in second.links
    assert second.json()["dataset"][0]["@id"] != first.json()["dataset"][0]["@id"]

    # schema-invalid request: 400, nothing created
    offer = offer_for(consumer, provider, provider_did, "energy")
    broken = as_consumer(
        "POST",
        dsp + "/negotiations/request",
        {
            "@context": CTX,
            "@type": "ContractRequestMessage",
            "consumerPid": "urn:uuid:x1",
            "callbackAddress": consumer + "/api/dsp",
        },
    )
    assert broken.status_code == 400
    assert broken.json()["@type"] == "ContractNegotiationError"
    assert broken.json()["code"] == "missing_field"

    # a modified offer: 400, nothing created
    modified = {**offer, "@type": "Offer", "permission": [{"action": "distribute"}]}
    refused = as_consumer(
        "POST",
        dsp + "/negotiations/request",
        {
            "@context": CTX,
            "@type": "ContractRequestMessage",
            "consumerPid": "urn:uuid:x2",
            "callbackAddress": consumer + "/api/dsp",
            "offer": modified,
        },
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "offer_modified"
    assert mgmt("GET", provider, "/negotiations").json() == []

    # a callback address no answer could reach, or an oversized pid: 400, nothing created
    for pid, callback, code in (
        ("urn:uuid:x3", "not a url", "invalid_callback"),
        ("urn:uuid:x4", "http://10.0.0.1/api/dsp", "invalid_callback"),
        ("urn:uuid:x5", "ftp://example.org/dsp", "invalid_callback"),
        ("x" * 100_000, consumer + "/api/dsp", "invalid_field"),
        ("", consumer + "/api/dsp", "invalid_field"),
    ):
        unusable = as_consumer(
            "POST",
            dsp + "/negotiations/request",
            {
                "@context": CTX,
                "@type": "ContractRequestMessage",
                "consumerPid": pid,
                "callbackAddress": callback,
                "offer": offer,
            },
        )
        assert unusable.status_code == 400, (callback, unusable.text)
        assert unusable.json()["code"] == code, unusable.text
    assert mgmt("GET", provider, "/negotiations").json() == []

    # unknown pid: 404
    unknown = as_consumer("GET", dsp + "/negotiations/urn:uuid:nope")
    assert unknown.status_code == 404
    assert unknown.json()["@type"] == "ContractNegotiationError"

    # a real negotiation, then: another participant's pid is 404 too
    started = negotiate(consumer, provider, provider_did, "energy")
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED"})
    provider_pid = done["providerPid"]
    assert as_consumer("GET", dsp + f"/negotiations/{provider_pid}").json()["state"] == "FINALIZED"
    foreign = as_provider_itself("GET", dsp + f"/negotiations/{provider_pid}")
    assert foreign.status_code == 404
    assert foreign.json()["consumerPid"] == foreign.json()["providerPid"] == ""  # no leak

    # replayed / out-of-order messages on a finalized negotiation: 400, state unchanged
    ids = {"consumerPid": started["id"], "providerPid": provider_pid}
    for path, body in (
        ("/agreement/verification", {"@type": "ContractAgreementVerificationMessage"}),
        ("/events", {"@type": "ContractNegotiationEventMessage", "eventType": "ACCEPTED"}),
        ("/termination", {"@type": "ContractNegotiationTerminationMessage"}),
    ):
        answer = as_consumer(
            "POST", dsp + f"/negotiations/{provider_pid}{path}", {"@context": CTX, **ids, **body}
        )
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["@type"] == "ContractNegotiationError"
        assert answer.json()["providerPid"] == provider_pid
    assert mgmt("GET", provider, f"/negotiations/{provider_pid}").json()["state"] == "FINALIZED"

    # a message naming another process: 400
    wrong = as_consumer(
        "POST",
        dsp + f"/negotiations/{provider_pid}/termination",
        {
            "@context": CTX,
            "@type": "ContractNegotiationTerminationMessage",
            "consumerPid": "urn:uuid:other",
            "providerPid": provider_pid,
        },
    )
    assert wrong.status_code == 400

    # transfers: unknown agreement is refused, unknown transfer is 404
    transfer = as_consumer(
        "POST",
        dsp + "/transfers/request",
        {
            "@context": CTX,
            "@type": "TransferRequestMessage",
            "consumerPid": "urn:uuid:t1",
            "agreementId": "urn:uuid:nope",
            "format": "HttpData-PULL",
            "callbackAddress": consumer + "/api/dsp",
        },
    )
    assert transfer.status_code == 400
    assert transfer.json()["@type"] == "TransferError"
    assert as_consumer("GET", dsp + "/transfers/urn:uuid:t1").status_code == 404

    # management API: 409 for an action not allowed in the state or role, 404 unknown
    assert mgmt("POST", provider, f"/negotiations/{provider_pid}/accept").status_code == 409
    assert mgmt("POST", provider, f"/negotiations/{provider_pid}/terminate").status_code == 409
    assert mgmt("POST", provider, "/negotiations/urn:uuid:nope/agree").status_code == 404
    assert mgmt("POST", provider, "/datasets", {"title": "x"}).status_code == 400
