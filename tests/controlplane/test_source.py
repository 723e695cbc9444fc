"""The dataset source model and its JSON Schema agree."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connector.errors import Invalid
from connector.model.source import SOURCE_SCHEMA, Source

VALID: list[dict[str, Any]] = [
    {"type": "file", "path": "energy.csv", "mediaType": "text/csv"},
    {"type": "sql", "url": "sqlite:///demo/hagen.db", "query": "SELECT * FROM energy"},
    {"type": "http", "url": "https://api.example/data"},
    {"type": "http", "url": "https://api.example/data", "headers": {"Accept": "text/csv"}},
]
INVALID: list[Any] = [
    None,
    "file",
    {"type": "ftp", "url": "ftp://x"},
    {"type": "file", "path": "x.csv"},
    {"type": "file", "path": "x.csv", "mediaType": "text/csv", "url": "https://x"},
    {"type": "sql", "url": "sqlite://", "query": ""},
    {"type": "http", "url": "https://x", "headers": {"a": 1}},
    {"type": "http", "url": "https://x", "extra": True},
]


@pytest.mark.parametrize("value", VALID)
def test_valid_sources_round_trip(value: dict[str, Any]) -> None:
    assert Source.parse(value).to_json() == value
    assert not list(Draft202012Validator(SOURCE_SCHEMA).iter_errors(value))


@pytest.mark.parametrize("value", INVALID)
def test_anything_else_is_refused_by_both(value: Any) -> None:
    with pytest.raises(Invalid):
        Source.parse(value)
    assert list(Draft202012Validator(SOURCE_SCHEMA).iter_errors(value))
