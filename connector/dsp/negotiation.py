"""Contract Negotiation Protocol messages (DSP 2025-1) and their ACK/ERROR bodies.

Shapes follow ``negotiation/*-schema.json``. Two rules the schemas state with ``oneOf``:
a ``ContractRequestMessage`` carries exactly one of ``callbackAddress`` (it starts a
negotiation) and ``providerPid`` (it continues one); a ``ContractOfferMessage`` carries exactly
one of ``callbackAddress`` (it starts one) and ``consumerPid``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from connector.dsp.base import Pid, RootMessage, field_error
from connector.dsp.policy import Agreement, MessageOffer

NegotiationStateName = Literal[
    "REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED", "TERMINATED"
]


class ContractRequestMessage(RootMessage):
    """Consumer → provider: request (or counter-request) an offer."""

    schema_rules = ({"oneOf": [{"required": ["callbackAddress"]}, {"required": ["providerPid"]}]},)

    message_type = "ContractRequestMessage"
    wire_requires = ("@type",)

    type_: Literal["ContractRequestMessage"] = Field(
        default="ContractRequestMessage", alias="@type"
    )
    consumer_pid: Pid = Field(alias="consumerPid")
    provider_pid: Pid | None = Field(default=None, alias="providerPid")
    offer: MessageOffer
    callback_address: str | None = Field(default=None, alias="callbackAddress")

    @model_validator(mode="after")
    def _starts_or_continues(self) -> ContractRequestMessage:
        if (self.callback_address is None) == (self.provider_pid is None):
            raise field_error(
                "callbackAddress", "exactly one of callbackAddress and providerPid is required"
            )
        return self

    @property
    def is_initial(self) -> bool:
        """Whether this request starts a negotiation (no ``providerPid`` yet)."""
        return self.provider_pid is None


class ContractOfferMessage(RootMessage):
    """Provider → consumer: offer (or counter-offer); the offer names its ``target``."""

    schema_rules = (
        {"oneOf": [{"required": ["callbackAddress"]}, {"required": ["consumerPid"]}]},
        {"properties": {"offer": {"required": ["target"]}}},
    )

    message_type = "ContractOfferMessage"
    wire_requires = ("@type",)

    type_: Literal["ContractOfferMessage"] = Field(default="ContractOfferMessage", alias="@type")
    provider_pid: Pid = Field(alias="providerPid")
    consumer_pid: Pid | None = Field(default=None, alias="consumerPid")
    offer: MessageOffer
    callback_address: str | None = Field(default=None, alias="callbackAddress")

    @model_validator(mode="after")
    def _starts_or_continues(self) -> ContractOfferMessage:
        if (self.callback_address is None) == (self.consumer_pid is None):
            raise field_error(
                "callbackAddress", "exactly one of callbackAddress and consumerPid is required"
            )
        if self.offer.target is None:
            raise field_error(
                "offer.target", "the offer of a contract offer message needs a target"
            )
        return self

    @property
    def is_initial(self) -> bool:
        """Whether this offer starts a negotiation (no ``consumerPid`` yet)."""
        return self.consumer_pid is None


class _Both(RootMessage):
    """A message that names both process ids."""

    provider_pid: Pid = Field(alias="providerPid")
    consumer_pid: Pid = Field(alias="consumerPid")


class ContractAgreementMessage(_Both):
    """Provider → consumer: the agreement."""

    message_type = "ContractAgreementMessage"
    wire_requires = ("@type",)

    type_: Literal["ContractAgreementMessage"] = Field(
        default="ContractAgreementMessage", alias="@type"
    )
    agreement: Agreement


class ContractAgreementVerificationMessage(_Both):
    """Consumer → provider: the agreement is verified."""

    message_type = "ContractAgreementVerificationMessage"
    wire_requires = ("@type",)

    type_: Literal["ContractAgreementVerificationMessage"] = Field(
        default="ContractAgreementVerificationMessage", alias="@type"
    )


class ContractNegotiationEventMessage(_Both):
    """``ACCEPTED`` (consumer → provider) or ``FINALIZED`` (provider → consumer)."""

    message_type = "ContractNegotiationEventMessage"
    wire_requires = ("@type",)

    type_: Literal["ContractNegotiationEventMessage"] = Field(
        default="ContractNegotiationEventMessage", alias="@type"
    )
    event_type: Literal["ACCEPTED", "FINALIZED"] = Field(alias="eventType")


class ContractNegotiationTerminationMessage(_Both):
    """Either side: the negotiation is terminated, with an optional code and reasons."""

    message_type = "ContractNegotiationTerminationMessage"
    wire_requires = ("@type",)

    type_: Literal["ContractNegotiationTerminationMessage"] = Field(
        default="ContractNegotiationTerminationMessage", alias="@type"
    )
    code: str | None = None
    reason: list[Any] | None = Field(default=None, min_length=1)


class ContractNegotiation(_Both):
    """The ACK body: a negotiation's ids and state."""

    message_type = "ContractNegotiation"
    wire_requires = ("@type",)

    type_: Literal["ContractNegotiation"] = Field(default="ContractNegotiation", alias="@type")
    state: NegotiationStateName


class ContractNegotiationError(_Both):
    """The ERROR body of the negotiation endpoints."""

    message_type = "ContractNegotiationError"
    wire_requires = ("@type",)

    type_: Literal["ContractNegotiationError"] = Field(
        default="ContractNegotiationError", alias="@type"
    )
    provider_pid: str = Field(alias="providerPid")  # an id we do not know is sent as ""
    consumer_pid: str = Field(alias="consumerPid")
    code: str | None = None
    reason: list[Any] | None = Field(default=None, min_length=1)
