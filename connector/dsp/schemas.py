"""This connector's own JSON Schemas (2020-12) of the DSP bodies, generated from the models.

The models are the single source of truth: :func:`schema_for` renders one as a JSON Schema
(``@type`` and other wire-required keys required, ``@context`` required on root bodies, the
``oneOf``/``not`` rules of the validators included, ``null`` never allowed), for OpenAPI
documentation and for anybody who wants to check a body without Python. :func:`validate`
checks a decoded body against it with ``jsonschema`` and raises ``Invalid`` naming the field.
The official DSP schemas are the yardstick for these in the tests; they are never loaded here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from connector.dsp.base import DSP_CONTEXT, RootMessage, WireModel
from connector.errors import Invalid

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "urn:klimakommune-connector:dsp:2025-1:"

CONTEXT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": ["string", "object"]},
    "contains": {"const": DSP_CONTEXT},
}


@cache
def schema_for(model: type[WireModel]) -> dict[str, Any]:
    """The JSON Schema of a wire model (a root message also requires ``@context``)."""
    schema = _without_nulls(model.model_json_schema(by_alias=True, mode="validation"))
    if issubclass(model, RootMessage):
        schema.setdefault("properties", {})["@context"] = CONTEXT_SCHEMA
        required = schema.setdefault("required", [])
        for key in ("@context", *model.root_requires):
            if key not in required:
                required.append(key)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_BASE + model.__name__, **schema}


@cache
def _validator(model: type[WireModel]) -> Draft202012Validator:
    return Draft202012Validator(schema_for(model))


def validate(body: Any, model: type[WireModel]) -> None:
    """Check a decoded body against :func:`schema_for` ``(model)``; ``Invalid`` if it fails."""
    error: SchemaError | None = next(iter(_validator(model).iter_errors(body)), None)
    if error is None:
        return
    best = _deepest(error)
    field = _path(best)
    raise Invalid(
        f"{model.__name__}: {field or '(body)'}: {best.message}",
        reason="missing_field" if best.validator == "required" else "invalid_field",
        field=field or "(body)",
    )


def _deepest(error: SchemaError) -> SchemaError:
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def _path(error: SchemaError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if error.validator == "required" and isinstance(error.instance, dict):
        wanted = error.validator_value
        missing = [k for k in wanted if k not in error.instance] if isinstance(wanted, list) else []
        if missing:
            out = f"{out}.{missing[0]}" if out else missing[0]
    return out


def _without_nulls(schema: Any) -> Any:
    """Drop ``{"type": "null"}`` alternatives, ``default: null`` and titles."""
    if isinstance(schema, list):
        return [_without_nulls(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and value is None):
            continue
        out[key] = _without_nulls(value)
    alternatives = out.get("anyOf")
    if isinstance(alternatives, list):
        kept = [alt for alt in alternatives if alt != {"type": "null"}]
        if len(kept) != len(alternatives):
            del out["anyOf"]
            if len(kept) == 1:
                out.update(kept[0])
            else:
                out["anyOf"] = kept
    return out
