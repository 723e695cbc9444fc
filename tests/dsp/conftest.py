"""The official DSP 2025-1 schemas and examples (../shared/vectors/dsp-2025-1) as fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import validators
from referencing import Registry, Resource

DSP = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "dsp-2025-1"


def dsp_dir() -> Path:
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
    schemas: dict[str, dict[str, Any]] = {}
    registry: Registry = Registry()
    for path in sorted(dsp_dir().glob("*/*-schema.json")):
        schema = _repair_refs(json.loads(path.read_text()))
        schemas[path.name] = schema
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return schemas, registry


@pytest.fixture(scope="session")
def official() -> Callable[[str, Any], list[str]]:
    """``official(schema_file, body)`` → the official schema's error messages (empty = valid)."""
    schemas, registry = load_official_schemas()
    cache: dict[str, Any] = {}

    def check(name: str, body: Any) -> list[str]:
        if name not in cache:
            schema = schemas[name]
            cls = validators.validator_for(schema)
            cache[name] = cls(schema, registry=registry)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in cache[name].iter_errors(body)
        ]

    return check


def official_examples() -> list[Path]:
    if not DSP.is_dir():
        return []
    return sorted(DSP.glob("*/example/*.json"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``example_path`` with every official example (one skipping case if absent)."""
    if "example_path" in metafunc.fixturenames:
        paths = official_examples()
        params: list[Any] = [pytest.param(p, id=f"{p.parent.parent.name}/{p.name}") for p in paths]
        if not params:
            params = [pytest.param(None, id="vectors-absent")]
        metafunc.parametrize("example_path", params)
