"""JSON text ⇄ Python values on the hot paths (DSP bodies, stored process documents), with orjson.

Output is compact UTF-8 without ASCII escaping — what ``json.dumps(separators=(",", ":"),
ensure_ascii=False)`` writes. Where orjson is stricter than the standard library the standard
library takes over, so behaviour stays the same: a value orjson cannot write (an integer beyond
64 bits) is written by :mod:`json`, and text orjson refuses is decoded by :func:`json.loads`,
which either raises the usual ``ValueError`` or accepts it (escaped lone surrogates, big
integers) for the callers' own checks.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of ``value``."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError: e.g. an integer over 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def dumps_text(value: Any) -> str:
    """:func:`dumps` as a ``str``."""
    return dumps(value).decode("utf-8")


def loads(raw: bytes | bytearray | str) -> Any:
    """The value of JSON text (``ValueError`` if it is not JSON)."""
    return loads_strict(raw)[0]


def loads_strict(raw: bytes | bytearray | str) -> tuple[Any, bool]:
    """:func:`loads`, and whether the text was also *strict* JSON: UTF-8 without lone
    surrogates (escaped or not) and integers within 64 bits — what orjson accepts."""
    try:
        return orjson.loads(raw), True
    except orjson.JSONDecodeError:
        return json.loads(raw), False
