"""The counterpart of the DSP TCK cases (tests/integration/test_dsp_tck_cases.py): a scripted
participant with its own did:web document that plays the Eclipse DSP TCK's side over HTTP,
and the official DSP 2025-1 JSON Schemas that every body is checked against."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
from dsp_vectors import SCHEMA_OF, load_official_schemas
from jsonschema import validators

from connector.credentials import keys as keymod
from connector.identity.tokens import SelfIssuedTokenSource

from .dsp_helpers import mgmt

CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]
PULL = "HttpData-PULL"
WAIT = 15.0

# the official schemas ---------------------------------------------------------------------------


class Schemas:
    """The official DSP 2025-1 JSON Schemas, by message ``@type``."""

    def __init__(self) -> None:
        self._schemas, self._registry = load_official_schemas()  # skips where they are absent

    def errors(self, body: Any) -> list[str]:
        """The schema errors of a DSP body (its ``@type`` names the schema)."""
        kind = body.get("@type") if isinstance(body, dict) else None
        if kind not in SCHEMA_OF:
            return [f"unknown @type {kind!r}"]
        schema = self._schemas[SCHEMA_OF[kind]]
        validator = validators.validator_for(schema)(schema, registry=self._registry)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def check(self, body: Any, kind: str) -> None:
        assert isinstance(body, dict) and body.get("@type") == kind, body
        assert self.errors(body) == [], (kind, self.errors(body), body)


# the scripted counterpart -----------------------------------------------------------------------


@dataclass
class Received:
    """A DSP message the connector sent to the partner, and what the partner answered."""

    path: str
    body: Any
    authorization: str | None
    status: int = 200
    answer: Any = None


@dataclass
class Partner:
    """The TCK's side: a did:web participant with a DSP base at ``/dsp`` (two identities: the
    partner itself and ``other``, a second participant for the ownership cases)."""

    url: str
    did: str
    other_did: str
    tokens: SelfIssuedTokenSource
    other_tokens: SelfIssuedTokenSource
    documents: dict[str, Any]
    received: list[Received] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    """Paths (regex, under ``/dsp``) the partner answers with this status instead of 2xx."""
    holds: dict[str, threading.Event] = field(default_factory=dict)
    """Paths (regex) whose answer waits until the event is set (an answer on its way)."""
    lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def dsp(self) -> str:
        return self.url + "/dsp"

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        """What the TCK answers a message the connector sends it."""
        for pattern, status in self.refusals.items():
            if re.fullmatch(pattern, path):
                kind = "TransferError" if path.startswith("/transfers") else "ContractNegotiation"
                return status, {
                    "@context": CTX,
                    "@type": kind + ("" if kind == "TransferError" else "Error"),
                    "providerPid": body.get("providerPid", ""),
                    "consumerPid": body.get("consumerPid", ""),
                    "code": str(status),
                }
        if path == "/negotiations/request":  # the TCK provider creates its negotiation
            return 201, {
                "@context": CTX,
                "@type": "ContractNegotiation",
                "providerPid": f"urn:uuid:tck-{uuid.uuid4()}",
                "consumerPid": body["consumerPid"],
                "state": "REQUESTED",
            }
        if re.fullmatch(r"/negotiations/[^/]+/request", path):
            return 200, {
                "@context": CTX,
                "@type": "ContractNegotiation",
                "providerPid": body["providerPid"],
                "consumerPid": body["consumerPid"],
                "state": "REQUESTED",
            }
        if re.fullmatch(r"/negotiations/[^/]+/offers", path):  # the TCK answers with its process
            return 200, {
                "@context": CTX,
                "@type": "ContractNegotiation",
                "providerPid": body["providerPid"],
                "consumerPid": body["consumerPid"],
                "state": "OFFERED",
            }
        if path == "/transfers/request":
            return 201, {
                "@context": CTX,
                "@type": "TransferProcess",
                "providerPid": f"urn:uuid:tck-{uuid.uuid4()}",
                "consumerPid": body["consumerPid"],
                "state": "REQUESTED",
            }
        return 200, None

    def expect(self, pattern: str, schemas: Schemas, *, timeout: float = WAIT) -> Received:
        """The first recorded message whose path matches ``pattern`` (waits for it); it must be
        authenticated and valid against its official schema."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for message in self.received:
                    if re.fullmatch(pattern, message.path):
                        assert message.authorization, message
                        assert message.authorization.startswith("Bearer "), message
                        schemas.check(message.body, message.body.get("@type"))
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m.path for m in self.received][-10:]
                    raise AssertionError(f"no message at {pattern}; last seen: {seen}")
                self.lock.wait(left)

    def seen(self, pattern: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if re.fullmatch(pattern, m.path)]


