"""The cases of the Eclipse DSP TCK (dsp-tck, DSP 2025-1), played against one real connector.

A scripted counterpart (:class:`Partner`: a small HTTP server on loopback with its own did:web
document) plays the TCK's side: it sends the TCK's messages to the connector's DSP endpoints,
records the DSP messages the connector sends back to it and answers them as the TCK does. The
connector is driven only through its management API and its DSP endpoints, as the outside
suite drives it. Each case is named by its TCK id (``MET:``, ``CAT:``, ``CN:`` — connector is the
provider, ``CN_C:`` — connector is the consumer, ``TP:``, ``TP_C:``); the extra cases (``AUTH``,
``PID``) cover authentication and process ownership.

What is checked, as the TCK checks it: status codes (201 + process body on creation, 200
otherwise, 4xx + DSP error body for an illegal transition, with the state unchanged), the
state the connector reports on ``GET /negotiations/{pid}`` / ``GET /transfers/{pid}``, and that
every message the connector sends or answers validates against the official DSP 2025-1 schemas
(``../shared/vectors/dsp-2025-1``).

Where the TCK's own counterpart acts (a provider that offers, agrees or terminates; a consumer
that accepts or terminates), the connector's operator does it through the management API:
datasets in ``manual`` mode wait for it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connector.clock import SystemClock
from connector.credentials.did_web import build_did_document, did_from_url
from connector.identity.tokens import SelfIssuedTokenSource

from .conftest import connector_env, free_port, launch, stop
from .dsp_helpers import ENV, add_dataset, did_of, mgmt
from .tck_counterpart import CTX, PULL, WAIT, Partner, Schemas, Tck, handler, keyset

TCK_ADDRESS = {  # the data address of the TCK's TransferStartMessage
    "@type": "DataAddress",
    "endpoint": "http://example.com",
    "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
}


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    ref: list[Partner] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(ref))
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    did, other_did = did_from_url(url), did_from_url(url + "/other")
    keys, other_keys = keyset(did), keyset(other_did)
    clock = SystemClock()
    ref.append(
        Partner(
            url=url,
            did=did,
            other_did=other_did,
            tokens=SelfIssuedTokenSource(keys, clock),
            other_tokens=SelfIssuedTokenSource(other_keys, clock),
            documents={
                "/.well-known/did.json": build_did_document(keys),
                "/other/did.json": build_did_document(other_keys),
            },
        )
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ref[0]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def connector_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One connector process for the whole module (every case uses its own processes)."""
    tmp = tmp_path_factory.mktemp("tck")
    port = free_port()
    env = connector_env(tmp / "data", port, **ENV)
    handle = launch(tmp / "data", port, tmp / "connector.log", env)
    url = handle.url
    add_dataset(url, "tck-auto")  # negotiation and transfer automatic
    add_dataset(url, "tck-manual", negotiation="manual", transfer="manual")
    add_dataset(url, "tck-tp-manual", transfer="manual")  # agreements automatic
    yield url
    stop(handle.process)


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


@pytest.fixture(scope="module")
def tck(schemas: Schemas, connector_url: str, partner: Partner) -> Tck:
    return Tck(connector_url, partner, schemas, did_of(connector_url))


# the cases --------------------------------------------------------------------------------------

Case = Callable[[Tck], None]
CASES: list[tuple[str, Case]] = []


