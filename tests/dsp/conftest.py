"""The official DSP 2025-1 schemas and examples (../shared/vectors/dsp-2025-1) as fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dsp_vectors import DSP, load_official_schemas
from jsonschema import validators


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
