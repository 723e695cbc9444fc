"""DSP error bodies and status codes; domain ⇄ wire conversions."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.dsp import conversion
from connector.dsp.catalog import CatalogError
from connector.dsp.errors import (
    ProcessKind,
    counterparty_error,
    error_body,
    error_response,
    status_for,
)
from connector.dsp.messages import negotiation_event, transfer_event
from connector.dsp.negotiation import ContractNegotiationError, ContractNegotiationEventMessage
from connector.dsp.transfer import TransferCompletionMessage, TransferError
from connector.errors import (
    Conflict,
    CounterpartyRefused,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    VerificationFailed,
)
from connector.model import (
    Agreement,
    DataAddress,
    Negotiation,
    NegotiationEvent,
    Offer,
    Role,
    Transfer,
    TransferEvent,
)

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (Invalid("x"), 400),
        (Conflict("x"), 400),  # an illegal transition is a 400 on DSP (409 on management)
        (Unauthorized("x"), 401),
        (Forbidden("x"), 403),
        (NotFound("x"), 404),
        (PayloadTooLarge("x"), 413),
        (VerificationFailed("x"), 422),
        (Unavailable("x"), 503),
        (RuntimeError("x"), 500),
    ],
)
def test_status_codes(exc: Exception, status: int) -> None:
    assert status_for(exc) == status


def test_a_counterparty_refusal_is_a_502_naming_its_status_code_and_reasons() -> None:
    body = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "CatalogError",
        "code": "unsupported_filter",
        "reason": ["catalogue filters are not supported", {"@value": "mehr"}],
    }
    refused = counterparty_error(400, body)
    assert isinstance(refused, CounterpartyRefused) and refused.status == 502
    assert refused.reason == "counterparty_error"
    assert refused.detail == (
        "the counterparty answered 400 (unsupported_filter): "
        "catalogue filters are not supported; mehr"
    )
    assert (refused.status_received, refused.code) == (400, "unsupported_filter")
    assert refused.reasons == ("catalogue filters are not supported", "mehr")
    bare = counterparty_error(404, None)  # not a DSP error body
    assert isinstance(bare, CounterpartyRefused)
    assert (bare.detail, bare.code, bare.reasons) == ("the counterparty answered 404", None, ())
    long = counterparty_error(403, {"code": "c" * 1000, "reason": ["r" * 1000] * 20})
    assert isinstance(long, CounterpartyRefused)
    assert long.code == "c" * 100 and long.reasons == ("r" * 300,) * 5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_counterparty_that_fails_is_unavailable(status: int) -> None:
    failed = counterparty_error(status, {"code": "internal_error", "reason": "oops"})
    assert type(failed) is Unavailable and failed.status == 503
    assert failed.reason == "counterparty_error"
    assert failed.detail == f"the counterparty answered {status} (internal_error): oops"


def test_error_bodies_carry_code_and_reason() -> None:
    exc = Conflict(
        "ContractAgreementMessage is not allowed when OFFERED", reason="illegal_transition"
    )
    body = error_body(exc, ProcessKind.NEGOTIATION, consumer_pid="urn:c", provider_pid="urn:p")
    assert body == ContractNegotiationError(
        consumer_pid="urn:c", provider_pid="urn:p", code="illegal_transition", reason=[exc.detail]
    )
    assert isinstance(error_body(exc, ProcessKind.CATALOG), CatalogError)
    transfer_error = error_body(exc, ProcessKind.TRANSFER)
    assert isinstance(transfer_error, TransferError) and transfer_error.provider_pid == ""
    status, payload = error_response(NotFound("no such process"), ProcessKind.TRANSFER)
    assert status == 404 and payload["@type"] == "TransferError" and payload["code"] == "not_found"


@pytest.mark.parametrize(
    "exc",
    [
        Unauthorized("token for did:web:x expired"),
        VerificationFailed("sig 1234 bad"),
        RuntimeError("db password wrong"),
    ],
)
def test_error_texts_of_auth_and_internal_failures_are_opaque(exc: Exception) -> None:
    body = error_body(exc, ProcessKind.CATALOG)
    assert isinstance(body, CatalogError)
    assert str(exc) not in (body.reason or [])


def test_messages_map_to_events() -> None:
    event = ContractNegotiationEventMessage(
        provider_pid="p", consumer_pid="c", event_type="FINALIZED"
    )
    assert negotiation_event(event) is NegotiationEvent.FINALIZE
    completion = TransferCompletionMessage(provider_pid="p", consumer_pid="c")
    assert transfer_event(completion) is TransferEvent.COMPLETE
    with pytest.raises(Invalid):
        negotiation_event(completion)
    with pytest.raises(Invalid):
        transfer_event(event)


def test_offer_agreement_and_address_round_trip_through_the_wire() -> None:
    policy = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}
                ],
            }
        ]
    }
    offer = Offer(id="urn:offer:1", target="urn:ds:1", policy=policy)
    assert conversion.offer_from_wire(conversion.message_offer(offer)) == offer
    assert conversion.offer_from_wire(conversion.catalog_offer(offer), target="urn:ds:1") == offer
    with pytest.raises(Invalid):
        conversion.offer_from_wire(conversion.catalog_offer(offer))
    agreement = Agreement(
        id="urn:a:1",
        target="urn:ds:1",
        assigner="did:web:p",
        assignee="did:web:c",
        timestamp=AT,
        policy=policy,
    )
    assert conversion.agreement_from_wire(conversion.agreement_to_wire(agreement)) == agreement
    address = DataAddress(
        "HTTP", "https://p.example/data", {"authorization": "t", "authType": "bearer"}
    )
    assert conversion.data_address_from_wire(conversion.data_address_to_wire(address)) == address


def test_acks_need_a_protocol_state() -> None:
    n = Negotiation.create(
        id="urn:p:1",
        role=Role.PROVIDER,
        counterparty_id="did:web:c",
        counterparty_address="http://c",
        dataset_id="urn:ds:1",
        at=AT,
        counterpart_pid="urn:c:1",
    )
    with pytest.raises(Conflict):
        conversion.negotiation_ack(n)
    ack = conversion.negotiation_ack(n.receive(NegotiationEvent.REQUEST, at=AT))
    assert (ack.consumer_pid, ack.provider_pid, ack.state) == ("urn:c:1", "urn:p:1", "REQUESTED")
    t = Transfer.create(
        id="urn:tp:1",
        role=Role.PROVIDER,
        counterparty_id="did:web:c",
        counterparty_address="http://c",
        agreement_id="urn:a:1",
        format="HttpData-PULL",
        at=AT,
        counterpart_pid="urn:tc:1",
    )
    assert conversion.transfer_ack(t.receive(TransferEvent.REQUEST, at=AT)).state == "REQUESTED"