def case(case_id: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES.append((case_id, fn))
        return fn

    return register


N, T = "negotiations", "transfers"

# metadata and catalogue (connector: provider) ---------------------------------------------------


@case("MET:01-01")
def met_01_01(t: Tck) -> None:
    response = httpx.get(t.url + "/.well-known/dspace-version", timeout=5)  # no authentication
    assert response.status_code == 200
    versions = response.json()["protocolVersions"]
    assert any(
        v["version"] == "2025-1" and v["path"] == "/api/dsp" and v["binding"] == "HTTPS"
        for v in versions
    ), versions


@case("CAT:01-01")
def cat_01_01(t: Tck) -> None:
    body: dict[str, Any] = {
        "@context": CTX,
        "@id": "urn:uuid:cat",
        "@type": "CatalogRequestMessage",
    }
    response = t.call("POST", "/catalog/request", body)
    ids: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        catalog = response.json()
        t.schemas.check(catalog, "Catalog")
        assert catalog["participantId"] == t.did
        ids.extend(d["@id"] for d in catalog.get("dataset", []))
        if "next" not in response.links:
            break
        response = httpx.post(
            response.links["next"]["url"],
            json=body,
            headers={"authorization": t.partner.tokens.token_for(t.did)},
            timeout=10,
        )
    assert {"tck-auto", "tck-manual", "tck-tp-manual"} <= set(ids)


@case("CAT:01-02")
def cat_01_02(t: Tck) -> None:
    response = t.call("GET", "/catalog/datasets/tck-auto")
    assert response.status_code == 200, response.text
    dataset = {"@context": CTX, **response.json()}
    t.schemas.check(dataset, "Dataset")
    assert dataset["@id"] == "tck-auto"
    assert dataset["hasPolicy"] and dataset["distribution"]


@case("CAT:01-03")
def cat_01_03(t: Tck) -> None:
    response = t.call("GET", f"/catalog/datasets/urn:uuid:{uuid.uuid4()}")
    assert 400 <= response.status_code < 500 and response.status_code == 404
    t.schemas.check(response.json(), "CatalogError")


# contract negotiation, connector = provider ------------------------------------------------------


@case("CN:01-01")
def cn_01_01(t: Tck) -> None:  # request, offer, consumer terminated
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.terminate_negotiation(cpid, ppid, ppid)
    t.assert_state(N, ppid, "TERMINATED")


@case("CN:01-02")
def cn_01_02(t: Tck) -> None:  # request, offer, consumer counter-offer, provider terminated
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    # the TCK's counter-offer: the case's offer again, with assigner and assignee
    counter = {**t.tck_offer("tck-manual"), "assigner": t.did, "assignee": t.partner.did}
    t.counter_request(cpid, ppid, counter)
    t.assert_state(N, ppid, "REQUESTED")
    t.act(N, ppid, "terminate", {"reason": "counter-offer declined"})
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:01-02-other-terms")
def cn_01_02_other_terms(t: Tck) -> None:  # as CN:01-02, the counter-offer of other terms
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    counter = {**t.tck_offer("tck-manual"), "@id": "urn:tck:CD123:ACN0102:456"}
    counter["permission"] = [{"action": "use"}, {"action": "distribute"}]
    t.counter_request(cpid, ppid, counter)
    t.assert_state(N, ppid, "REQUESTED")
    view = mgmt("GET", t.url, f"/negotiations/{ppid}").json()
    assert view["offerId"] == "urn:tck:CD123:ACN0102:456" and not view["contractCheck"]["permitted"]
    refused = mgmt("POST", t.url, f"/negotiations/{ppid}/agree")  # never agreed by itself
    assert refused.status_code == 409, refused.text
    t.act(N, ppid, "terminate", {"reason": "counter-offer declined"})
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:01-03")
def cn_01_03(t: Tck) -> None:  # request, offer, accepted, agreement, verified, finalized
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.event(cpid, ppid, "ACCEPTED", ppid)
    t.assert_state(N, ppid, "ACCEPTED")
    t.act(N, ppid, "agree")
    t.agreed_by_provider(cpid)
    t.wait_state(N, ppid, "AGREED")
    t.verify(cpid, ppid)
    assert t.expect(f"/negotiations/{cpid}/events").body["eventType"] == "FINALIZED"
    t.wait_state(N, ppid, "FINALIZED")


@case("CN:01-04")
def cn_01_04(t: Tck) -> None:  # request, agreement, verified, finalized
    cpid, ppid = t.request("tck-auto")
    t.agreed_by_provider(cpid)
    t.wait_state(N, ppid, "AGREED")
    t.verify(cpid, ppid)
    assert t.expect(f"/negotiations/{cpid}/events").body["eventType"] == "FINALIZED"
    t.wait_state(N, ppid, "FINALIZED")


@case("CN:02-01")
def cn_02_01(t: Tck) -> None:  # request, provider terminated
    cpid, ppid = t.request("tck-manual")
    t.act(N, ppid, "terminate")
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:02-02")
def cn_02_02(t: Tck) -> None:  # request, consumer terminated
    cpid, ppid = t.request("tck-manual")
    t.terminate_negotiation(cpid, ppid, ppid)
    t.assert_state(N, ppid, "TERMINATED")


@case("CN:02-03")
def cn_02_03(t: Tck) -> None:  # request, agreement, consumer terminated
    cpid, ppid = t.request("tck-auto")
    t.agreed_by_provider(cpid)
    t.wait_state(N, ppid, "AGREED")
    t.terminate_negotiation(cpid, ppid, ppid)
    t.assert_state(N, ppid, "TERMINATED")


@case("CN:02-04")
def cn_02_04(t: Tck) -> None:  # request, offer, consumer terminated
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.terminate_negotiation(cpid, ppid, ppid)
    t.assert_state(N, ppid, "TERMINATED")


@case("CN:02-05")
def cn_02_05(t: Tck) -> None:  # request, offer, provider terminated
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.act(N, ppid, "terminate")
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:02-06")
def cn_02_06(t: Tck) -> None:  # request, offer, accepted, provider terminated
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.event(cpid, ppid, "ACCEPTED", ppid)
    t.assert_state(N, ppid, "ACCEPTED")
    t.act(N, ppid, "terminate")
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:02-07")
def cn_02_07(t: Tck) -> None:  # request, agreement, verified, provider terminated
    cpid, ppid = t.request("tck-auto")
    t.agreed_by_provider(cpid)
    t.wait_state(N, ppid, "AGREED")
    # the partner does not take the automatic FINALIZED event yet (503: retried with backoff):
    # the negotiation stays VERIFIED while the event waits, and the operator terminates it
    t.partner.refusals[f"/negotiations/{re.escape(cpid)}/events"] = 503
    t.verify(cpid, ppid)
    t.expect(f"/negotiations/{cpid}/events")
    t.assert_state(N, ppid, "VERIFIED")
    t.act(N, ppid, "terminate")
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:02-07-refused")
def cn_02_07_refused(t: Tck) -> None:  # as CN:02-07, the partner refusing the FINALIZED (404)
    cpid, ppid = t.request("tck-auto")
    t.agreed_by_provider(cpid)
    t.wait_state(N, ppid, "AGREED")
    t.partner.refusals[f"/negotiations/{re.escape(cpid)}/events"] = 404
    t.verify(cpid, ppid)
    t.expect(f"/negotiations/{cpid}/events")
    t.assert_state(N, ppid, "VERIFIED")
    t.act(N, ppid, "terminate")  # the refused event was dropped; nothing is pending
    t.expect(f"/negotiations/{cpid}/termination")
    t.wait_state(N, ppid, "TERMINATED")


@case("CN:03-01")
def cn_03_01(t: Tck) -> None:  # finalized, then an illegal consumer termination
    cpid, ppid = t.request("tck-auto")
    t.agreed_by_provider(cpid)
    t.wait_state(N, ppid, "AGREED")
    t.verify(cpid, ppid)
    t.expect(f"/negotiations/{cpid}/events")
    t.wait_state(N, ppid, "FINALIZED")
    t.terminate_negotiation(cpid, ppid, ppid, status=400)
    t.assert_state(N, ppid, "FINALIZED")


@case("CN:03-02")
def cn_03_02(t: Tck) -> None:  # offer received, illegal consumer verification
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.verify(cpid, ppid, status=400)
    t.assert_state(N, ppid, "OFFERED")


@case("CN:03-03")
def cn_03_03(t: Tck) -> None:  # offer accepted, illegal consumer verification
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.event(cpid, ppid, "ACCEPTED", ppid)
    t.verify(cpid, ppid, status=400)
    t.assert_state(N, ppid, "ACCEPTED")


@case("CN:03-04")
def cn_03_04(t: Tck) -> None:  # offer, counter-request, illegal second counter-request
    cpid, ppid = t.request("tck-manual")
    t.offer_to_partner(cpid, ppid, "tck-manual")
    t.counter_request(cpid, ppid, t.tck_offer("tck-manual"))
    t.assert_state(N, ppid, "REQUESTED")
    t.counter_request(cpid, ppid, t.tck_offer("tck-manual"), status=400)
    t.assert_state(N, ppid, "REQUESTED")


# contract negotiation, connector = consumer ------------------------------------------------------


@case("CN_C:01-01")
def cn_c_01_01(t: Tck) -> None:  # offer, accepted, agreement, verified, finalized
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.assert_state(N, cpid, "OFFERED")
    t.act(N, cpid, "accept")
    assert t.expect(f"/negotiations/{ppid}/events").body["eventType"] == "ACCEPTED"
    t.wait_state(N, cpid, "ACCEPTED")
    t.send_agreement(cpid, ppid)
    t.expect(f"/negotiations/{ppid}/agreement/verification")
    t.wait_state(N, cpid, "VERIFIED")
    t.event(cpid, ppid, "FINALIZED", cpid)
    t.assert_state(N, cpid, "FINALIZED")


@case("CN_C:01-02")
def cn_c_01_02(t: Tck) -> None:  # offer, consumer counter-request, provider terminated
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.assert_state(N, cpid, "OFFERED")
    t.act(N, cpid, "request", {"offer": t.partner_offer("tck-remote", "urn:uuid:tck-counter")})
    counter = t.expect(f"/negotiations/{ppid}/request")
    assert counter.body["offer"]["@id"] == "urn:uuid:tck-counter"
    t.wait_state(N, cpid, "REQUESTED")
    t.terminate_negotiation(cpid, ppid, cpid)
    t.assert_state(N, cpid, "TERMINATED")


@case("CN_C:01-03")
def cn_c_01_03(t: Tck) -> None:  # offer, consumer terminated
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.act(N, cpid, "terminate")
    t.expect(f"/negotiations/{ppid}/termination")
    t.wait_state(N, cpid, "TERMINATED")


@case("CN_C:01-04")
def cn_c_01_04(t: Tck) -> None:  # agreement, verified, finalized
    cpid, ppid = t.start()
    t.send_agreement(cpid, ppid)
    t.expect(f"/negotiations/{ppid}/agreement/verification")
    t.wait_state(N, cpid, "VERIFIED")
    t.event(cpid, ppid, "FINALIZED", cpid)
    t.assert_state(N, cpid, "FINALIZED")


@case("CN_C:01-01-offer-before-201")
def cn_c_offer_overtakes_201(t: Tck) -> None:  # CN_C:01-01 when the offer outruns the 201
    release = threading.Event()
    t.partner.holds["/negotiations/request"] = release
    try:
        offer = {k: v for k, v in t.partner_offer("tck-remote").items() if k != "assignee"}
        started = mgmt(
            "POST",
            t.url,
            "/negotiations",
            {"counterPartyAddress": t.partner.dsp, "counterPartyId": t.partner.did, "offer": offer},
        )
        assert started.status_code == 201, started.text
        cpid = started.json()["id"]
        (request,) = _until(
            lambda: [
                m for m in t.partner.seen("/negotiations/request") if m.body["consumerPid"] == cpid
            ]
        )
        ppid = request.answer["providerPid"]
        t.send_offer(cpid, ppid)  # the 201 to our request has not arrived yet
        t.assert_state(N, cpid, "OFFERED")
    finally:
        release.set()
        del t.partner.holds["/negotiations/request"]
    t.act(N, cpid, "accept")  # nothing pending: our request counts as answered
    t.expect(f"/negotiations/{ppid}/events")
    t.wait_state(N, cpid, "ACCEPTED")
    history = mgmt("GET", t.url, f"/negotiations/{cpid}").json()["history"]
    assert [h["to"] for h in history] == ["REQUESTED", "OFFERED", "ACCEPTED"]


def _until(found: Callable[[], list[Any]]) -> list[Any]:
    deadline = time.monotonic() + WAIT
    while not (items := found()):
        assert time.monotonic() < deadline, "nothing arrived"
        time.sleep(0.01)
    return items


@case("CN_C:02-01")
def cn_c_02_01(t: Tck) -> None:  # provider terminated
    cpid, ppid = t.start()
    t.terminate_negotiation(cpid, ppid, cpid)
    t.assert_state(N, cpid, "TERMINATED")


@case("CN_C:02-02")
def cn_c_02_02(t: Tck) -> None:  # consumer terminated
    cpid, ppid = t.start()
    t.act(N, cpid, "terminate")
    t.expect(f"/negotiations/{ppid}/termination")
    t.wait_state(N, cpid, "TERMINATED")


@case("CN_C:02-03")
def cn_c_02_03(t: Tck) -> None:  # agreement, consumer terminated
    cpid, ppid = t.start()
    # the TCK does not take the automatic verification (no handler: 404): it is given up,
    # the negotiation stays AGREED, and the operator terminates it
    t.partner.refusals[f"/negotiations/{re.escape(ppid)}/agreement/verification"] = 404
    t.send_agreement(cpid, ppid)
    t.expect(f"/negotiations/{ppid}/agreement/verification")
    t.assert_state(N, cpid, "AGREED")
    t.act(N, cpid, "terminate")
    t.expect(f"/negotiations/{ppid}/termination")
    t.wait_state(N, cpid, "TERMINATED")


@case("CN_C:02-04")
def cn_c_02_04(t: Tck) -> None:  # offer, provider terminated
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.assert_state(N, cpid, "OFFERED")
    t.terminate_negotiation(cpid, ppid, cpid)
    t.assert_state(N, cpid, "TERMINATED")


@case("CN_C:02-05")
def cn_c_02_05(t: Tck) -> None:  # offer, accepted, provider terminated
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.act(N, cpid, "accept")
    t.expect(f"/negotiations/{ppid}/events")
    t.wait_state(N, cpid, "ACCEPTED")
    t.terminate_negotiation(cpid, ppid, cpid)
    t.assert_state(N, cpid, "TERMINATED")


@case("CN_C:02-06")
def cn_c_02_06(t: Tck) -> None:  # agreement, verified, provider terminated
    cpid, ppid = t.start()
    t.send_agreement(cpid, ppid)
    t.expect(f"/negotiations/{ppid}/agreement/verification")
    t.wait_state(N, cpid, "VERIFIED")
    t.terminate_negotiation(cpid, ppid, cpid)
    t.assert_state(N, cpid, "TERMINATED")


@case("CN_C:03-01")
def cn_c_03_01(t: Tck) -> None:  # illegal provider finalized
    cpid, ppid = t.start()
    t.event(cpid, ppid, "FINALIZED", cpid, status=400)
    t.assert_state(N, cpid, "REQUESTED")


@case("CN_C:03-02")
def cn_c_03_02(t: Tck) -> None:  # offer, illegal provider agreement
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.assert_state(N, cpid, "OFFERED")
    t.send_agreement(cpid, ppid, status=400)
    t.assert_state(N, cpid, "OFFERED")


@case("CN_C:03-03")
def cn_c_03_03(t: Tck) -> None:  # offer, illegal provider finalized
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.event(cpid, ppid, "FINALIZED", cpid, status=400)
    t.assert_state(N, cpid, "OFFERED")


@case("CN_C:03-04")
def cn_c_03_04(t: Tck) -> None:  # offer, accepted, illegal provider finalized
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.act(N, cpid, "accept")
    t.expect(f"/negotiations/{ppid}/events")
    t.wait_state(N, cpid, "ACCEPTED")
    t.event(cpid, ppid, "FINALIZED", cpid, status=400)
    t.assert_state(N, cpid, "ACCEPTED")


@case("CN_C:03-05")
def cn_c_03_05(t: Tck) -> None:  # offer, accepted, illegal provider offer
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.act(N, cpid, "accept")
    t.expect(f"/negotiations/{ppid}/events")
    t.wait_state(N, cpid, "ACCEPTED")
    t.send_offer(cpid, ppid, status=400)
    t.assert_state(N, cpid, "ACCEPTED")


@case("CN_C:03-06")
def cn_c_03_06(t: Tck) -> None:  # offer, accepted, agreement, illegal provider finalized
    cpid, ppid = t.start()
    t.send_offer(cpid, ppid)
    t.act(N, cpid, "accept")
    t.expect(f"/negotiations/{ppid}/events")
    t.wait_state(N, cpid, "ACCEPTED")
    # the TCK registers no verification handler in this case (404): the verification is given
    # up and the negotiation stays AGREED
    t.partner.refusals[f"/negotiations/{re.escape(ppid)}/agreement/verification"] = 404
    t.send_agreement(cpid, ppid)
    t.expect(f"/negotiations/{ppid}/agreement/verification")
    t.assert_state(N, cpid, "AGREED")
    t.event(cpid, ppid, "FINALIZED", cpid, status=400)
    t.assert_state(N, cpid, "AGREED")


# transfer process, connector = provider ----------------------------------------------------------

TS, TC, TU, TT = (
    "TransferStartMessage",
    "TransferCompletionMessage",
    "TransferSuspensionMessage",
    "TransferTerminationMessage",
)


@case("TP:01-01")
def tp_01_01(t: Tck) -> None:  # provider started, provider terminated
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.act(T, ppid, "terminate")
    t.expect(f"/transfers/{cpid}/termination")
    t.wait_state(T, ppid, "TERMINATED")


@case("TP:01-01-start-pending")
def tp_01_01_start_pending(t: Tck) -> None:  # TP:01-01 while the partner cannot take the start
    cpid, ppid = t.transfer_request()
    t.partner.refusals[f"/transfers/{re.escape(cpid)}/start"] = 503  # retried with backoff
    t.act(T, ppid, "start")
    t.expect(f"/transfers/{cpid}/start")
    t.assert_state(T, ppid, "REQUESTED")  # the start waits: never reported as STARTED
    t.act(T, ppid, "terminate")  # the pending start is dropped
    t.expect(f"/transfers/{cpid}/termination")
    t.wait_state(T, ppid, "TERMINATED")


@case("TP:01-02")
def tp_01_02(t: Tck) -> None:  # provider started, provider completed
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.act(T, ppid, "complete")
    t.expect(f"/transfers/{cpid}/completion")
    t.wait_state(T, ppid, "COMPLETED")


@case("TP:01-03")
def tp_01_03(t: Tck) -> None:  # provider started, suspended, terminated
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.act(T, ppid, "suspend")
    t.expect(f"/transfers/{cpid}/suspension")
    t.wait_state(T, ppid, "SUSPENDED")
    t.act(T, ppid, "terminate")
    t.expect(f"/transfers/{cpid}/termination")
    t.wait_state(T, ppid, "TERMINATED")


@case("TP:01-04")
def tp_01_04(t: Tck) -> None:  # provider started, suspended, started, completed
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.act(T, ppid, "suspend")
    t.expect(f"/transfers/{cpid}/suspension")
    t.wait_state(T, ppid, "SUSPENDED")
    t.started_by_provider(cpid, ppid, count=2)
    t.act(T, ppid, "complete")
    t.expect(f"/transfers/{cpid}/completion")
    t.wait_state(T, ppid, "COMPLETED")


@case("TP:01-05")
def tp_01_05(t: Tck) -> None:  # provider terminated
    cpid, ppid = t.transfer_request()
    t.act(T, ppid, "terminate")
    t.expect(f"/transfers/{cpid}/termination")
    t.wait_state(T, ppid, "TERMINATED")


@case("TP:02-01")
def tp_02_01(t: Tck) -> None:  # provider started (auto), consumer terminated
    cpid, ppid = t.transfer_request("tck-auto")
    t.start_received(cpid, ppid)
    t.transfer_message(TT, cpid, ppid, ppid)
    t.assert_state(T, ppid, "TERMINATED")


@case("TP:02-02")
def tp_02_02(t: Tck) -> None:  # provider started, consumer completed
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TC, cpid, ppid, ppid)
    t.assert_state(T, ppid, "COMPLETED")


