"""Every message kind built with our models validates against the OFFICIAL DSP 2025-1 schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from connector.dsp import codec, conversion
from connector.dsp.catalog import (
    Catalog,
    CatalogError,
    CatalogRequestMessage,
    DataService,
    Dataset,
    DatasetRequestMessage,
    Distribution,
)
from connector.dsp.errors import ProcessKind, error_body
from connector.dsp.messages import MESSAGE_TYPES
from connector.dsp.negotiation import (
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiation,
    ContractNegotiationError,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
)
from connector.dsp.policy import (
    Agreement,
    AtomicConstraint,
    LogicalConstraint,
    MessageOffer,
    Offer,
    Permission,
    Prohibition,
)
from connector.dsp.transfer import (
    DataAddress,
    EndpointProperty,
    TransferCompletionMessage,
    TransferError,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
)
from connector.dsp.version import DidService, version_response
from connector.errors import Conflict, Invalid
from connector.model import contract, dataset, transfer

CPID = "urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833"
PPID = "urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab"
DS = "urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88"

PERMISSION = Permission(
    action="use",
    constraint=[
        AtomicConstraint(left_operand="spatial", operator="eq", right_operand="EU"),
        LogicalConstraint(
            or_=[
                AtomicConstraint(left_operand="purpose", operator="isAnyOf", right_operand=["a"]),
                AtomicConstraint(left_operand="count", operator="lteq", right_operand="5"),
            ]
        ),
    ],
)
MESSAGE_OFFER = MessageOffer(id="urn:offer:1", target=DS, permission=[PERMISSION])
SERVICE = DataService(id="urn:service:1", endpoint_url="https://hagen.example/dsp")
DATASET = Dataset(
    id=DS,
    has_policy=[Offer(id="urn:offer:1", permission=[PERMISSION])],
    distribution=[Distribution(format="HttpData-PULL", access_service=SERVICE.id)],
)
AGREEMENT = Agreement(
    id="urn:agreement:1",
    target=DS,
    assigner="did:web:hagen.example",
    assignee="did:web:partner.example",
    timestamp="2026-01-01T00:00:00Z",
    permission=[PERMISSION],
    prohibition=[Prohibition(action="distribute")],
)
ADDRESS = DataAddress(
    endpoint_type="https://w3id.org/idsa/v4.1/HTTP",
    endpoint="https://hagen.example/data",
    endpoint_properties=[EndpointProperty(name="authorization", value="token")],
)

BUILT: dict[str, tuple[str, Any]] = {
    "catalog-request": ("catalog-request-message-schema.json", CatalogRequestMessage(filter=[])),
    "dataset-request": ("dataset-request-message-schema.json", DatasetRequestMessage(dataset=DS)),
    "catalog": (
        "catalog-schema.json",
        Catalog(
            id="urn:catalog:1",
            participant_id="did:web:hagen.example",
            service=[SERVICE],
            dataset=[DATASET],
        ),
    ),
    "catalog-nested": (
        "catalog-schema.json",
        Catalog(
            id="urn:catalog:root",
            participant_id="did:web:hagen.example",
            catalog=[
                Catalog(
                    id="urn:catalog:sub",
                    dataset=[DATASET],
                    distribution=[Distribution(format="Catalog", access_service=SERVICE)],
                )
            ],
        ),
    ),
    "dataset": ("dataset-schema.json", DATASET),
    "catalog-error": ("catalog-error-schema.json", CatalogError(code="x", reason=["y"])),
    "contract-request-initial": (
        "contract-request-message-schema.json",
        ContractRequestMessage(
            consumer_pid=CPID, offer=MESSAGE_OFFER, callback_address="https://c.example/dsp"
        ),
    ),
    "contract-request": (
        "contract-request-message-schema.json",
        ContractRequestMessage(consumer_pid=CPID, provider_pid=PPID, offer=MESSAGE_OFFER),
    ),
    "contract-offer-initial": (
        "contract-offer-message-schema.json",
        ContractOfferMessage(
            provider_pid=PPID, offer=MESSAGE_OFFER, callback_address="https://p.example/dsp"
        ),
    ),
    "contract-offer": (
        "contract-offer-message-schema.json",
        ContractOfferMessage(provider_pid=PPID, consumer_pid=CPID, offer=MESSAGE_OFFER),
    ),
    "contract-agreement": (
        "contract-agreement-message-schema.json",
        ContractAgreementMessage(provider_pid=PPID, consumer_pid=CPID, agreement=AGREEMENT),
    ),
    "contract-verification": (
        "contract-agreement-verification-message-schema.json",
        ContractAgreementVerificationMessage(provider_pid=PPID, consumer_pid=CPID),
    ),
    "event-accepted": (
        "contract-negotiation-event-message-schema.json",
        ContractNegotiationEventMessage(
            provider_pid=PPID, consumer_pid=CPID, event_type="ACCEPTED"
        ),
    ),
    "event-finalized": (
        "contract-negotiation-event-message-schema.json",
        ContractNegotiationEventMessage(
            provider_pid=PPID, consumer_pid=CPID, event_type="FINALIZED"
        ),
    ),
    "negotiation-termination": (
        "contract-negotiation-termination-message-schema.json",
        ContractNegotiationTerminationMessage(
            provider_pid=PPID, consumer_pid=CPID, code="policy", reason=["no"]
        ),
    ),
    "contract-negotiation": (
        "contract-negotiation-schema.json",
        ContractNegotiation(provider_pid=PPID, consumer_pid=CPID, state="AGREED"),
    ),
    "contract-negotiation-error": (
        "contract-negotiation-error-schema.json",
        ContractNegotiationError(provider_pid=PPID, consumer_pid=CPID, code="c", reason=["r"]),
    ),
    "transfer-request": (
        "transfer-request-message-schema.json",
        TransferRequestMessage(
            consumer_pid=CPID,
            agreement_id="urn:agreement:1",
            format="HttpData-PUSH",
            callback_address="https://c.example/dsp",
            data_address=ADDRESS,
        ),
    ),
    "transfer-start": (
        "transfer-start-message-schema.json",
        TransferStartMessage(provider_pid=PPID, consumer_pid=CPID, data_address=ADDRESS),
    ),
    "transfer-suspension": (
        "transfer-suspension-message-schema.json",
        TransferSuspensionMessage(provider_pid=PPID, consumer_pid=CPID, reason=["pause"]),
    ),
    "transfer-completion": (
        "transfer-completion-message-schema.json",
        TransferCompletionMessage(provider_pid=PPID, consumer_pid=CPID),
    ),
    "transfer-termination": (
        "transfer-termination-message-schema.json",
        TransferTerminationMessage(provider_pid=PPID, consumer_pid=CPID, code="x"),
    ),
    "transfer-process": (
        "transfer-process-schema.json",
        TransferProcess(provider_pid=PPID, consumer_pid=CPID, state="SUSPENDED"),
    ),
    "transfer-error": (
        "transfer-error-schema.json",
        TransferError(provider_pid=PPID, consumer_pid=CPID, reason=["boom"]),
    ),
    "version": ("protocol-version-schema.json", version_response("/api/dsp")),
    "did-service": (
        "did-service-schema.json",
        DidService(
            id="did:web:hagen.example#catalog",
            type="CatalogService",
            service_endpoint="https://hagen.example/api/dsp/catalog",
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(BUILT))
def test_built_message_validates_against_official_schema(
    kind: str, official: Callable[[str, Any], list[str]]
) -> None:
    schema, message = BUILT[kind]
    body = codec.serialize(message)
    assert official(schema, body) == []


def test_every_message_type_is_built_above() -> None:
    built = {type(m).__name__ for _, m in BUILT.values()}
    assert set(MESSAGE_TYPES) <= built


def test_serialized_form_is_compact_with_dsp_context() -> None:
    body = codec.serialize(BUILT["contract-request"][1])
    assert body["@context"] == ["https://w3id.org/dspace/2025/1/context.jsonld"]
    assert all(":" not in key for key in body if not key.startswith("@"))
    assert codec.dumps(BUILT["contract-request"][1]).startswith(b'{"@context":["https://w3id')


@pytest.mark.parametrize(
    "kind", [ProcessKind.CATALOG, ProcessKind.NEGOTIATION, ProcessKind.TRANSFER]
)
@pytest.mark.parametrize(
    "exc",
    [
        Invalid("consumerPid: Field required", reason="missing_field"),
        Conflict("no"),
        ValueError("x"),
    ],
)
def test_error_bodies_validate_against_official_schema(
    kind: ProcessKind, exc: Exception, official: Callable[[str, Any], list[str]]
) -> None:
    schema = {
        ProcessKind.CATALOG: "catalog-error-schema.json",
        ProcessKind.NEGOTIATION: "contract-negotiation-error-schema.json",
        ProcessKind.TRANSFER: "transfer-error-schema.json",
    }[kind]
    assert official(schema, codec.serialize(error_body(exc, kind))) == []


def test_domain_conversions_produce_schema_valid_messages(
    official: Callable[[str, Any], list[str]],
) -> None:
    policy = {"permission": [{"action": "use"}], "profile": "https://hagen.example/profile"}
    offer = contract.Offer(id="urn:offer:9", target=DS, policy=policy)
    agreement = contract.Agreement(
        id="urn:agreement:9",
        target=DS,
        assigner="did:web:hagen.example",
        assignee="did:web:partner.example",
        timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        policy=policy,
    )
    item = dataset.Dataset(
        id=DS, title="Baumkataster", offers=(offer,), formats=("HttpData-PULL", "HttpData-PUSH")
    )
    catalog = Catalog(
        id="urn:catalog:9",
        participant_id="did:web:hagen.example",
        service=[SERVICE],
        dataset=[conversion.dataset_to_wire(item, SERVICE.id)],
    )
    request = ContractRequestMessage(
        consumer_pid=CPID,
        offer=conversion.message_offer(offer),
        callback_address="https://c.example",
    )
    agreed = ContractAgreementMessage(
        consumer_pid=CPID, provider_pid=PPID, agreement=conversion.agreement_to_wire(agreement)
    )
    start = TransferStartMessage(
        consumer_pid=CPID,
        provider_pid=PPID,
        data_address=conversion.data_address_to_wire(
            transfer.DataAddress("HTTP", "https://x.example", {"authorization": "t"})
        ),
    )
    assert official("catalog-schema.json", codec.serialize(catalog)) == []
    assert official("contract-request-message-schema.json", codec.serialize(request)) == []
    assert official("contract-agreement-message-schema.json", codec.serialize(agreed)) == []
    assert official("transfer-start-message-schema.json", codec.serialize(start)) == []
