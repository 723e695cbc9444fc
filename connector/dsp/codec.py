"""Reading and writing DSP bodies: JSON ⇄ typed models, every failure an ``Invalid``.

Writing: :func:`serialize` gives compact JSON-LD with
``"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"]`` and unprefixed terms, absent
optional values left out; :func:`dumps` the same as bytes. Reading: :func:`loads` (bytes) and
:func:`parse` (decoded JSON) check the body's size, depth, ``@context`` and ``@type``, bring
prefixed or expanded spellings back to compact terms (:mod:`connector.dsp.terms`) and validate
it against the model. A failure raises :class:`connector.errors.Invalid` (or
``PayloadTooLarge``/``UnknownContext``) with a ``reason`` code and ``field`` — the path of the
first offending property, e.g. ``offer.permission[0].action`` — in ``context``.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, overload

from pydantic import ValidationError

from connector import jsontext
from connector.dsp import terms
from connector.dsp.base import DSP_CONTEXT, RootMessage, WireModel
from connector.dsp.messages import MESSAGE_TYPES
from connector.dsp.version import VersionResponse
from connector.errors import Invalid, PayloadTooLarge, UnknownContext

M = TypeVar("M", bound=RootMessage)

MAX_BYTES = 4 * 1024 * 1024
"""The largest body :func:`loads` reads (a catalogue page of a few hundred datasets fits)."""

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects a body may have."""

_WIRE = {"wire": True}
_SURROGATE = re.compile("[\ud800-\udfff]")


def serialize(message: WireModel) -> dict[str, Any]:
    """The compact JSON-LD of a message (``@context`` first; no ``@context`` on the version)."""
    body = message.model_dump(by_alias=True, exclude_none=True, mode="json")
    if isinstance(message, RootMessage):
        return {"@context": [DSP_CONTEXT], **body}
    return body


def dumps(message: WireModel) -> bytes:
    """:func:`serialize` as UTF-8 JSON bytes without insignificant whitespace."""
    return jsontext.dumps(serialize(message))