@case("TP:02-03")
def tp_02_03(t: Tck) -> None:  # provider started, consumer suspended, consumer terminated
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TU, cpid, ppid, ppid)
    t.assert_state(T, ppid, "SUSPENDED")
    t.transfer_message(TT, cpid, ppid, ppid)
    t.assert_state(T, ppid, "TERMINATED")


@case("TP:02-04")
def tp_02_04(t: Tck) -> None:  # consumer suspended, consumer started, consumer completed
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TU, cpid, ppid, ppid)
    t.assert_state(T, ppid, "SUSPENDED")
    t.transfer_message(TS, cpid, ppid, ppid)
    t.assert_state(T, ppid, "STARTED")
    t.transfer_message(TC, cpid, ppid, ppid)
    t.assert_state(T, ppid, "COMPLETED")


@case("TP:02-05")
def tp_02_05(t: Tck) -> None:  # consumer terminated
    cpid, ppid = t.transfer_request()
    t.assert_state(T, ppid, "REQUESTED")
    t.transfer_message(TT, cpid, ppid, ppid)
    t.assert_state(T, ppid, "TERMINATED")


@case("TP:request-idempotent")
def tp_request_idempotent(t: Tck) -> None:  # TransferRequestMessage is idempotent on consumerPid
    agreement_id = t.provider_agreement("tck-tp-manual")
    cpid = f"urn:uuid:tck-{uuid.uuid4()}"
    message = {
        "@type": "TransferRequestMessage",
        "consumerPid": cpid,
        "agreementId": agreement_id,
        "format": PULL,
        "callbackAddress": t.partner.dsp,
    }
    first = t.post("/transfers/request", message, status=201)
    again = t.call("POST", "/transfers/request", {"@context": CTX, **message})
    assert again.status_code in (200, 201), again.text
    t.schemas.check(again.json(), "TransferProcess")
    assert again.json()["providerPid"] == first["providerPid"]
    listed = mgmt("GET", t.url, "/transfers?limit=1000").json()
    assert sum(1 for x in listed if x["consumerPid"] == cpid) == 1