def handler(partner_ref: list[Partner]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _reply(self, status: int, body: Any) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            partner = partner_ref[0]
            document = partner.documents.get(self.path)
            if document is None:
                self._reply(404, {"error": "not found"})
            else:
                self._reply(200, document)

        def do_POST(self) -> None:
            partner = partner_ref[0]
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if not self.path.startswith("/dsp/"):
                self._reply(404, None)
                return
            path = self.path[len("/dsp") :]
            body = json.loads(raw) if raw else None
            status, answer = partner.answer(path, body if isinstance(body, dict) else {})
            with partner.lock:
                partner.received.append(
                    Received(path, body, self.headers.get("authorization"), status, answer)
                )
                partner.lock.notify_all()
                held = [e for p, e in partner.holds.items() if re.fullmatch(p, path)]
            for event in held:
                event.wait(WAIT)
            self._reply(status, answer)

    return Handler


def keyset(did: str) -> keymod.KeySet:
    ed = keymod.generate("ed25519")
    p256 = keymod.generate("p256")
    assert not isinstance(ed, keymod.rsa.RSAPrivateKey)
    return keymod.KeySet(did=did, ed25519=ed, p256=p256)  # type: ignore[arg-type]


# the TCK's side of the cases ----------------------------------------------------------------------


@dataclass
class Tck:
    """The counterpart's moves, and checks of what the connector answers and reports."""

    url: str
    partner: Partner
    schemas: Schemas
    did: str
    cache: dict[str, str] = field(default_factory=dict)

    @property
    def dsp(self) -> str:
        return self.url + "/api/dsp"

    # raw DSP calls to the connector, as the partner

    def call(
        self, method: str, path: str, body: Any = None, *, as_other: bool = False
    ) -> httpx.Response:
        tokens = self.partner.other_tokens if as_other else self.partner.tokens
        headers = {"authorization": tokens.token_for(self.did)}
        return httpx.request(method, self.dsp + path, json=body, headers=headers, timeout=10)

    def post(self, path: str, body: dict[str, Any], *, status: int = 200) -> dict[str, Any]:
        """POST a TCK message; the status must be ``status`` (``400`` for an illegal move) and
        the body the process (2xx) or a DSP error (4xx), schema-valid."""
        message = {"@context": CTX, "@id": f"urn:uuid:{uuid.uuid4()}", **body}
        response = self.call("POST", path, message)
        assert response.status_code == status, (path, response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        kind = "Negotiation" if path.startswith("/negotiations") else "Transfer"
        if status < 300:
            self.schemas.check(
                answer, "ContractNegotiation" if kind == "Negotiation" else "TransferProcess"
            )
        else:
            self.schemas.check(
                answer, "ContractNegotiationError" if kind == "Negotiation" else "TransferError"
            )
        return answer

    def dsp_state(self, kind: str, pid: str) -> str:
        """The state the connector reports to the partner on ``GET /{kind}/{pid}``."""
        response = self.call("GET", f"/{kind}/{pid}")
        assert response.status_code == 200, response.text
        body = response.json()
        self.schemas.check(
            body, "ContractNegotiation" if kind == "negotiations" else "TransferProcess"
        )
        state: str = body["state"]
        return state

    def wait_state(self, kind: str, pid: str, state: str) -> None:
        """Wait until the connector reports ``state`` (DSP GET and management GET agree)."""
        deadline = time.monotonic() + WAIT
        seen = ""
        while time.monotonic() < deadline:
            seen = self.dsp_state(kind, pid)
            if seen == state:
                managed = mgmt("GET", self.url, f"/{kind}/{pid}").json()
                assert managed["state"] == state, managed
                return
            time.sleep(0.01)
        raise AssertionError(f"{kind}/{pid} stayed {seen}, expected {state}")

    def assert_state(self, kind: str, pid: str, state: str) -> None:
        assert self.dsp_state(kind, pid) == state
        assert mgmt("GET", self.url, f"/{kind}/{pid}").json()["state"] == state

    def act(self, kind: str, pid: str, action: str, body: Any = None) -> None:
        """An operator action through the management API: 200, and the state it reports is
        still the one before (it changes when the partner acknowledges the message)."""
        before = mgmt("GET", self.url, f"/{kind}/{pid}").json()["state"]
        response = mgmt("POST", self.url, f"/{kind}/{pid}/{action}", body)
        assert response.status_code == 200, (action, response.text)
        assert response.json() == {"state": before}, (action, before, response.json())

    def expect(self, pattern: str) -> Received:
        """The connector's message at ``pattern``: schema-valid, with a self-issued ID token of
        the connector for the partner."""
        received = self.partner.expect(pattern, self.schemas)
        assert received.authorization is not None
        payload = received.authorization.split(" ", 1)[1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["iss"] == self.did and self.partner.did in [claims["aud"], *claims["aud"]]
        return received

    # provider role: the partner is the consumer

    def published_offer(self, dataset_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/catalog/datasets/{dataset_id}")
        assert response.status_code == 200, response.text
        offer: dict[str, Any] = response.json()["hasPolicy"][0]
        return offer

    def tck_offer(self, dataset_id: str) -> dict[str, Any]:
        """The offer of a ContractRequestMessage as the TCK writes it: ``@id``, ``@type``,
        ``target`` and the published rules."""
        offer = self.published_offer(dataset_id)
        assert offer["permission"] == [{"action": "use"}], offer  # the TCK's own rules
        return {
            "@id": offer["@id"],
            "target": dataset_id,
            "@type": "Offer",
            "permission": [{"action": "use", "constraints": []}],  # sic, as the TCK writes it
        }

    def request(self, dataset_id: str) -> tuple[str, str]:
        """``ContractRequestMessage`` → 201 ``ContractNegotiation`` (REQUESTED); returns
        ``(consumerPid, providerPid)``."""
        cpid = f"urn:uuid:tck-{uuid.uuid4()}"
        body = self.post(
            "/negotiations/request",
            {
                "@type": "ContractRequestMessage",
                "consumerPid": cpid,
                "offer": self.tck_offer(dataset_id),
                "callbackAddress": self.partner.dsp,
            },
            status=201,
        )
        assert body["consumerPid"] == cpid and body["state"] == "REQUESTED", body
        ppid: str = body["providerPid"]
        return cpid, ppid

    def offer_to_partner(self, cpid: str, ppid: str, dataset_id: str) -> Received:
        """The operator offers (manual dataset); the partner receives the ContractOfferMessage."""
        offer = {**self.published_offer(dataset_id), "target": dataset_id}
        self.act("negotiations", ppid, "offer", {"offer": offer})
        received = self.expect(f"/negotiations/{cpid}/offers")
        assert received.body["providerPid"] == ppid and received.body["consumerPid"] == cpid
        self.wait_state("negotiations", ppid, "OFFERED")
        return received

    def event(self, cpid: str, ppid: str, event: str, pid: str, *, status: int = 200) -> None:
        self.post(
            f"/negotiations/{pid}/events",
            {
                "@type": "ContractNegotiationEventMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
                "eventType": event,
            },
            status=status,
        )

    def verify(self, cpid: str, ppid: str, *, status: int = 200) -> None:
        self.post(
            f"/negotiations/{ppid}/agreement/verification",
            {
                "@type": "ContractAgreementVerificationMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
            },
            status=status,
        )

    def terminate_negotiation(self, cpid: str, ppid: str, pid: str, *, status: int = 200) -> None:
        self.post(
            f"/negotiations/{pid}/termination",
            {
                "@type": "ContractNegotiationTerminationMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
                "code": "1",
            },
            status=status,
        )

    def counter_request(
        self, cpid: str, ppid: str, offer: dict[str, Any], *, status: int = 200
    ) -> None:
        self.post(
            f"/negotiations/{ppid}/request",
            {
                "@type": "ContractRequestMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
                "offer": offer,
            },
            status=status,
        )

    def agreed_by_provider(self, cpid: str) -> Received:
        received = self.expect(f"/negotiations/{cpid}/agreement")
        agreement = received.body["agreement"]
        assert agreement["assignee"] == self.partner.did and agreement["assigner"] == self.did
        return received

    def finalize_as_partner_consumer(self, dataset_id: str) -> str:
        """A whole negotiation with the connector as (auto) provider; the agreement id."""
        cpid, ppid = self.request(dataset_id)
        agreement = self.agreed_by_provider(cpid).body["agreement"]["@id"]
        self.wait_state("negotiations", ppid, "AGREED")
        self.verify(cpid, ppid)
        finalized = self.expect(f"/negotiations/{cpid}/events")
        assert finalized.body["eventType"] == "FINALIZED"
        self.wait_state("negotiations", ppid, "FINALIZED")
        return str(agreement)

    # consumer role: the partner is the provider

    def partner_offer(self, dataset_id: str, offer_id: str | None = None) -> dict[str, Any]:
        return {
            "@type": "Offer",
            "@id": offer_id or f"urn:uuid:tck-offer-{uuid.uuid4()}",
            "permission": [{"action": "use"}],
            "target": dataset_id,
            "assigner": self.partner.did,
            "assignee": self.did,
        }

    def start(self, dataset_id: str = "tck-remote") -> tuple[str, str]:
        """The operator starts a negotiation with the partner; the partner answers 201.
        Returns ``(consumerPid, providerPid)``."""
        offer = {k: v for k, v in self.partner_offer(dataset_id).items() if k != "assignee"}
        started = mgmt(
            "POST",
            self.url,
            "/negotiations",
            {
                "counterPartyAddress": self.partner.dsp,
                "counterPartyId": self.partner.did,
                "offer": offer,
            },
        )
        assert started.status_code == 201, started.text
        cpid: str = started.json()["id"]
        return cpid, self._consume_request(cpid)

    def _consume_request(self, cpid: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for message in self.partner.seen("/negotiations/request"):
                if message.body["consumerPid"] == cpid:
                    assert message.authorization, message
                    assert message.body["callbackAddress"] == self.dsp
                    self.schemas.check(message.body, "ContractRequestMessage")
                    self.wait_state("negotiations", cpid, "REQUESTED")
                    ppid: str = message.answer["providerPid"]
                    return ppid
            time.sleep(0.01)
        raise AssertionError(f"no ContractRequestMessage for {cpid}")

    def send_offer(
        self, cpid: str, ppid: str, *, status: int = 200, dataset_id: str = "tck-remote"
    ) -> None:
        self.post(
            f"/negotiations/{cpid}/offers",
            {
                "@type": "ContractOfferMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
                "offer": self.partner_offer(dataset_id),
            },
            status=status,
        )

    def send_agreement(
        self, cpid: str, ppid: str, *, status: int = 200, dataset_id: str = "tck-remote"
    ) -> str:
        agreement_id = f"urn:uuid:tck-agreement-{uuid.uuid4()}"
        self.post(
            f"/negotiations/{cpid}/agreement",
            {
                "@type": "ContractAgreementMessage",
                "providerPid": ppid,
                "consumerPid": cpid,
                "agreement": {
                    "@id": agreement_id,
                    "@type": "Agreement",
                    "target": dataset_id,
                    "permission": [{"action": "use"}],
                    "timestamp": "2025-01-01T00:00:00Z",
                    "assigner": self.partner.did,
                    "assignee": self.did,
                },
                "callbackAddress": self.partner.dsp,
            },
            status=status,
        )
        return agreement_id

    def finalize_as_partner_provider(self) -> str:
        """A whole negotiation with the connector as consumer; the agreement id."""
        cpid, ppid = self.start()
        agreement_id = self.send_agreement(cpid, ppid)
        self.expect(f"/negotiations/{ppid}/agreement/verification")
        self.wait_state("negotiations", cpid, "VERIFIED")
        self.event(cpid, ppid, "FINALIZED", cpid)
        self.wait_state("negotiations", cpid, "FINALIZED")
        return agreement_id

    # transfers

    def provider_agreement(self, dataset_id: str) -> str:
        if dataset_id not in self.cache:
            self.cache[dataset_id] = self.finalize_as_partner_consumer(dataset_id)
        return self.cache[dataset_id]

    def transfer_request(
        self, dataset_id: str = "tck-tp-manual", cpid: str | None = None
    ) -> tuple[str, str]:
        """``TransferRequestMessage`` → 201 ``TransferProcess``; ``(consumerPid, providerPid)``."""
        agreement_id = self.provider_agreement(dataset_id)
        cpid = cpid or f"urn:uuid:tck-{uuid.uuid4()}"
        body = self.post(
            "/transfers/request",
            {
                "@type": "TransferRequestMessage",
                "consumerPid": cpid,
                "agreementId": agreement_id,
                "format": PULL,
                "callbackAddress": self.partner.dsp,
            },
            status=201,
        )
        assert body["consumerPid"] == cpid and body["state"] == "REQUESTED", body
        ppid: str = body["providerPid"]
        return cpid, ppid

    def started_by_provider(self, cpid: str, ppid: str, *, count: int = 1) -> Received:
        """The operator starts (or resumes) the transfer; the partner receives the start."""
        self.act("transfers", ppid, "start")
        return self.start_received(cpid, ppid, count=count)

    def start_received(self, cpid: str, ppid: str, *, count: int = 1) -> Received:
        deadline = time.monotonic() + WAIT
        while len(self.partner.seen(f"/transfers/{cpid}/start")) < count:
            assert time.monotonic() < deadline, "no TransferStartMessage"
            time.sleep(0.01)
        received = self.partner.seen(f"/transfers/{cpid}/start")[count - 1]
        self.schemas.check(received.body, "TransferStartMessage")
        assert received.body["dataAddress"]["endpoint"], received.body  # a pull: the address
        self.wait_state("transfers", ppid, "STARTED")
        return received

    def transfer_message(
        self, kind: str, cpid: str, ppid: str, pid: str, *, status: int = 200, **extra: Any
    ) -> None:
        paths = {
            "TransferStartMessage": "start",
            "TransferCompletionMessage": "completion",
            "TransferSuspensionMessage": "suspension",
            "TransferTerminationMessage": "termination",
        }
        body: dict[str, Any] = {"@type": kind, "providerPid": ppid, "consumerPid": cpid, **extra}
        if kind in ("TransferSuspensionMessage", "TransferTerminationMessage"):
            body.setdefault("code", "1")
        self.post(f"/transfers/{pid}/{paths[kind]}", body, status=status)

    def consumer_agreement(self) -> str:
        if "consumer" not in self.cache:
            self.cache["consumer"] = self.finalize_as_partner_provider()
        return self.cache["consumer"]

    def request_transfer(self, *, answered: bool = True) -> tuple[str, str]:
        """The operator requests a transfer from the partner; ``(consumerPid, providerPid)``
        (with ``answered``, once the connector has the partner's 201)."""
        agreement_id = self.consumer_agreement()
        started = mgmt(
            "POST",
            self.url,
            "/transfers",
            {
                "counterPartyAddress": self.partner.dsp,
                "counterPartyId": self.partner.did,
                "agreementId": agreement_id,
                "format": PULL,
            },
        )
        assert started.status_code == 201, started.text
        cpid: str = started.json()["id"]
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for message in self.partner.seen("/transfers/request"):
                if message.body["consumerPid"] == cpid:
                    self.schemas.check(message.body, "TransferRequestMessage")
                    assert message.body["callbackAddress"] == self.dsp
                    assert message.body["agreementId"] == agreement_id
                    if answered:
                        self.wait_state("transfers", cpid, "REQUESTED")
                    ppid: str = message.answer["providerPid"]
                    return cpid, ppid
            time.sleep(0.01)
        raise AssertionError(f"no TransferRequestMessage for {cpid}")
