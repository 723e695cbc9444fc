"""Discovery documents: the version document at ``/.well-known/dspace-version`` (no
``@context``, no authentication) and the DID-document ``service`` entry pointing at a connector.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from connector.dsp.base import DSP_CONTEXT, WireModel

PROTOCOL_VERSION = "2025-1"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"


class Auth(WireModel):
    """How an endpoint is secured: protocol, version, profiles."""

    protocol: str
    version: str
    profile: list[str] | None = None


class ProtocolVersion(WireModel):
    """One version/binding this connector speaks, and the base path of its endpoints."""

    version: str
    path: str
    binding: Literal["HTTPS"] = "HTTPS"
    identifier_type: str | None = Field(default=None, alias="identifierType")
    service_id: str | None = Field(default=None, alias="serviceId")
    auth: Auth | None = None


class VersionResponse(WireModel):
    """``{"protocolVersions": [...]}`` with at least one entry."""

    protocol_versions: list[ProtocolVersion] = Field(alias="protocolVersions", min_length=1)


def version_response(
    path: str,
    *,
    identifier_type: str | None = "did:web",
    service_id: str | None = None,
    auth: Auth | None = None,
) -> VersionResponse:
    """The version document of a connector that speaks DSP 2025-1 (HTTPS) under ``path``."""
    return VersionResponse(
        protocol_versions=[
            ProtocolVersion(
                version=PROTOCOL_VERSION,
                path=path,
                identifier_type=identifier_type,
                service_id=service_id,
                auth=auth,
            )
        ]
    )


class DidService(WireModel):
    """A DID document ``service`` entry announcing a connector or a catalogue service."""

    context: list[str] = Field(default_factory=lambda: [DSP_CONTEXT, DID_CONTEXT], alias="@context")
    id: str
    type: Literal["DataService", "CatalogService"]
    service_endpoint: str = Field(alias="serviceEndpoint")

    @field_validator("context")
    @classmethod
    def _dsp_and_did(cls, value: list[str]) -> list[str]:
        if DSP_CONTEXT not in value or DID_CONTEXT not in value:
            raise ValueError(f"@context must include {DSP_CONTEXT} and {DID_CONTEXT}")
        return value