@case("TP:03-01")
def tp_03_01(t: Tck) -> None:  # illegal consumer completion
    cpid, ppid = t.transfer_request()
    t.transfer_message(TC, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "REQUESTED")


@case("TP:03-01-auto-start-refused")
def tp_03_01_auto(t: Tck) -> None:  # TP:03-01 on an auto dataset: the TCK has no start handler
    cpid = f"urn:uuid:tck-{uuid.uuid4()}"
    t.partner.refusals[f"/transfers/{re.escape(cpid)}/start"] = 404
    cpid, ppid = t.transfer_request("tck-auto", cpid)
    t.expect(f"/transfers/{cpid}/start")  # refused: the start is given up
    t.transfer_message(TC, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "REQUESTED")


@case("TP:03-02")
def tp_03_02(t: Tck) -> None:  # illegal consumer suspension
    cpid, ppid = t.transfer_request()
    t.transfer_message(TU, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "REQUESTED")


@case("TP:03-03")
def tp_03_03(t: Tck) -> None:  # started, consumer suspended, illegal consumer completion
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TU, cpid, ppid, ppid)
    t.transfer_message(TC, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "SUSPENDED")


@case("TP:03-04")
def tp_03_04(t: Tck) -> None:  # started, consumer terminated, illegal consumer start
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TT, cpid, ppid, ppid)
    t.transfer_message(TS, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "TERMINATED")


