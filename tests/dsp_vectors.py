"""The official DSP 2025-1 JSON Schemas (../shared/vectors/dsp-2025-1), for the tests that
check bodies against them (tests/dsp, tests/integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from referencing import Registry, Resource

DSP = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "dsp-2025-1"


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
