"""Catalog Protocol messages (DSP 2025-1): requests, the DCAT catalogue, its error body.

Shapes follow ``catalog/*-schema.json``. A catalogue (and every nested catalogue, dataset and
distribution) keeps DCAT/DCT properties this model does not name (``dct:title`` …) as
extension properties, so they survive a round trip.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from connector.dsp.base import RootMessage, WireModel, field_error
from connector.dsp.policy import Offer


class CatalogRequestMessage(RootMessage):
    """Consumer → provider: "send me your catalogue", with an optional filter."""

    message_type = "CatalogRequestMessage"
    wire_requires = ("@type",)

    type_: Literal["CatalogRequestMessage"] = Field(default="CatalogRequestMessage", alias="@type")
    filter: list[Any] | None = None


class DatasetRequestMessage(RootMessage):
    """Consumer → provider: "send me this one dataset"."""

    message_type = "DatasetRequestMessage"
    wire_requires = ("@type",)

    type_: Literal["DatasetRequestMessage"] = Field(default="DatasetRequestMessage", alias="@type")
    dataset: str


class DataService(WireModel):
    """A DCAT data service: the DSP endpoint that serves the datasets."""

    wire_requires = ("@type",)

    id: str = Field(alias="@id")
    type_: Literal["DataService"] = Field(default="DataService", alias="@type")
    endpoint_url: str = Field(alias="endpointURL")
    endpoint_description: str | None = Field(default=None, alias="endpointDescription")
    serves_dataset: list[Dataset] | None = Field(default=None, alias="servesDataset", min_length=1)


_UNTARGETED_OFFERS: tuple[dict[str, Any], ...] = (
    {"properties": {"hasPolicy": {"items": {"not": {"required": ["target"]}}}}},
)


def _no_offer_target(offers: list[Offer] | None) -> list[Offer] | None:
    for index, offer in enumerate(offers or ()):
        if offer.target is not None:
            raise field_error(f"[{index}].target", "an offer in a catalogue must not have a target")
    return offers


class Distribution(WireModel):
    """A DCAT distribution: a ``format`` (e.g. ``HttpData-PULL``) through an access service."""

    schema_rules = _UNTARGETED_OFFERS

    type_: Literal["Distribution"] = Field(default="Distribution", alias="@type")
    format: str
    access_service: str | DataService = Field(alias="accessService")
    has_policy: list[Offer] | None = Field(default=None, alias="hasPolicy", min_length=1)

    _offers_untargeted = field_validator("has_policy")(_no_offer_target)


class Dataset(RootMessage):
    """A DCAT dataset with its offers (``hasPolicy``) and distributions."""

    schema_rules = _UNTARGETED_OFFERS

    message_type = "Dataset"

    id: str = Field(alias="@id")
    type_: Literal["Dataset"] = Field(default="Dataset", alias="@type")
    has_policy: list[Offer] = Field(alias="hasPolicy", min_length=1)
    distribution: list[Distribution] = Field(min_length=1)

    _offers_untargeted = field_validator("has_policy")(_no_offer_target)


class Catalog(RootMessage):
    """A DCAT catalogue: datasets, nested catalogues, data services.

    At the root of a body it must name the provider's ``participantId``. Empty lists are
    written as absent (the schema wants at least one item where a list is present).
    """

    schema_rules = ({"not": {"required": ["hasPolicy"]}},)

    message_type = "Catalog"
    wire_requires = ("@type",)
    root_requires = ("participantId",)

    id: str = Field(alias="@id")
    type_: Literal["Catalog"] = Field(default="Catalog", alias="@type")
    participant_id: str | None = Field(default=None, alias="participantId")
    dataset: list[Dataset] | None = None
    catalog: list[Catalog] | None = None
    service: list[DataService] | None = None
    distribution: list[Distribution] | None = None

    @field_validator("dataset", "catalog", "service", "distribution", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if value == [] else value

    @model_validator(mode="before")
    @classmethod
    def _no_policy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "hasPolicy" in data:
            raise field_error("hasPolicy", "a catalog must not have hasPolicy (its datasets have)")
        return data


class CatalogError(RootMessage):
    """The error body of the catalogue endpoints."""

    message_type = "CatalogError"
    wire_requires = ("@type",)

    type_: Literal["CatalogError"] = Field(default="CatalogError", alias="@type")
    code: str | None = None
    reason: list[Any] | None = None


DataService.model_rebuild()
Catalog.model_rebuild()