@case("TP:03-05")
def tp_03_05(t: Tck) -> None:  # started, consumer terminated, illegal consumer suspension
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TT, cpid, ppid, ppid)
    t.transfer_message(TU, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "TERMINATED")


@case("TP:03-06")
def tp_03_06(t: Tck) -> None:  # started, consumer terminated, illegal consumer completion
    cpid, ppid = t.transfer_request()
    t.started_by_provider(cpid, ppid)
    t.transfer_message(TT, cpid, ppid, ppid)
    t.transfer_message(TC, cpid, ppid, ppid, status=400)
    t.assert_state(T, ppid, "TERMINATED")


# transfer process, connector = consumer ----------------------------------------------------------


def _partner_starts(t: Tck, cpid: str, ppid: str) -> None:
    t.transfer_message(TS, cpid, ppid, cpid, dataAddress=TCK_ADDRESS)
    t.assert_state(T, cpid, "STARTED")


@case("TP_C:01-01")
def tp_c_01_01(t: Tck) -> None:  # provider started, provider terminated
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TT, cpid, ppid, cpid)
    t.assert_state(T, cpid, "TERMINATED")


@case("TP_C:01-01-start-before-201")
def tp_c_start_overtakes_201(t: Tck) -> None:  # TP_C:01-01 when the start outruns the 201
    t.consumer_agreement()
    release = threading.Event()
    t.partner.holds["/transfers/request"] = release
    try:
        cpid, ppid = t.request_transfer(answered=False)
        _partner_starts(t, cpid, ppid)  # the 201 to our request has not arrived yet
    finally:
        release.set()
        del t.partner.holds["/transfers/request"]
    t.act(T, cpid, "complete")  # nothing pending: our request counts as answered
    t.expect(f"/transfers/{ppid}/completion")
    t.wait_state(T, cpid, "COMPLETED")


