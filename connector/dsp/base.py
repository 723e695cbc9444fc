"""What every DSP wire model shares: the namespaces, the pydantic base class, the root messages.

Models hold messages in *compact* form: unprefixed terms of the DSP 2025-1 context
(``providerPid``, ``permission`` …), ``@id``/``@type`` as plain strings. The ``@context`` is not
a field: :mod:`connector.dsp.codec` checks it on the way in and writes it on the way out.

Fields that a schema requires but that have a fixed value (``@type``) get a default so that
Python code need not repeat it; on the wire they are still required: :mod:`connector.dsp.codec`
validates with ``context={"wire": True}`` and :class:`WireModel` then insists on the keys named
in ``wire_requires``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
"""The JSON-LD context every DSP 2025-1 message names."""

DSPACE = "https://w3id.org/dspace/2025/1/"
ODRL = "http://www.w3.org/ns/odrl/2/"
DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"

MAX_PID = 256
Pid = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PID)]
"""A process id on the wire: not empty, at most :data:`MAX_PID` characters (the schemas set
no bound; ours are ``urn:uuid:`` values, and an id is stored and echoed in every message)."""

PREFIXES: dict[str, str] = {"dspace": DSPACE, "odrl": ODRL, "dcat": DCAT, "dct": DCT}
"""The prefixes the DSP context defines (``dspace:providerPid`` is ``providerPid``)."""


def field_error(field: str, message: str) -> PydanticCustomError:
    """A validation error about ``field`` (a wire key below the model being validated)."""
    return PydanticCustomError("field_error", message, {"field": field})


class WireModel(BaseModel):
    """Base of every DSP wire model: aliases on the wire, extension properties kept."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="allow",
        frozen=True,
        validate_default=False,
        str_strip_whitespace=False,
    )

    wire_requires: ClassVar[tuple[str, ...]] = ()
    """Wire keys required on input even though the Python field has a default."""

    schema_rules: ClassVar[tuple[dict[str, Any], ...]] = ()
    """JSON Schemas (joined with ``allOf``) for the rules a model's validators enforce."""

    @model_validator(mode="before")
    @classmethod
    def _required_on_the_wire(cls, data: Any, info: ValidationInfo) -> Any:
        context = info.context
        if isinstance(context, dict) and context.get("wire") and isinstance(data, dict):
            for key in cls.wire_requires:
                if key not in data:
                    raise PydanticCustomError("wire_missing", "Field required", {"field": key})
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if key in data and data[key] is None:
                    raise field_error(key, "must not be null")
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        if cls.wire_requires:
            required = target.setdefault("required", [])
            required.extend(k for k in cls.wire_requires if k not in required)
        if cls.schema_rules:
            target.setdefault("allOf", []).extend(cls.schema_rules)
        return schema

    def extension(self) -> dict[str, Any]:
        """Properties this model does not define (DCAT/ODRL/profile extensions), as received."""
        return dict(self.model_extra or {})


class RootMessage(WireModel):
    """A message or response body that stands on its own (carries ``@context`` on the wire)."""

    message_type: ClassVar[str] = ""
    """The ``@type`` that identifies this message."""

    root_requires: ClassVar[tuple[str, ...]] = ()
    """Wire keys required only when the model is the root of a body."""
