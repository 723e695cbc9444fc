"""Where a dataset's data comes from: a file, a SQL query or an HTTP upstream.

Exactly three shapes are accepted (anything else, an unknown key among them, is ``Invalid``)::

    {"type": "file", "path": "...", "mediaType": "..."}
    {"type": "sql",  "url": "...",  "query": "..."}
    {"type": "http", "url": "...",  "headers": {"name": "value", ...}}   # headers optional

:data:`SOURCE_SCHEMA` states the same as a JSON Schema (for the OpenAPI document and for
anybody checking a configuration without Python). Pure: the data plane reads the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connector.errors import Invalid

SourceType = Literal["file", "sql", "http"]

_STRING = {"type": "string", "minLength": 1}

SOURCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Dataset source",
    "oneOf": [
        {
            "type": "object",
            "properties": {"type": {"const": "file"}, "path": _STRING, "mediaType": _STRING},
            "required": ["type", "path", "mediaType"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"type": {"const": "sql"}, "url": _STRING, "query": _STRING},
            "required": ["type", "url", "query"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "type": {"const": "http"},
                "url": _STRING,
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["type", "url"],
            "additionalProperties": False,
        },
    ],
}
"""The JSON Schema of a source (2020-12)."""

_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "file": (frozenset({"type", "path", "mediaType"}), frozenset()),
    "sql": (frozenset({"type", "url", "query"}), frozenset()),
    "http": (frozenset({"type", "url"}), frozenset({"headers"})),
}


@dataclass(frozen=True, slots=True)
class Source:
    """A validated source: ``type`` and the fields of that type (``headers`` only for http)."""

    type: SourceType
    path: str | None = None
    media_type: str | None = None
    url: str | None = None
    query: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any) -> Source:
        """Validate a source object; ``Invalid`` (reason ``invalid_source``) names the field."""
        if not isinstance(value, Mapping):
            raise Invalid("source must be an object", reason="invalid_source", field="source")
        kind = value.get("type")
        if not isinstance(kind, str) or kind not in _KEYS:
            raise Invalid(
                "source.type must be file, sql or http", reason="invalid_source", field="type"
            )
        required, optional = _KEYS[kind]
        for key in value:
            if key not in required | optional:
                raise Invalid(
                    f"source.{key} is not allowed for a {kind} source",
                    reason="invalid_source",
                    field=f"source.{key}",
                )
        for key in required - {"type"}:
            item = value.get(key)
            if not isinstance(item, str) or not item:
                raise Invalid(
                    f"source.{key} must be a non-empty string",
                    reason="invalid_source",
                    field=f"source.{key}",
                )
        headers = value.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise Invalid(
                "source.headers must map names to strings",
                reason="invalid_source",
                field="source.headers",
            )
        return cls(
            type=kind,  # type: ignore[arg-type]
            path=value.get("path"),
            media_type=value.get("mediaType"),
            url=value.get("url"),
            query=value.get("query"),
            headers=dict(headers),
        )

    def to_json(self) -> dict[str, Any]:
        """The source in its JSON shape (as :meth:`parse` accepts it)."""
        if self.type == "file":
            return {"type": "file", "path": self.path, "mediaType": self.media_type}
        if self.type == "sql":
            return {"type": "sql", "url": self.url, "query": self.query}
        body: dict[str, Any] = {"type": "http", "url": self.url}
        if self.headers:
            body["headers"] = dict(self.headers)
        return body