@case("TP_C:01-02")
def tp_c_01_02(t: Tck) -> None:  # provider started, provider completed
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TC, cpid, ppid, cpid)
    t.assert_state(T, cpid, "COMPLETED")


@case("TP_C:01-03")
def tp_c_01_03(t: Tck) -> None:  # provider started, suspended, terminated
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TU, cpid, ppid, cpid)
    t.assert_state(T, cpid, "SUSPENDED")
    t.transfer_message(TT, cpid, ppid, cpid)
    t.assert_state(T, cpid, "TERMINATED")


@case("TP_C:01-04")
def tp_c_01_04(t: Tck) -> None:  # provider started, suspended, started, completed
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TU, cpid, ppid, cpid)
    t.assert_state(T, cpid, "SUSPENDED")
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TC, cpid, ppid, cpid)
    t.assert_state(T, cpid, "COMPLETED")


@case("TP_C:01-05")
def tp_c_01_05(t: Tck) -> None:  # provider terminated
    cpid, ppid = t.request_transfer()
    t.transfer_message(TT, cpid, ppid, cpid)
    t.assert_state(T, cpid, "TERMINATED")


@case("TP_C:02-01")
def tp_c_02_01(t: Tck) -> None:  # provider started, consumer terminated
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.act(T, cpid, "terminate")
    t.expect(f"/transfers/{ppid}/termination")
    t.wait_state(T, cpid, "TERMINATED")


