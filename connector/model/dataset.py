"""Datasets this participant offers, and how their negotiations and transfers are decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connector.errors import Invalid
from connector.model.contract import Offer


class Mode(StrEnum):
    """Who decides the provider's next step: the connector itself, or an operator."""

    AUTO = "auto"
    MANUAL = "manual"


PULL = "HttpData-PULL"
PUSH = "HttpData-PUSH"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset in this participant's catalogue.

    ``offers`` are the contract offers published for it (each ``target`` is this dataset);
    ``formats`` the distributions it can be transferred in (``HttpData-PULL``,
    ``HttpData-PUSH`` …); ``access_policy`` decides who sees it in the catalogue (compact
    ODRL, ``None`` = everybody); ``source`` is the data plane's description of where the data
    comes from; ``negotiation``/``transfer`` say whether the provider decides automatically.
    """

    id: str
    title: str
    offers: tuple[Offer, ...]
    description: str = ""
    formats: tuple[str, ...] = (PULL,)
    access_policy: Mapping[str, Any] | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    negotiation: Mode = Mode.AUTO
    transfer: Mode = Mode.AUTO
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise Invalid("a dataset needs an id", reason="invalid_dataset", field="id")
        if not self.offers:
            raise Invalid(
                f"dataset {self.id} has no offer", reason="invalid_dataset", field="offers"
            )
        for offer in self.offers:
            if offer.target != self.id:
                raise Invalid(
                    f"offer {offer.id} targets {offer.target}, not dataset {self.id}",
                    reason="invalid_dataset",
                    field="offers",
                )
        if not self.formats:
            raise Invalid(
                f"dataset {self.id} has no distribution format",
                reason="invalid_dataset",
                field="formats",
            )

    def offer(self, offer_id: str) -> Offer | None:
        """The published offer with this ``@id``, if any."""
        for candidate in self.offers:
            if candidate.id == offer_id:
                return candidate
        return None
