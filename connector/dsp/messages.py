"""Every DSP 2025-1 body this connector reads or writes, by ``@type``; and message → event.

:data:`MESSAGE_TYPES` is what :func:`connector.dsp.codec.parse` dispatches on.
:func:`negotiation_event` and :func:`transfer_event` name the state-machine event a received
message stands for (see :mod:`connector.model.negotiation` and :mod:`connector.model.transfer`).
"""

from __future__ import annotations

from connector.dsp.base import RootMessage
from connector.dsp.catalog import (
    Catalog,
    CatalogError,
    CatalogRequestMessage,
    Dataset,
    DatasetRequestMessage,
)
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
from connector.dsp.transfer import (
    TransferCompletionMessage,
    TransferError,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
)
from connector.errors import Invalid
from connector.model.negotiation import NegotiationEvent
from connector.model.transfer import TransferEvent

MESSAGE_TYPES: dict[str, type[RootMessage]] = {
    cls.message_type: cls
    for cls in (
        CatalogRequestMessage,
        DatasetRequestMessage,
        Catalog,
        Dataset,
        CatalogError,
        ContractRequestMessage,
        ContractOfferMessage,
        ContractAgreementMessage,
        ContractAgreementVerificationMessage,
        ContractNegotiationEventMessage,
        ContractNegotiationTerminationMessage,
        ContractNegotiation,
        ContractNegotiationError,
        TransferRequestMessage,
        TransferStartMessage,
        TransferSuspensionMessage,
        TransferCompletionMessage,
        TransferTerminationMessage,
        TransferProcess,
        TransferError,
    )
}
"""Every root body by its ``@type``."""

NegotiationMessage = (
    ContractRequestMessage
    | ContractOfferMessage
    | ContractAgreementMessage
    | ContractAgreementVerificationMessage
    | ContractNegotiationEventMessage
    | ContractNegotiationTerminationMessage
)
"""The messages that move a contract negotiation."""

TransferMessage = (
    TransferRequestMessage
    | TransferStartMessage
    | TransferSuspensionMessage
    | TransferCompletionMessage
    | TransferTerminationMessage
)
"""The messages that move a transfer process."""

_NEGOTIATION_EVENTS: dict[type[RootMessage], NegotiationEvent] = {
    ContractRequestMessage: NegotiationEvent.REQUEST,
    ContractOfferMessage: NegotiationEvent.OFFER,
    ContractAgreementMessage: NegotiationEvent.AGREE,
    ContractAgreementVerificationMessage: NegotiationEvent.VERIFY,
    ContractNegotiationTerminationMessage: NegotiationEvent.TERMINATE,
}

_TRANSFER_EVENTS: dict[type[RootMessage], TransferEvent] = {
    TransferRequestMessage: TransferEvent.REQUEST,
    TransferStartMessage: TransferEvent.START,
    TransferSuspensionMessage: TransferEvent.SUSPEND,
    TransferCompletionMessage: TransferEvent.COMPLETE,
    TransferTerminationMessage: TransferEvent.TERMINATE,
}


def negotiation_event(message: RootMessage) -> NegotiationEvent:
    """The negotiation event a message stands for (``Invalid`` for any other message)."""
    if isinstance(message, ContractNegotiationEventMessage):
        if message.event_type == "ACCEPTED":
            return NegotiationEvent.ACCEPT
        return NegotiationEvent.FINALIZE
    event = _NEGOTIATION_EVENTS.get(type(message))
    if event is None:
        raise Invalid(
            f"{message.message_type} is not a contract negotiation message",
            reason="wrong_type",
            field="@type",
        )
    return event


def transfer_event(message: RootMessage) -> TransferEvent:
    """The transfer event a message stands for (``Invalid`` for any other message)."""
    event = _TRANSFER_EVENTS.get(type(message))
    if event is None:
        raise Invalid(
            f"{message.message_type} is not a transfer process message",
            reason="wrong_type",
            field="@type",
        )
    return event