@case("TP_C:02-02")
def tp_c_02_02(t: Tck) -> None:  # provider started, consumer completed
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.act(T, cpid, "complete")
    t.expect(f"/transfers/{ppid}/completion")
    t.wait_state(T, cpid, "COMPLETED")


@case("TP_C:02-03")
def tp_c_02_03(t: Tck) -> None:  # provider started, consumer suspended, consumer terminated
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.act(T, cpid, "suspend")
    t.expect(f"/transfers/{ppid}/suspension")
    t.wait_state(T, cpid, "SUSPENDED")
    t.act(T, cpid, "terminate")
    t.expect(f"/transfers/{ppid}/termination")
    t.wait_state(T, cpid, "TERMINATED")


@case("TP_C:02-04")
def tp_c_02_04(t: Tck) -> None:  # consumer suspended, consumer started, consumer completed
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.act(T, cpid, "suspend")
    t.expect(f"/transfers/{ppid}/suspension")
    t.wait_state(T, cpid, "SUSPENDED")
    t.act(T, cpid, "start")
    t.expect(f"/transfers/{ppid}/start")
    t.wait_state(T, cpid, "STARTED")
    t.act(T, cpid, "complete")
    t.expect(f"/transfers/{ppid}/completion")
    t.wait_state(T, cpid, "COMPLETED")


@case("TP_C:02-05")
def tp_c_02_05(t: Tck) -> None:  # consumer terminated
    cpid, ppid = t.request_transfer()
    t.act(T, cpid, "terminate")
    t.expect(f"/transfers/{ppid}/termination")
    t.wait_state(T, cpid, "TERMINATED")


@case("TP_C:03-01")
def tp_c_03_01(t: Tck) -> None:  # illegal provider completion
    cpid, ppid = t.request_transfer()
    t.transfer_message(TC, cpid, ppid, cpid, status=400)
    t.assert_state(T, cpid, "REQUESTED")


@case("TP_C:03-02")
def tp_c_03_02(t: Tck) -> None:  # illegal provider suspension
    cpid, ppid = t.request_transfer()
    t.transfer_message(TU, cpid, ppid, cpid, status=400)
    t.assert_state(T, cpid, "REQUESTED")


@case("TP_C:03-03")
def tp_c_03_03(t: Tck) -> None:  # started, suspended, illegal provider completion
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TU, cpid, ppid, cpid)
    t.transfer_message(TC, cpid, ppid, cpid, status=400)
    t.assert_state(T, cpid, "SUSPENDED")


@case("TP_C:03-04")
def tp_c_03_04(t: Tck) -> None:  # started, terminated, illegal provider start
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TT, cpid, ppid, cpid)
    t.transfer_message(TS, cpid, ppid, cpid, status=400, dataAddress=TCK_ADDRESS)
    t.assert_state(T, cpid, "TERMINATED")


@case("TP_C:03-05")
def tp_c_03_05(t: Tck) -> None:  # started, terminated, illegal provider suspension
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TT, cpid, ppid, cpid)
    t.transfer_message(TU, cpid, ppid, cpid, status=400)
    t.assert_state(T, cpid, "TERMINATED")


@case("TP_C:03-06")
def tp_c_03_06(t: Tck) -> None:  # started, terminated, illegal provider completion
    cpid, ppid = t.request_transfer()
    _partner_starts(t, cpid, ppid)
    t.transfer_message(TT, cpid, ppid, cpid)
    t.transfer_message(TC, cpid, ppid, cpid, status=400)
    t.assert_state(T, cpid, "TERMINATED")


