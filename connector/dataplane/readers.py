"""Streaming readers: bytes in, one record (a ``dict``) at a time out.

Nothing here holds a whole dataset: CSV and JSON Lines are read line by line; JSON and GeoJSON
are read element by element from their top-level array (or from the ``features``/``value``/
``data``/``items`` array of a top-level object, as in GeoJSON or OGC SensorThings answers).
A single element larger than :data:`MAX_ELEMENT_BYTES` is refused.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from connector.errors import Invalid, PayloadTooLarge

Record = dict[str, Any]

MAX_ELEMENT_BYTES: Final = 16 * 1024 * 1024
ARRAY_MEMBERS: Final = ("features", "value", "data", "items")
_WS = " \t\r\n"
_DECODER = json.JSONDecoder()


def _text(chunks: Iterable[bytes]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    pending = ""
    for text in _text(chunks):
        pending += text
        if len(pending) > MAX_ELEMENT_BYTES and "\n" not in pending:
            raise PayloadTooLarge("a line is longer than the element limit", reason="too_large")
        *complete, pending = pending.split("\n")
        yield from complete
    if pending:
        yield pending


def read_jsonl(chunks: Iterable[bytes]) -> Iterator[Record]:
    """Records of a JSON Lines stream (blank lines skipped; each line one JSON object)."""
    for number, line in enumerate(_lines(chunks), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise Invalid(f"JSON Lines: line {number} is not JSON", reason="bad_source") from exc
        if not isinstance(value, dict):
            raise Invalid(f"JSON Lines: line {number} is not an object", reason="bad_source")
        yield value


def _csv_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines with their endings (the csv module joins quoted multi-line fields itself)."""
    pending = ""
    for text in _text(chunks):
        pending += text
        if len(pending) > MAX_ELEMENT_BYTES and "\n" not in pending:
            raise PayloadTooLarge("a CSV line is longer than the limit", reason="too_large")
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    if pending:
        yield pending


def read_csv(chunks: Iterable[bytes]) -> Iterator[Record]:
    """Records of a CSV stream with a header row (values stay strings; empty cells ``None``)."""
    reader = csv.DictReader(_csv_lines(chunks))
    for row in reader:
        yield {k: (v if v != "" else None) for k, v in row.items() if k is not None}


class _JsonCursor:
    """Incremental access to a JSON text: skip whitespace, expect a character, decode a value."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._texts = _text(chunks)
        self.buf = ""
        self.pos = 0
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        nxt = next(self._texts, None)
        if nxt is None:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + nxt
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise Invalid(f"JSON: expected {char!r}", reason="bad_source")
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos > MAX_ELEMENT_BYTES:
                    raise PayloadTooLarge(
                        "a JSON element is too large", reason="too_large"
                    ) from exc
                if not self._more():
                    raise Invalid("JSON: malformed or truncated", reason="bad_source") from exc
                continue
            # A number at the end of the buffer may continue in the next chunk.
            number = isinstance(value, int | float)
            if end == len(self.buf) and not self.eof and number and self._more():
                continue
            if end - self.pos > MAX_ELEMENT_BYTES:
                raise PayloadTooLarge("a JSON element is too large", reason="too_large")
            self.pos = end
            return value


def _elements(cursor: _JsonCursor) -> Iterator[Any]:
    cursor.expect("[")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    while True:
        yield cursor.value()
        nxt = cursor.peek()
        cursor.pos += 1
        if nxt == "]":
            return
        if nxt != ",":
            raise Invalid("JSON: expected ',' or ']' in an array", reason="bad_source")


def read_json(chunks: Iterable[bytes], header: Record | None = None) -> Iterator[Record]:
    """Objects of a top-level JSON array, or of the first array member of a top-level object
    named in :data:`ARRAY_MEMBERS`; the object's other (small) members go into ``header``."""
    cursor = _JsonCursor(chunks)
    if cursor.peek() == "[":
        for element in _elements(cursor):
            if not isinstance(element, dict):
                raise Invalid("JSON: array element is not an object", reason="bad_source")
            yield element
        return
    cursor.expect("{")
    found = False
    while cursor.peek() not in ("}", ""):
        key = cursor.value()
        cursor.expect(":")
        if isinstance(key, str) and key in ARRAY_MEMBERS and cursor.peek() == "[" and not found:
            found = True
            for element in _elements(cursor):
                if not isinstance(element, dict):
                    raise Invalid("JSON: array element is not an object", reason="bad_source")
                yield element
        else:
            value = cursor.value()
            if header is not None:
                header[str(key)] = value
        if cursor.peek() == ",":
            cursor.pos += 1
    cursor.expect("}")
    if not found:
        raise Invalid("JSON: no array of records found", reason="bad_source")


def reader_for(media_type: str) -> Any:
    """The reader function for a media type (``text/csv``, ``application/jsonl`` …)."""
    kind = media_kind(media_type)
    return {"csv": read_csv, "jsonl": read_jsonl, "json": read_json, "geojson": read_json}[kind]


def media_kind(media_type: str) -> str:
    """``csv``, ``jsonl``, ``json`` or ``geojson`` for a media type; Invalid otherwise."""
    base = media_type.split(";", 1)[0].strip().lower()
    kinds = {
        "text/csv": "csv",
        "application/csv": "csv",
        "application/jsonl": "jsonl",
        "application/x-ndjson": "jsonl",
        "application/x-jsonlines": "jsonl",
        "application/json-seq": "jsonl",
        "application/json": "json",
        "application/geo+json": "geojson",
        "application/vnd.geo+json": "geojson",
    }
    if base not in kinds:
        raise Invalid(f"unsupported media type {media_type!r}", reason="unsupported_media_type")
    return kinds[base]
