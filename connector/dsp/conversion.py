"""Between the domain (:mod:`connector.model`) and the wire (:mod:`connector.dsp`).

The control plane keeps domain values and speaks wire models; these functions are the only
place where one becomes the other, so a policy's JSON, an agreement's timestamp format or a
data address's properties are written the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from connector.clock import parse_instant, utc_isoformat
from connector.dsp import catalog as wire_catalog
from connector.dsp import policy as wire_policy
from connector.dsp import transfer as wire_transfer
from connector.dsp.codec import invalid_from
from connector.dsp.negotiation import ContractNegotiation
from connector.errors import Conflict, Invalid
from connector.model import contract, dataset, negotiation, transfer

XSD = "xsd:"
"""The prefix of XSD datatypes in the DSP context (``xsd`` is defined there)."""


def wire_literal(value: Any) -> Any:
    """A ``rightOperand`` value in a form the DSP schema admits (string, object or array).

    JSON numbers and booleans become typed literals (``{"@value": "4", "@type":
    "xsd:integer"}``, as JSON-LD reads them: integers ``xsd:integer``, other numbers
    ``xsd:double``, booleans ``xsd:boolean``); list members are converted one by one; strings
    and objects (``@id``/``@value`` nodes) are kept. ``Invalid`` for ``null``, which no
    schema branch and no ODRL reading admits.
    """
    if isinstance(value, bool):
        return {"@value": "true" if value else "false", "@type": XSD + "boolean"}
    if isinstance(value, int):
        return {"@value": str(value), "@type": XSD + "integer"}
    if isinstance(value, float):
        return {"@value": repr(value), "@type": XSD + "double"}
    if isinstance(value, list):
        return [wire_literal(item) for item in value]
    if value is None:
        raise Invalid(
            "a rightOperand must not be null", reason="invalid_policy", field="rightOperand"
        )
    return value


def _term(value: Any) -> Any:
    # ``{"@id": "odrl:count"}`` for a leftOperand or operator is the same term as the string.
    if isinstance(value, dict) and set(value) == {"@id"} and isinstance(value["@id"], str):
        return value["@id"]
    return value


def wire_rules(value: Any) -> Any:
    """Policy content with every constraint's operands in the DSP wire form."""
    if isinstance(value, list):
        return [wire_rules(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "rightOperand":
            out[key] = wire_literal(item)
        elif key in ("leftOperand", "operator"):
            out[key] = _term(item)
        else:
            out[key] = wire_rules(item)
    return out


def _policy_fields(policy: dict[str, Any]) -> dict[str, Any]:
    reserved = {"@id", "@type", "@context", "target", "assigner", "assignee", "timestamp"}
    fields: dict[str, Any] = wire_rules({k: v for k, v in policy.items() if k not in reserved})
    return fields


def checked_offer_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """``rules`` in wire form, or ``Invalid`` if a DSP 2025-1 offer cannot carry them.

    Used when a policy is stored, so that a policy accepted by the management API can
    always be published in a catalogue and sent in a negotiation.
    """
    fields = _policy_fields(rules)
    try:
        wire_policy.Offer.model_validate({"@id": "urn:uuid:check", **fields})
    except ValidationError as exc:
        problem = invalid_from(exc, "policy")
        raise Invalid(
            f"the policy cannot be offered in DSP 2025-1: {problem.detail}",
            reason="invalid_policy",
            field="policy",
        ) from None
    return fields


def catalog_offer(offer: contract.Offer) -> wire_policy.Offer:
    """An offer as published in a catalogue's ``hasPolicy`` (no ``target``)."""
    return wire_policy.Offer.model_validate({"@id": offer.id, **_policy_fields(dict(offer.policy))})


def message_offer(offer: contract.Offer) -> wire_policy.MessageOffer:
    """An offer as sent in a contract request or offer message (with ``target``)."""
    body = {"@id": offer.id, "@type": "Offer", "target": offer.target}
    return wire_policy.MessageOffer.model_validate({**body, **_policy_fields(dict(offer.policy))})


def offer_from_wire(offer: wire_policy.Offer, *, target: str | None = None) -> contract.Offer:
    """The domain offer of a wire offer; ``target`` for a catalogue offer (it has none)."""
    aimed = offer.target or target
    if aimed is None:
        raise Invalid("the offer has no target", reason="missing_field", field="offer.target")
    return contract.Offer(id=offer.id, target=aimed, policy=offer.rules())


def agreement_to_wire(agreement: contract.Agreement) -> wire_policy.Agreement:
    """The ``agreement`` of a contract agreement message."""
    body = {
        "@id": agreement.id,
        "@type": "Agreement",
        "target": agreement.target,
        "assigner": agreement.assigner,
        "assignee": agreement.assignee,
        "timestamp": utc_isoformat(agreement.timestamp),
    }
    return wire_policy.Agreement.model_validate({**body, **_policy_fields(dict(agreement.policy))})


def agreement_from_wire(
    agreement: wire_policy.Agreement, *, offer_id: str | None = None
) -> contract.Agreement:
    """The domain agreement of a received contract agreement message."""
    if agreement.timestamp is None:
        raise Invalid(
            "the agreement has no timestamp", reason="missing_field", field="agreement.timestamp"
        )
    return contract.Agreement(
        id=agreement.id,
        target=agreement.target,
        assigner=agreement.assigner,
        assignee=agreement.assignee,
        timestamp=parse_instant(agreement.timestamp),
        policy=agreement.rules(),
        offer_id=offer_id,
    )


def data_address_to_wire(address: transfer.DataAddress) -> wire_transfer.DataAddress:
    """The ``dataAddress`` of a transfer request or start message."""
    properties = [
        wire_transfer.EndpointProperty(name=name, value=value)
        for name, value in address.properties.items()
    ]
    return wire_transfer.DataAddress(
        endpoint_type=address.endpoint_type,
        endpoint=address.endpoint,
        endpoint_properties=properties or None,
    )


def data_address_from_wire(address: wire_transfer.DataAddress) -> transfer.DataAddress:
    """The domain data address of a received ``dataAddress``."""
    return transfer.DataAddress(
        endpoint_type=address.endpoint_type,
        endpoint=address.endpoint,
        properties=address.properties(),
    )


RESERVED_DATASET_KEYS = frozenset(
    {"@id", "@type", "@context", "hasPolicy", "distribution", "dct:title", "dct:description"}
)
"""Keys of a catalogue entry that the connector writes itself (not from ``properties``)."""


def dataset_to_wire(
    item: dataset.Dataset, service: wire_catalog.DataService | str
) -> wire_catalog.Dataset:
    """A catalogue entry: the dataset's offers and one distribution per format."""
    distributions = [
        wire_catalog.Distribution(format=fmt, access_service=service) for fmt in item.formats
    ]
    extra: dict[str, Any] = {
        key: value for key, value in item.properties.items() if key not in RESERVED_DATASET_KEYS
    }
    extra["dct:title"] = item.title
    if item.description:
        extra["dct:description"] = item.description
    return wire_catalog.Dataset.model_validate(
        {
            **extra,
            "@id": item.id,
            "hasPolicy": [catalog_offer(offer) for offer in item.offers],
            "distribution": distributions,
        }
    )


def negotiation_ack(process: negotiation.Negotiation) -> ContractNegotiation:
    """The ``ContractNegotiation`` body for a negotiation that has ids and a state."""
    if process.state is None or not process.consumer_pid or not process.provider_pid:
        raise Conflict("the negotiation has no protocol state yet", reason="no_state")
    return ContractNegotiation(
        consumer_pid=process.consumer_pid,
        provider_pid=process.provider_pid,
        state=process.state.value,
    )


def transfer_ack(process: transfer.Transfer) -> wire_transfer.TransferProcess:
    """The ``TransferProcess`` body for a transfer that has ids and a state."""
    if process.state is None or not process.consumer_pid or not process.provider_pid:
        raise Conflict("the transfer has no protocol state yet", reason="no_state")
    return wire_transfer.TransferProcess(
        consumer_pid=process.consumer_pid,
        provider_pid=process.provider_pid,
        state=process.state.value,
    )
