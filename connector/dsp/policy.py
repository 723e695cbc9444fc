"""ODRL as the DSP 2025-1 profile has it on the wire: offers, agreements, rules, constraints.

Shapes follow ``negotiation/contract-schema.json``: a policy has an ``@id`` and at least one
``permission`` or ``prohibition``; rules have an ``action`` and optional ``constraint`` lists;
a constraint is either atomic (``leftOperand``/``operator``/``rightOperand``) or logical (exactly
one of ``and``/``andSequence``/``or``/``xone``). Rules MUST NOT carry a ``target`` (DSP 2025-1,
Contract Negotiation, "its contained Rules MUST NOT have any target attributes").
What the policy *means* is :mod:`connector.policy`'s business.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from connector.dsp.base import WireModel, field_error

Operator = Literal[
    "eq",
    "gt",
    "gteq",
    "lteq",
    "hasPart",
    "isA",
    "isAllOf",
    "isAnyOf",
    "isNoneOf",
    "isPartOf",
    "lt",
    "term-lteq",
    "neq",
]
"""The ODRL operators the DSP schema admits."""

LOGICAL_OPERATORS = ("and", "andSequence", "or", "xone")

XSD_DATETIME = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)
"""An XSD dateTime, as the DSP schema checks an agreement's ``timestamp``."""


class AtomicConstraint(WireModel):
    """``leftOperand operator rightOperand``."""

    left_operand: str = Field(alias="leftOperand")
    operator: Operator
    right_operand: str | dict[str, Any] | list[Any] = Field(alias="rightOperand")


class LogicalConstraint(WireModel):
    """Exactly one of ``and``, ``andSequence``, ``or``, ``xone`` over further constraints."""

    schema_rules = ({"oneOf": [{"required": [op]} for op in ("and", "andSequence", "or", "xone")]},)

    and_: list[Constraint] | None = Field(default=None, alias="and")
    and_sequence: list[Constraint] | None = Field(default=None, alias="andSequence")
    or_: list[Constraint] | None = Field(default=None, alias="or")
    xone: list[Constraint] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> LogicalConstraint:
        present = [
            op
            for op, value in zip(
                LOGICAL_OPERATORS, (self.and_, self.and_sequence, self.or_, self.xone), strict=True
            )
            if value is not None
        ]
        if len(present) != 1:
            raise field_error(
                present[1] if present else "and",
                "a logical constraint needs exactly one of and, andSequence, or, xone",
            )
        return self


def _constraint_kind(value: Any) -> str:
    if isinstance(value, dict):
        keys = value.keys()
    elif isinstance(value, WireModel):
        return type(value).__name__
    else:
        return "AtomicConstraint"
    return (
        "LogicalConstraint" if any(op in keys for op in LOGICAL_OPERATORS) else "AtomicConstraint"
    )


Constraint = Annotated[
    Annotated[LogicalConstraint, Tag("LogicalConstraint")]
    | Annotated[AtomicConstraint, Tag("AtomicConstraint")],
    Discriminator(_constraint_kind),
]
"""An atomic or a logical constraint (told apart by the logical operator keys)."""


class Rule(WireModel):
    """What the rules of a policy share: an ``action`` and optional constraints."""

    schema_rules = ({"not": {"required": ["target"]}},)

    action: str
    constraint: list[Constraint] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "target" in data:
            raise field_error("target", "a rule must not have a target (the policy has it)")
        return data


class Duty(Rule):
    """An obligation, or a duty attached to a permission."""


class Prohibition(Rule):
    """Something the assignee must not do."""


class Permission(Rule):
    """Something the assignee may do, possibly with duties."""

    duty: list[Duty] | None = Field(default=None, min_length=1)


class Policy(WireModel):
    """An ODRL policy class: an ``@id``, a profile, and rules (permission or prohibition)."""

    schema_rules = ({"anyOf": [{"required": ["permission"]}, {"required": ["prohibition"]}]},)

    id: str = Field(alias="@id")
    profile: str | list[str] | None = None
    permission: list[Permission] | None = Field(default=None, min_length=1)
    prohibition: list[Prohibition] | None = Field(default=None, min_length=1)
    obligation: list[Duty] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _has_rules(self) -> Policy:
        if not self.permission and not self.prohibition:
            raise field_error("permission", "a policy needs a permission or a prohibition")
        return self

    def rules(self) -> dict[str, Any]:
        """The policy's content without ``@id``/``@type``/``target`` (compact JSON)."""
        body = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        for key in ("@id", "@type", "target", "assigner", "assignee", "timestamp"):
            body.pop(key, None)
        return body


class Offer(Policy):
    """An offer as published in a catalogue (``hasPolicy``): no ``target`` there."""

    type_: Literal["Offer"] = Field(default="Offer", alias="@type")
    target: str | None = None


class MessageOffer(Offer):
    """The offer inside a contract request or offer message (``@type`` required)."""

    wire_requires = ("@type",)


class Agreement(Policy):
    """A contract agreement: target, assigner and assignee required; XSD ``timestamp``."""

    wire_requires = ("@type",)

    type_: Literal["Agreement"] = Field(default="Agreement", alias="@type")
    target: str
    assigner: str
    assignee: str
    timestamp: str | None = Field(default=None, pattern=f"^(?:{XSD_DATETIME.pattern})$")


LogicalConstraint.model_rebuild()
