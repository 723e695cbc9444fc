"""Streaming writers: records in, byte chunks of about :data:`CHUNK_BYTES` out.

CSV takes its header from the first record (later records with other keys are written under
that header; missing cells empty). JSON is a top-level array, GeoJSON a FeatureCollection
(records must be Features), JSON Lines one object per line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from connector.dataplane.readers import Record

CHUNK_BYTES: Final = 256 * 1024

MEDIA_TYPES: Final = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl",
    "json": "application/json",
    "geojson": "application/geo+json",
}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _batched(parts: Iterable[str]) -> Iterator[bytes]:
    batch: list[str] = []
    size = 0
    for part in parts:
        batch.append(part)
        size += len(part)
        if size >= CHUNK_BYTES:
            yield "".join(batch).encode("utf-8")
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode("utf-8")


def _csv_parts(records: Iterable[Record]) -> Iterator[str]:
    out = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for record in records:
        if writer is None:
            writer = csv.DictWriter(
                out, fieldnames=list(record), extrasaction="ignore", lineterminator="\n"
            )
            writer.writeheader()
        writer.writerow(
            {k: _dump(v) if isinstance(v, dict | list) else v for k, v in record.items()}
        )
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _jsonl_parts(records: Iterable[Record]) -> Iterator[str]:
    for record in records:
        yield _dump(record) + "\n"


def _array_parts(records: Iterable[Record], opening: str, closing: str) -> Iterator[str]:
    yield opening
    first = True
    for record in records:
        yield ("" if first else ",\n") + _dump(record)
        first = False
    yield closing


def write(records: Iterable[Record], kind: str) -> Iterator[bytes]:
    """Encode ``records`` as ``kind`` (``csv``, ``jsonl``, ``json``, ``geojson``)."""
    if kind == "csv":
        return _batched(_csv_parts(records))
    if kind == "jsonl":
        return _batched(_jsonl_parts(records))
    if kind == "geojson":
        return _batched(
            _array_parts(records, '{"type":"FeatureCollection","features":[\n', "\n]}\n")
        )
    return _batched(_array_parts(records, "[\n", "\n]\n"))
