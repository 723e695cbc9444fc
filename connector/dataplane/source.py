"""A dataset's ``source``: which kind, validated strictly, and how to read it as a stream.

Exactly these shapes are accepted (more types may follow; these keep their names)::

    {"type": "file", "path": "...", "mediaType": "text/csv"}
    {"type": "sql",  "url": "sqlite:///..." | "postgresql://...", "query": "SELECT ..."}
    {"type": "http", "url": "https://...", "headers": {"Name": "value"}}   # headers optional

File and SQLite paths are confined to the source directories. SQL runs on a read-only
connection; the consumer's narrowing is bound as parameters, never put into the text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.dataplane.confinement import SourceDirs, read_chunks
from connector.dataplane.narrowing import IDENTIFIER, Narrowing
from connector.dataplane.readers import Record, media_kind, reader_for
from connector.errors import Invalid

_KEYS = {
    "file": ({"type", "path", "mediaType"}, set()),
    "sql": ({"type", "url", "query"}, set()),
    "http": ({"type", "url"}, {"headers"}),
}


@dataclass(frozen=True)
class FileSpec:
    path: str
    media_type: str


@dataclass(frozen=True)
class SqlSpec:
    url: str
    query: str


@dataclass(frozen=True)
class HttpSpec:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


SourceSpec = FileSpec | SqlSpec | HttpSpec


def parse_source(raw: Mapping[str, Any]) -> SourceSpec:
    """Validate a ``source`` mapping; anything but the three shapes is :class:`Invalid`."""
    if not isinstance(raw, Mapping):
        raise Invalid("source must be an object", reason="invalid_source")
    kind = raw.get("type")
    if kind not in _KEYS:
        raise Invalid(f"unknown source type {kind!r}", reason="invalid_source")
    required, optional = _KEYS[kind]
    keys = set(raw)
    if not required <= keys or keys - required - optional:
        raise Invalid(
            f"a {kind} source has exactly {sorted(required)} (optional {sorted(optional)})",
            reason="invalid_source",
        )
    for key in keys - {"headers"}:
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise Invalid(f"source {key} must be a non-empty string", reason="invalid_source")
    if kind == "file":
        media_kind(raw["mediaType"])
        return FileSpec(raw["path"], raw["mediaType"])
    if kind == "sql":
        url = raw["url"]
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise Invalid(
                "sql source url must be sqlite:/// or postgresql://", reason="invalid_source"
            )
        query = raw["query"].strip().rstrip(";")
        if ";" in query:
            raise Invalid("sql source query must be one statement", reason="invalid_source")
        return SqlSpec(url, query)
    headers = raw.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise Invalid("http source headers must map names to strings", reason="invalid_source")
    if not raw["url"].startswith(("https://", "http://")):
        raise Invalid("http source url must be http(s)", reason="invalid_source")
    return HttpSpec(raw["url"], dict(headers))


class FileSource:
    """A file or a directory of files (all of one media type)."""

    def __init__(self, spec: FileSpec, dirs: SourceDirs) -> None:
        self.spec = spec
        self.dirs = dirs
        self.kind = media_kind(spec.media_type)
        self.files = dirs.files(spec.path)

    def chunks(self) -> Iterator[bytes]:
        """The raw bytes (one file only: a directory is always re-encoded)."""
        return read_chunks(self.dirs, self.files)

    @property
    def passthrough(self) -> bool:
        """Whether the raw bytes are a valid answer (a single file)."""
        return len(self.files) == 1

    def records(self) -> Iterator[Record]:
        """Every record of every file, in file order."""
        reader = reader_for(self.spec.media_type)
        for path in self.files:
            yield from reader(read_chunks(self.dirs, [path]))


def _quoted(column: str) -> str:
    if not IDENTIFIER.match(column):
        raise Invalid(f"not a column name: {column!r}", reason="invalid_source")
    return f'"{column}"'


def narrowed_query(
    query: str, narrowing: Narrowing, time_column: str | None, *, ordered: bool
) -> tuple[str, dict[str, Any]]:
    """The source query wrapped with bound conditions for ``narrowing``."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if time_column is not None and narrowing.start:
        where.append(f"{_quoted(time_column)} >= :dp_from")
        params["dp_from"] = narrowing.start
    if time_column is not None and narrowing.end:
        where.append(f"{_quoted(time_column)} < :dp_to")
        params["dp_to"] = narrowing.end
    for index, (column, value) in enumerate(sorted(narrowing.filters.items())):
        where.append(f"{_quoted(column)} = :dp_f{index}")
        params[f"dp_f{index}"] = value
    if not where and narrowing.limit is None and not ordered:
        return query, params
    text = f"SELECT * FROM ({query}) AS dp_q"  # noqa: S608 - the query is the operator's, values are bound
    if where:
        text += " WHERE " + " AND ".join(where)
    if ordered and time_column is not None:
        text += f" ORDER BY {_quoted(time_column)}"
    if narrowing.limit is not None:
        text += " LIMIT :dp_limit"
        params["dp_limit"] = narrowing.limit
    return text, params