# authentication and ownership -------------------------------------------------------------------


@case("AUTH:401-missing-token")
def auth_missing_token(t: Tck) -> None:
    cpid, ppid = t.request("tck-manual")
    for method, path, kind in (
        ("POST", "/catalog/request", "CatalogError"),
        ("GET", "/catalog/datasets/tck-auto", "CatalogError"),
        ("GET", f"/negotiations/{ppid}", "ContractNegotiationError"),
        ("POST", "/negotiations/request", "ContractNegotiationError"),
        ("POST", f"/negotiations/{ppid}/termination", "ContractNegotiationError"),
        ("GET", "/transfers/urn:uuid:x", "TransferError"),
        ("POST", "/transfers/request", "TransferError"),
    ):
        body = {
            "@context": CTX,
            "@type": "ContractNegotiationTerminationMessage",
            "providerPid": ppid,
            "consumerPid": cpid,
        }
        response = httpx.request(method, t.dsp + path, json=body if method == "POST" else None)
        assert response.status_code == 401, (path, response.text)
        t.schemas.check(response.json(), kind)
        bad = httpx.request(
            method,
            t.dsp + path,
            json=body if method == "POST" else None,
            headers={"authorization": "Bearer not.a.token"},
        )
        assert bad.status_code == 401, (path, bad.text)
    t.assert_state(N, ppid, "REQUESTED")


@case("PID:404-unknown")
def pid_unknown(t: Tck) -> None:
    nope = f"urn:uuid:{uuid.uuid4()}"
    ids = {"providerPid": nope, "consumerPid": nope}
    for method, path, body, kind in (
        ("GET", f"/negotiations/{nope}", None, "ContractNegotiationError"),
        (
            "POST",
            f"/negotiations/{nope}/termination",
            {"@type": "ContractNegotiationTerminationMessage", **ids},
            "ContractNegotiationError",
        ),
        (
            "POST",
            f"/negotiations/{nope}/events",
            {"@type": "ContractNegotiationEventMessage", "eventType": "ACCEPTED", **ids},
            "ContractNegotiationError",
        ),
        ("GET", f"/transfers/{nope}", None, "TransferError"),
        ("POST", f"/transfers/{nope}/completion", {"@type": TC, **ids}, "TransferError"),
    ):
        response = t.call(method, path, None if body is None else {"@context": CTX, **body})
        assert response.status_code == 404, (path, response.text)
        t.schemas.check(response.json(), kind)


@case("PID:404-other-participant")
def pid_other_participant(t: Tck) -> None:
    cpid, ppid = t.request("tck-manual")
    tcpid, tppid = t.transfer_request()
    probes = (
        ("GET", f"/negotiations/{ppid}", None, "ContractNegotiationError"),
        (
            "POST",
            f"/negotiations/{ppid}/termination",
            {
                "@type": "ContractNegotiationTerminationMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
            },
            "ContractNegotiationError",
        ),
        ("GET", f"/transfers/{tppid}", None, "TransferError"),
        (
            "POST",
            f"/transfers/{tppid}/termination",
            {"@type": TT, "providerPid": tppid, "consumerPid": tcpid},
            "TransferError",
        ),
    )
    for method, path, body, kind in probes:
        response = t.call(
            method, path, None if body is None else {"@context": CTX, **body}, as_other=True
        )
        assert response.status_code == 404, (path, response.text)
        error = response.json()
        t.schemas.check(error, kind)
        assert cpid not in json.dumps(error) and tcpid not in json.dumps(error)  # no leak
    t.assert_state(N, ppid, "REQUESTED")
    t.assert_state(T, tppid, "REQUESTED")


@pytest.mark.parametrize(("case_id", "play"), CASES, ids=[c[0] for c in CASES])
def test_tck_case(tck: Tck, case_id: str, play: Case) -> None:
    play(tck)


def test_every_tck_case_is_covered() -> None:
    """The table names every case of the TCK's provider and consumer suites."""
    ids = {c[0] for c in CASES}
    expected = {"MET:01-01", "CAT:01-01", "CAT:01-02", "CAT:01-03"}
    expected |= {f"CN:01-0{i}" for i in range(1, 5)} | {f"CN:02-0{i}" for i in range(1, 8)}
    expected |= {f"CN:03-0{i}" for i in range(1, 5)}
    expected |= {f"CN_C:01-0{i}" for i in range(1, 5)} | {f"CN_C:02-0{i}" for i in range(1, 7)}
    expected |= {f"CN_C:03-0{i}" for i in range(1, 7)}
    for prefix in ("TP", "TP_C"):
        expected |= {f"{prefix}:01-0{i}" for i in range(1, 6)}
        expected |= {f"{prefix}:02-0{i}" for i in range(1, 6)}
        expected |= {f"{prefix}:03-0{i}" for i in range(1, 7)}
    assert expected <= ids, sorted(expected - ids)