def decode(raw: bytes | str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Decode a JSON body within the size and depth limits (``Invalid`` if it is not JSON)."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"body is larger than {max_bytes} bytes", field="(body)")
    try:
        value, strict = jsontext.loads_strict(raw)
    except (ValueError, RecursionError) as exc:
        raise Invalid("body is not valid JSON", reason="not_json", field="(body)") from exc
    if not (strict and _shallow(raw)):
        check_depth(value)
    return value


def _shallow(raw: bytes | str) -> bool:
    """Whether the text has fewer opening brackets than :data:`MAX_DEPTH` (then nothing in it
    can nest deeper; brackets inside strings only make this answer ``False`` more often)."""
    if isinstance(raw, str):
        return raw.count("{") + raw.count("[") < MAX_DEPTH
    return raw.count(b"{") + raw.count(b"[") < MAX_DEPTH


@overload
def loads(raw: bytes | str, expected: type[M], *, max_bytes: int = ...) -> M: ...
@overload
def loads(
    raw: bytes | str, expected: tuple[type[RootMessage], ...] | None = None, *, max_bytes: int = ...
) -> RootMessage: ...
def loads(
    raw: bytes | str,
    expected: type[RootMessage] | tuple[type[RootMessage], ...] | None = None,
    *,
    max_bytes: int = MAX_BYTES,
) -> RootMessage:
    """Decode and :func:`parse` a body."""
    return _parse(decode(raw, max_bytes=max_bytes), expected)


@overload
def parse(body: Any, expected: type[M]) -> M: ...
@overload
def parse(body: Any, expected: tuple[type[RootMessage], ...] | None = None) -> RootMessage: ...
def parse(
    body: Any, expected: type[RootMessage] | tuple[type[RootMessage], ...] | None = None
) -> RootMessage:
    """Validate a decoded body as a DSP message; ``expected`` restricts the ``@type``."""
    check_depth(body)
    return _parse(body, expected)


def _parse(
    body: Any, expected: type[RootMessage] | tuple[type[RootMessage], ...] | None
) -> RootMessage:
    """:func:`parse` of a body whose depth and text were checked (:func:`decode`)."""
    body = terms.normalize(body)
    if not isinstance(body, dict):
        raise Invalid("a DSP message must be a JSON object", reason="not_an_object", field="(body)")
    cls = _message_class(body, expected)
    _check_context(body)
    for key in cls.root_requires:
        if key not in body:
            raise Invalid(
                f"{cls.message_type}: {key}: Field required", reason="missing_field", field=key
            )
    content = {k: v for k, v in body.items() if k != "@context"}
    try:
        return cls.model_validate(content, context=_WIRE)
    except ValidationError as exc:
        raise invalid_from(exc, cls.message_type) from None


def parse_version(body: Any) -> VersionResponse:
    """Validate a decoded ``/.well-known/dspace-version`` document."""
    check_depth(body)
    if not isinstance(body, dict):
        raise Invalid("a version document must be a JSON object", reason="not_an_object")
    try:
        return VersionResponse.model_validate(body, context=_WIRE)
    except ValidationError as exc:
        raise invalid_from(exc, "VersionResponse") from None


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """``PayloadTooLarge`` if arrays/objects nest deeper than ``limit``; ``Invalid`` if a
    string holds a lone surrogate (``"\\ud800"`` decodes, but can never be written as UTF-8)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise Invalid("a string holds a lone surrogate", reason="invalid_text")
            continue
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise PayloadTooLarge(
                f"body nests deeper than {limit} levels", reason="too_deep", field="(body)"
            )
        stack.extend((child, depth + 1) for child in children)


def _message_class(
    body: dict[str, Any], expected: type[RootMessage] | tuple[type[RootMessage], ...] | None
) -> type[RootMessage]:
    if "@type" not in body:
        raise Invalid("@type: Field required", reason="missing_field", field="@type")
    name = body["@type"]
    if not isinstance(name, str):
        raise Invalid("@type: must be a string", reason="wrong_type", field="@type")
    cls = MESSAGE_TYPES.get(name)
    if cls is None:
        raise Invalid(f"@type: unknown message type {name!r}", reason="wrong_type", field="@type")
    allowed = expected if isinstance(expected, tuple) else (expected,) if expected else None
    if allowed is not None and cls not in allowed:
        wanted = " or ".join(c.message_type for c in allowed)
        raise Invalid(f"@type: expected {wanted}, got {name}", reason="wrong_type", field="@type")
    return cls


def _check_context(body: dict[str, Any]) -> None:
    if "@context" not in body:
        raise Invalid("@context: Field required", reason="missing_field", field="@context")
    context = body["@context"]
    items = [context] if isinstance(context, str) else context
    if not isinstance(items, list) or not all(isinstance(i, str | dict) for i in items):
        raise Invalid(
            "@context: must be an array of context IRIs", reason="invalid_field", field="@context"
        )
    if DSP_CONTEXT not in items:
        raise UnknownContext(
            f"@context: must include {DSP_CONTEXT}", reason="unknown_context", field="@context"
        )


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "str" or "[" in part or part[:1].isupper() or part.startswith("function-"):
            continue  # a union member's name, not a property
        else:
            out += f".{part}" if out else part
    return out


def invalid_from(exc: ValidationError, what: str) -> Invalid:
    """An ``Invalid`` naming the first offending field of a pydantic validation failure."""
    problems: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        path = _path(tuple(err["loc"]))
        kind = err["type"]
        if kind in ("wire_missing", "field_error"):
            field = str((err.get("ctx") or {}).get("field", ""))
            path = f"{path}.{field}" if path and not field.startswith("[") else path + field
            kind = "missing" if kind == "wire_missing" else "invalid"
        if path in seen:
            continue
        seen.add(path)
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append((path, kind, message))
    path, kind, _ = problems[0]
    if kind == "missing":
        reason = "missing_field"
    elif path.endswith("@type"):
        reason = "wrong_type"
    else:
        reason = "invalid_field"
    detail = f"{what}: " + "; ".join(f"{p or '(body)'}: {m}" for p, _, m in problems[:5])
    return Invalid(detail, reason=reason, field=path or "(body)", problems=problems)
