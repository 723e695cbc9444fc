"""Pure domain types: datasets, offers, agreements, negotiations, transfers and their states.

No I/O, no web or database imports: everything here is a value with rules.
"""

from connector.model.contract import Agreement, Offer
from connector.model.dataset import Dataset, Mode
from connector.model.negotiation import (
    NEGOTIATION_TRANSITIONS,
    Negotiation,
    NegotiationEvent,
    NegotiationState,
)
from connector.model.process import Role, Step, TransitionTable
from connector.model.transfer import (
    TRANSFER_TRANSITIONS,
    DataAddress,
    Transfer,
    TransferEvent,
    TransferState,
)

__all__ = [
    "NEGOTIATION_TRANSITIONS",
    "TRANSFER_TRANSITIONS",
    "Agreement",
    "DataAddress",
    "Dataset",
    "Mode",
    "Negotiation",
    "NegotiationEvent",
    "NegotiationState",
    "Offer",
    "Role",
    "Step",
    "Transfer",
    "TransferEvent",
    "TransferState",
    "TransitionTable",
]
