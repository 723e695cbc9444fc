"""Transfer Process Protocol messages (DSP 2025-1), the data address, ACK/ERROR bodies.

Shapes follow ``transfer/*-schema.json``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from connector.dsp.base import Pid, RootMessage, WireModel

TransferStateName = Literal["REQUESTED", "STARTED", "TERMINATED", "COMPLETED", "SUSPENDED"]


class EndpointProperty(WireModel):
    """One named string property of a data address (e.g. ``authorization``, ``authType``)."""

    wire_requires = ("@type",)

    type_: Literal["EndpointProperty"] = Field(default="EndpointProperty", alias="@type")
    name: str
    value: str


class DataAddress(WireModel):
    """Where the data is: an ``endpointType``, an ``endpoint`` and its properties."""

    wire_requires = ("@type",)

    type_: Literal["DataAddress"] = Field(default="DataAddress", alias="@type")
    endpoint_type: str = Field(alias="endpointType")
    endpoint: str | None = None
    endpoint_properties: list[EndpointProperty] | None = Field(
        default=None, alias="endpointProperties", min_length=1
    )

    def properties(self) -> dict[str, str]:
        """The endpoint properties as a name → value mapping."""
        return {p.name: p.value for p in self.endpoint_properties or ()}


class TransferRequestMessage(RootMessage):
    """Consumer → provider: start a transfer under an agreement, in a format."""

    message_type = "TransferRequestMessage"
    wire_requires = ("@type",)

    type_: Literal["TransferRequestMessage"] = Field(
        default="TransferRequestMessage", alias="@type"
    )
    consumer_pid: Pid = Field(alias="consumerPid")
    agreement_id: str = Field(alias="agreementId")
    format: str
    callback_address: str = Field(alias="callbackAddress")
    data_address: DataAddress | None = Field(default=None, alias="dataAddress")


class _Both(RootMessage):
    """A message that names both process ids."""

    provider_pid: Pid = Field(alias="providerPid")
    consumer_pid: Pid = Field(alias="consumerPid")


class TransferStartMessage(_Both):
    """Provider → consumer (start or resume), or consumer → provider (resume)."""

    message_type = "TransferStartMessage"
    wire_requires = ("@type",)

    type_: Literal["TransferStartMessage"] = Field(default="TransferStartMessage", alias="@type")
    data_address: DataAddress | None = Field(default=None, alias="dataAddress")


class _Coded(_Both):
    """A message with an optional ``code`` and ``reason`` list."""

    code: str | None = None
    reason: list[Any] | None = Field(default=None, min_length=1)


class TransferSuspensionMessage(_Coded):
    """Either side: suspend the transfer."""

    message_type = "TransferSuspensionMessage"
    wire_requires = ("@type",)

    type_: Literal["TransferSuspensionMessage"] = Field(
        default="TransferSuspensionMessage", alias="@type"
    )


class TransferCompletionMessage(_Both):
    """Either side: the transfer is complete."""

    message_type = "TransferCompletionMessage"
    wire_requires = ("@type",)

    type_: Literal["TransferCompletionMessage"] = Field(
        default="TransferCompletionMessage", alias="@type"
    )


class TransferTerminationMessage(_Coded):
    """Either side: terminate the transfer."""

    message_type = "TransferTerminationMessage"
    wire_requires = ("@type",)

    type_: Literal["TransferTerminationMessage"] = Field(
        default="TransferTerminationMessage", alias="@type"
    )


class TransferProcess(_Both):
    """The ACK body: a transfer's ids and state."""

    message_type = "TransferProcess"
    wire_requires = ("@type",)

    type_: Literal["TransferProcess"] = Field(default="TransferProcess", alias="@type")
    state: TransferStateName


class TransferError(_Coded):
    """The ERROR body of the transfer endpoints."""

    message_type = "TransferError"
    wire_requires = ("@type",)

    type_: Literal["TransferError"] = Field(default="TransferError", alias="@type")
    provider_pid: str = Field(alias="providerPid")  # an id we do not know is sent as ""
    consumer_pid: str = Field(alias="consumerPid")
