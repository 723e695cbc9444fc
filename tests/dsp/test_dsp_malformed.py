"""Malformed bodies are refused with ``Invalid`` naming the offending field — by the codec and
by our own JSON Schema alike."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from connector.dsp import codec, schemas
from connector.dsp.base import DSP_CONTEXT
from connector.dsp.messages import MESSAGE_TYPES
from connector.dsp.negotiation import ContractRequestMessage
from connector.dsp.transfer import TransferRequestMessage
from connector.errors import Invalid, PayloadTooLarge, UnknownContext

CTX = [DSP_CONTEXT]
OFFER = {
    "@type": "Offer",
    "@id": "urn:offer:1",
    "target": "urn:dataset:1",
    "permission": [
        {
            "action": "use",
            "constraint": [{"leftOperand": "spatial", "operator": "eq", "rightOperand": "EU"}],
        }
    ],
}
VALID: dict[str, dict[str, Any]] = {
    "request": {
        "@context": CTX,
        "@type": "ContractRequestMessage",
        "consumerPid": "urn:c:1",
        "offer": OFFER,
        "callbackAddress": "https://consumer.example/dsp",
    },
    "negotiation": {
        "@context": CTX,
        "@type": "ContractNegotiation",
        "consumerPid": "urn:c:1",
        "providerPid": "urn:p:1",
        "state": "REQUESTED",
    },
    "event": {
        "@context": CTX,
        "@type": "ContractNegotiationEventMessage",
        "consumerPid": "urn:c:1",
        "providerPid": "urn:p:1",
        "eventType": "ACCEPTED",
    },
    "agreement": {
        "@context": CTX,
        "@type": "ContractAgreementMessage",
        "consumerPid": "urn:c:1",
        "providerPid": "urn:p:1",
        "agreement": {
            "@id": "urn:a:1",
            "@type": "Agreement",
            "target": "urn:dataset:1",
            "assigner": "did:web:p.example",
            "assignee": "did:web:c.example",
            "timestamp": "2026-01-01T00:00:00Z",
            "permission": [{"action": "use"}],
        },
    },
    "transfer": {
        "@context": CTX,
        "@type": "TransferRequestMessage",
        "consumerPid": "urn:c:1",
        "agreementId": "urn:a:1",
        "format": "HttpData-PUSH",
        "callbackAddress": "https://consumer.example/dsp",
        "dataAddress": {
            "@type": "DataAddress",
            "endpointType": "HTTP",
            "endpointProperties": [
                {"@type": "EndpointProperty", "name": "authorization", "value": "t"}
            ],
        },
    },
    "termination": {
        "@context": CTX,
        "@type": "TransferTerminationMessage",
        "consumerPid": "urn:c:1",
        "providerPid": "urn:p:1",
        "reason": ["gone"],
    },
    "catalog": {
        "@context": CTX,
        "@type": "Catalog",
        "@id": "urn:catalog:1",
        "participantId": "did:web:p.example",
        "dataset": [
            {
                "@id": "urn:dataset:1",
                "@type": "Dataset",
                "hasPolicy": [
                    {"@id": "urn:offer:1", "@type": "Offer", "permission": [{"action": "use"}]}
                ],
                "distribution": [
                    {
                        "@type": "Distribution",
                        "format": "HttpData-PULL",
                        "accessService": "urn:service:1",
                    }
                ],
            }
        ],
    },
}


def _set(body: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()

# (id, base, path, new value, field named, reason)
CASES: list[tuple[str, str, list[Any], Any, str, str]] = [
    ("missing consumerPid", "request", ["consumerPid"], _DELETE, "consumerPid", "missing_field"),
    ("missing offer", "request", ["offer"], _DELETE, "offer", "missing_field"),
    ("missing offer @id", "request", ["offer", "@id"], _DELETE, "offer.@id", "missing_field"),
    ("missing offer @type", "request", ["offer", "@type"], _DELETE, "offer.@type", "missing_field"),
    ("wrong offer @type", "request", ["offer", "@type"], "Agreement", "offer.@type", "wrong_type"),
    (
        "missing action",
        "request",
        ["offer", "permission", 0, "action"],
        _DELETE,
        "offer.permission[0].action",
        "missing_field",
    ),
    (
        "unknown operator",
        "request",
        ["offer", "permission", 0, "constraint", 0, "operator"],
        "like",
        "offer.permission[0].constraint[0].operator",
        "invalid_field",
    ),
    (
        "number right operand",
        "request",
        ["offer", "permission", 0, "constraint", 0, "rightOperand"],
        5,
        "offer.permission[0].constraint[0].rightOperand",
        "invalid_field",
    ),
    (
        "rule with target",
        "request",
        ["offer", "permission", 0, "target"],
        "urn:x",
        "offer.permission[0].target",
        "invalid_field",
    ),
    ("no rules", "request", ["offer", "permission"], _DELETE, "offer.permission", "invalid_field"),
    ("empty rules", "request", ["offer", "permission"], [], "offer.permission", "invalid_field"),
    (
        "both callback and providerPid",
        "request",
        ["providerPid"],
        "urn:p:1",
        "callbackAddress",
        "invalid_field",
    ),
    (
        "neither callback nor providerPid",
        "request",
        ["callbackAddress"],
        _DELETE,
        "callbackAddress",
        "invalid_field",
    ),
    ("null providerPid", "negotiation", ["providerPid"], None, "providerPid", "invalid_field"),
    ("missing @type", "negotiation", ["@type"], _DELETE, "@type", "missing_field"),
    ("unknown @type", "negotiation", ["@type"], "ContractNegotiationX", "@type", "wrong_type"),
    (
        "@type not a string",
        "negotiation",
        ["@type"],
        ["ContractNegotiation"],
        "@type",
        "wrong_type",
    ),
    ("missing @context", "negotiation", ["@context"], _DELETE, "@context", "missing_field"),
    ("wrong state", "negotiation", ["state"], "DONE", "state", "invalid_field"),
    ("lower-case state", "negotiation", ["state"], "requested", "state", "invalid_field"),
    (
        "transfer state in negotiation",
        "negotiation",
        ["state"],
        "STARTED",
        "state",
        "invalid_field",
    ),
    ("nested state", "negotiation", ["state"], ["REQUESTED"], "state", "invalid_field"),
    (
        "pid as object",
        "negotiation",
        ["consumerPid"],
        {"@id": "urn:c:1"},
        "consumerPid",
        "invalid_field",
    ),
    ("pid as number", "negotiation", ["consumerPid"], 7, "consumerPid", "invalid_field"),
    ("wrong event type", "event", ["eventType"], "VERIFIED", "eventType", "invalid_field"),
    ("offer nested in a list", "request", ["offer"], [OFFER], "offer", "invalid_field"),
    (
        "bad timestamp",
        "agreement",
        ["agreement", "timestamp"],
        "yesterday",
        "agreement.timestamp",
        "invalid_field",
    ),
    (
        "missing assignee",
        "agreement",
        ["agreement", "assignee"],
        _DELETE,
        "agreement.assignee",
        "missing_field",
    ),
    (
        "missing callbackAddress",
        "transfer",
        ["callbackAddress"],
        _DELETE,
        "callbackAddress",
        "missing_field",
    ),
    ("missing format", "transfer", ["format"], _DELETE, "format", "missing_field"),
    (
        "missing endpoint property value",
        "transfer",
        ["dataAddress", "endpointProperties", 0, "value"],
        _DELETE,
        "dataAddress.endpointProperties[0].value",
        "missing_field",
    ),
    ("reason not a list", "termination", ["reason"], "gone", "reason", "invalid_field"),
    ("empty reason", "termination", ["reason"], [], "reason", "invalid_field"),
    (
        "root catalog without participantId",
        "catalog",
        ["participantId"],
        _DELETE,
        "participantId",
        "missing_field",
    ),
    (
        "catalog offer with target",
        "catalog",
        ["dataset", 0, "hasPolicy", 0, "target"],
        "urn:dataset:1",
        "dataset[0].hasPolicy[0].target",
        "invalid_field",
    ),
    (
        "dataset without distribution",
        "catalog",
        ["dataset", 0, "distribution"],
        _DELETE,
        "dataset[0].distribution",
        "missing_field",
    ),
]


@pytest.mark.parametrize("base", sorted(VALID))
def test_the_valid_bases_are_valid(base: str) -> None:
    body = VALID[base]
    message = codec.parse(body)
    assert codec.serialize(message) == body
    schemas.validate(body, MESSAGE_TYPES[body["@type"]])


@pytest.mark.parametrize(
    ("base", "path", "value", "field", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_body_is_refused_naming_the_field(
    base: str, path: list[Any], value: Any, field: str, reason: str
) -> None:
    body = _set(VALID[base], path, value)
    with pytest.raises(Invalid) as caught:
        codec.parse(body)
    assert caught.value.context["field"] == field
    assert caught.value.reason == reason
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("base", "path", "value"), [c[1:4] for c in CASES], ids=[c[0] for c in CASES]
)
def test_our_schema_refuses_the_same_bodies(base: str, path: list[Any], value: Any) -> None:
    body = _set(VALID[base], path, value)
    with pytest.raises(Invalid):
        schemas.validate(body, MESSAGE_TYPES[VALID[base]["@type"]])


@pytest.mark.parametrize(
    "body", [[], "ContractRequestMessage", 42, None, [VALID["request"], VALID["request"]]]
)
def test_non_object_is_refused(body: Any) -> None:
    with pytest.raises(Invalid) as caught:
        codec.parse(body)
    assert caught.value.reason == "not_an_object"


def test_foreign_context_is_refused() -> None:
    body = {**VALID["negotiation"], "@context": ["https://w3id.org/dspace/v0.8/context.json"]}
    with pytest.raises(UnknownContext) as caught:
        codec.parse(body)
    assert caught.value.context["field"] == "@context"


def test_message_of_another_kind_is_refused_where_one_kind_is_expected() -> None:
    with pytest.raises(Invalid) as caught:
        codec.parse(VALID["transfer"], ContractRequestMessage)
    assert caught.value.reason == "wrong_type"
    assert caught.value.context["field"] == "@type"
    assert isinstance(
        codec.parse(VALID["transfer"], (ContractRequestMessage, TransferRequestMessage)),
        TransferRequestMessage,
    )


def test_wrapped_message_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        codec.parse({"message": VALID["request"]})
    assert caught.value.context["field"] == "@type"


def test_not_json_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        codec.loads(b'{"@type": ')
    assert caught.value.reason == "not_json"


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(PayloadTooLarge):
        codec.parse({**VALID["request"], "extension": deep})
    raw = (
        json.dumps(VALID["request"])[:-1] + ', "extension": ' + "[" * 5000 + "1" + "]" * 5000 + "}"
    )
    with pytest.raises(Invalid):
        codec.loads(raw)


@pytest.mark.parametrize("as_text", [False, True])
def test_depth_and_text_checks_hold_for_raw_bodies(as_text: bool) -> None:
    """``loads`` checks what ``parse`` checks, whatever path the raw text takes: nesting just
    beyond the limit, an escaped lone surrogate (with few brackets, and with many)."""

    def body(extension: str) -> bytes | str:
        raw = json.dumps(VALID["request"])[:-1] + ', "extension": ' + extension + "}"
        return raw if as_text else raw.encode()

    limit = codec.MAX_DEPTH
    assert isinstance(
        codec.loads(body("[" * (limit - 2) + "1" + "]" * (limit - 2))), ContractRequestMessage
    )
    with pytest.raises(PayloadTooLarge):
        codec.loads(body("[" * limit + "1" + "]" * limit))
    lone = '"\\ud800"'
    many = "[" + "[1]," * 70 + lone + "]"  # more brackets than the limit, shallow
    for extension in (lone, many, "{" + lone + ": 1}"):
        with pytest.raises(Invalid) as caught:
            codec.loads(body(extension))
        assert caught.value.reason == "invalid_text"
    paired = codec.loads(body('"\\ud83d\\ude00"'))
    assert isinstance(paired, ContractRequestMessage)


def test_oversized_body_is_refused() -> None:
    raw = json.dumps({**VALID["request"], "padding": "x" * 200}).encode()
    with pytest.raises(PayloadTooLarge):
        codec.loads(raw, max_bytes=100)
    assert isinstance(codec.loads(raw), ContractRequestMessage)
