"""The official DSP 2025-1 JSON Schemas (../shared/vectors/dsp-2025-1), for the tests that
check bodies against them (tests/dsp, tests/integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from referencing import Registry, Resource

DSP = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "dsp-2025-1"


SCHEMA_OF = {
    "Catalog": "catalog-schema.json",
    "Dataset": "dataset-schema.json",
    "CatalogError": "catalog-error-schema.json",
    "ContractNegotiation": "contract-negotiation-schema.json",
    "ContractNegotiationError": "contract-negotiation-error-schema.json",
    "ContractRequestMessage": "contract-request-message-schema.json",
    "ContractOfferMessage": "contract-offer-message-schema.json",
    "ContractAgreementMessage": "contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage": "contract-agreement-verification-message-schema.json",
    "ContractNegotiationEventMessage": "contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage": "contract-negotiation-termination-message-schema.json",
    "TransferProcess": "transfer-process-schema.json",
    "TransferError": "transfer-error-schema.json",
    "TransferRequestMessage": "transfer-request-message-schema.json",
    "TransferStartMessage": "transfer-start-message-schema.json",
    "TransferSuspensionMessage": "transfer-suspension-message-schema.json",
    "TransferCompletionMessage": "transfer-completion-message-schema.json",
    "TransferTerminationMessage": "transfer-termination-message-schema.json",
}
"""The official schema (file name) of each DSP body ``@type``."""


def dsp_dir() -> Path:
    """The vectors' folder, or a skip with a clear message where it is absent."""
    if not DSP.is_dir():
        pytest.skip(
            f"DSP 2025-1 vectors not found at {DSP} (../shared/vectors beside the checkout)"
        )
    return DSP


def _repair_refs(node: Any) -> Any:
    """Upstream erratum: a few $refs write '#definitions/x' for the JSON pointer '#/definitions/x'."""
    if isinstance(node, dict):
        return {
            k: (v.replace("#definitions/", "#/definitions/") if k == "$ref" else _repair_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_repair_refs(v) for v in node]
    return node


def load_official_schemas() -> tuple[dict[str, dict[str, Any]], Registry]:
    """The official schemas by file name, and a registry resolving their ``$ref``s."""
    schemas: dict[str, dict[str, Any]] = {}
    registry: Registry = Registry()
    for path in sorted(dsp_dir().glob("*/*-schema.json")):
        schema = _repair_refs(json.loads(path.read_text()))
        schemas[path.name] = schema
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return schemas, registry
