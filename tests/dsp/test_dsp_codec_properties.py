"""Property tests of the codec: whatever our models can hold survives serialize → parse, reads the
same in prefixed spelling, and (vectors present) validates against the official schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.clock import utc_isoformat
from connector.dsp import codec
from connector.dsp.base import DSPACE, RootMessage
from connector.dsp.catalog import Catalog, DataService, Dataset, Distribution
from connector.dsp.negotiation import (
    ContractAgreementMessage,
    ContractNegotiation,
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
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferTerminationMessage,
)


def model(cls: type[Any], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Instances of a pydantic model from strategies for (some of) its fields."""
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


ids = st.text(min_size=1, max_size=12)
words = st.text(max_size=12)
scalars = st.booleans() | st.integers(-1000, 1000) | words
# Object keys written as a prefixed name or a keyword (``dcat:Dataset``, ``@id``) are JSON-LD
# term spellings that the codec compacts by design (connector.dsp.terms), so they are not
# generated as plain extension keys.
plain_keys = words.filter(lambda s: ":" not in s and not s.startswith("@"))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_keys, inner, max_size=3),
    max_leaves=6,
)
operators = st.sampled_from(["eq", "gt", "gteq", "lteq", "lt", "neq", "isAnyOf", "isPartOf"])
# A left operand written ``odrl:x`` (or as the full ODRL IRI) *is* the ODRL term ``x``: it is
# read back as ``x`` by design (connector.dsp.terms), so such spellings are not generated here.
operands = ids.filter(lambda s: not s.startswith(("odrl:", "http://www.w3.org/ns/odrl/2/")))
atomic = model(
    AtomicConstraint,
    left_operand=operands,
    operator=operators,
    right_operand=words
    | st.lists(words, max_size=3)
    | st.just({"@value": "5", "@type": "xsd:int"}),
)
constraints = st.recursive(
    atomic,
    lambda inner: st.one_of(
        model(LogicalConstraint, and_=st.lists(inner, min_size=1, max_size=3)),
        model(LogicalConstraint, or_=st.lists(inner, min_size=1, max_size=3)),
        model(LogicalConstraint, xone=st.lists(inner, min_size=1, max_size=3)),
        model(LogicalConstraint, and_sequence=st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=5,
)
actions = st.sampled_from(["use", "read", "distribute", "https://hagen.example/action/analyse"])
permissions = model(
    Permission, action=actions, constraint=st.none() | st.lists(constraints, max_size=2)
)
prohibitions = model(Prohibition, action=actions)
rules = st.fixed_dictionaries(
    {"permission": st.lists(permissions, min_size=1, max_size=2)},
    optional={"prohibition": st.lists(prohibitions, min_size=1, max_size=2)},
)
message_offers = rules.flatmap(
    lambda r: model(MessageOffer, id=ids, target=ids, **{k: st.just(v) for k, v in r.items()})
)
catalog_offers = rules.flatmap(
    lambda r: model(Offer, id=ids, **{k: st.just(v) for k, v in r.items()})
)
timestamps = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
).map(utc_isoformat)
agreements = model(
    Agreement,
    id=ids,
    target=ids,
    assigner=ids,
    assignee=ids,
    timestamp=timestamps,
    permission=st.lists(permissions, min_size=1, max_size=2),
)
reasons = st.none() | st.lists(
    words | st.dictionaries(words, words, max_size=2), min_size=1, max_size=3
)
addresses = model(
    DataAddress,
    endpoint_type=ids,
    endpoint=st.none() | ids,
    endpoint_properties=st.none()
    | st.lists(model(EndpointProperty, name=ids, value=words), min_size=1, max_size=3),
)
services = model(DataService, id=ids, endpoint_url=ids)
datasets = model(
    Dataset,
    id=ids,
    has_policy=st.lists(catalog_offers, min_size=1, max_size=2),
    distribution=st.lists(
        model(Distribution, format=ids, access_service=ids | services), min_size=1, max_size=2
    ),
).map(
    lambda d: Dataset.model_validate(
        {**d.model_dump(by_alias=True, exclude_none=True), "dct:title": "Bäume"}
    )
)

messages: st.SearchStrategy[tuple[str, RootMessage]] = st.one_of(
    model(ContractRequestMessage, consumer_pid=ids, offer=message_offers, callback_address=ids).map(
        lambda m: ("contract-request-message-schema.json", m)
    ),
    model(ContractRequestMessage, consumer_pid=ids, provider_pid=ids, offer=message_offers).map(
        lambda m: ("contract-request-message-schema.json", m)
    ),
    model(ContractOfferMessage, provider_pid=ids, consumer_pid=ids, offer=message_offers).map(
        lambda m: ("contract-offer-message-schema.json", m)
    ),
    model(ContractAgreementMessage, provider_pid=ids, consumer_pid=ids, agreement=agreements).map(
        lambda m: ("contract-agreement-message-schema.json", m)
    ),
    model(
        ContractNegotiationEventMessage,
        provider_pid=ids,
        consumer_pid=ids,
        event_type=st.sampled_from(["ACCEPTED", "FINALIZED"]),
    ).map(lambda m: ("contract-negotiation-event-message-schema.json", m)),
    model(
        ContractNegotiationTerminationMessage,
        provider_pid=ids,
        consumer_pid=ids,
        code=st.none() | words,
        reason=reasons,
    ).map(lambda m: ("contract-negotiation-termination-message-schema.json", m)),
    model(
        ContractNegotiation,
        provider_pid=ids,
        consumer_pid=ids,
        state=st.sampled_from(
            ["REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED", "TERMINATED"]
        ),
    ).map(lambda m: ("contract-negotiation-schema.json", m)),
    model(
        TransferRequestMessage,
        consumer_pid=ids,
        agreement_id=ids,
        format=ids,
        callback_address=ids,
        data_address=st.none() | addresses,
    ).map(lambda m: ("transfer-request-message-schema.json", m)),
    model(
        TransferStartMessage, provider_pid=ids, consumer_pid=ids, data_address=st.none() | addresses
    ).map(lambda m: ("transfer-start-message-schema.json", m)),
    model(
        TransferTerminationMessage,
        provider_pid=ids,
        consumer_pid=ids,
        code=st.none() | words,
        reason=reasons,
    ).map(lambda m: ("transfer-termination-message-schema.json", m)),
    model(
        TransferProcess,
        provider_pid=ids,
        consumer_pid=ids,
        state=st.sampled_from(["REQUESTED", "STARTED", "SUSPENDED", "COMPLETED", "TERMINATED"]),
    ).map(lambda m: ("transfer-process-schema.json", m)),
    model(
        Catalog,
        id=ids,
        participant_id=ids,
        dataset=st.none() | st.lists(datasets, min_size=1, max_size=2),
        service=st.none() | st.lists(services, min_size=1, max_size=2),
    ).map(lambda m: ("catalog-schema.json", m)),
    datasets.map(lambda m: ("dataset-schema.json", m)),
)


def _prefixed(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "@type" and value not in ("Catalog", "Dataset"):
            out[key] = "dspace:" + value
        elif key in (
            "consumerPid",
            "providerPid",
            "callbackAddress",
            "agreementId",
            "code",
            "reason",
        ):
            out[DSPACE + key if len(out) % 2 else "dspace:" + key] = value
        elif key == "state":
            out["dspace:state"] = DSPACE + value
        else:
            out[key] = value
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=messages)
def test_serialize_parse_round_trip(item: tuple[str, RootMessage]) -> None:
    _, message = item
    body = codec.serialize(message)
    parsed = codec.parse(body)
    assert parsed == message
    assert codec.serialize(parsed) == body
    assert codec.loads(codec.dumps(message)) == message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=messages)
def test_prefixed_spelling_reads_the_same(item: tuple[str, RootMessage]) -> None:
    _, message = item
    assert codec.parse(_prefixed(codec.serialize(message))) == message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=messages)
def test_what_we_send_passes_the_official_schema(
    item: tuple[str, RootMessage], official: Callable[[str, Any], list[str]]
) -> None:
    schema, message = item
    assert official(schema, codec.serialize(message)) == []


@settings(max_examples=40, deadline=None)
@given(
    extension=st.dictionaries(
        st.sampled_from(["dct:title", "dct:description", "https://hagen.example/x"]),
        json_values,
        max_size=3,
    )
)
def test_extension_properties_survive(extension: dict[str, Any]) -> None:
    body = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "TransferCompletionMessage",
        "providerPid": "urn:p",
        "consumerPid": "urn:c",
        **extension,
    }
    assert codec.serialize(codec.parse(body)) == body
