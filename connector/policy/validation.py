"""Load-time validation: fail closed on anything the engine could not evaluate faithfully.

Every action, left operand, operator, data type and unit must be known or registered; right
operands must be comparable with their left operand; logical constraints need members; a policy
needs rules. Problems name the place (``permission[0].constraint[1]``) and the unknown terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from connector.errors import Invalid
from connector.policy.model import AnyConstraint, Constraint, Entity, Policy, PolicyKind, Rule
from connector.policy.operands import DEFAULT_OPERANDS, OperandRegistry
from connector.policy.terms import ODRL, curie
from connector.policy.values import Incomparable, coerce
from connector.policy.vocabulary import (
    DEFAULT_VOCABULARY,
    OPERATORS,
    ORDERING_OPERATORS,
    SINGLE_VALUE_OPERATORS,
    Kind,
    Vocabulary,
)

_EQ: Final = frozenset({ODRL.eq, ODRL.neq, ODRL.isAnyOf, ODRL.isNoneOf})
ALLOWED_OPERATORS: Final = {
    Kind.INSTANT: _EQ | ORDERING_OPERATORS,
    Kind.DURATION: _EQ | ORDERING_OPERATORS,
    Kind.NUMBER: _EQ | ORDERING_OPERATORS,
    Kind.STRING: _EQ | ORDERING_OPERATORS | {ODRL.isAllOf, ODRL.hasPart, ODRL.isPartOf},
    Kind.IRI: _EQ | {ODRL.isA, ODRL.isAllOf, ODRL.hasPart, ODRL.isPartOf},
    Kind.GEOMETRY: _EQ | {ODRL.isPartOf, ODRL.hasPart},
    Kind.BOOLEAN: frozenset({ODRL.eq, ODRL.neq}),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; ``severity`` is ``error`` (refused) or ``warning`` (reported only)."""

    path: str
    code: str
    message: str
    severity: str = "error"
    terms: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_ZONELESS = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?")
"""An ``xsd:dateTime`` with a time but no zone."""


def _named(iri: str) -> str:
    """An unknown term for a message: its CURIE, or — a relative reference, which is what a
    value becomes that the document's ``@context`` does not define — the value and why."""
    if ":" not in iri:
        return f'"{iri}" (no term of the @context)'
    return curie(iri)


def validate(
    policy: Policy,
    *,
    operands: OperandRegistry = DEFAULT_OPERANDS,
    vocabulary: Vocabulary = DEFAULT_VOCABULARY,
) -> list[Problem]:
    """All problems of ``policy`` (empty list = evaluable)."""
    checker = _Checker(operands, vocabulary)
    checker.policy(policy)
    unknown = sorted(checker.unknown)
    if unknown:
        checker.problems.insert(
            0,
            Problem(
                "policy",
                "unknown_terms",
                "unknown terms: " + ", ".join(_named(t) for t in unknown),
                terms=tuple(unknown),
            ),
        )
    return checker.problems


def ensure_valid(
    policy: Policy,
    *,
    operands: OperandRegistry = DEFAULT_OPERANDS,
    vocabulary: Vocabulary = DEFAULT_VOCABULARY,
) -> list[Problem]:
    """Raise :class:`Invalid` (reason ``policy_invalid``) on errors; return the warnings."""
    problems = validate(policy, operands=operands, vocabulary=vocabulary)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        detail = f"policy {policy.uid} is not evaluable: " + "; ".join(str(p) for p in errors)
        raise Invalid(detail, reason="policy_invalid", problems=errors)
    return problems


class _Checker:
    def __init__(self, operands: OperandRegistry, vocabulary: Vocabulary) -> None:
        self.operands = operands
        self.vocabulary = vocabulary
        self.problems: list[Problem] = []
        self.unknown: set[str] = set()

    def add(self, path: str, code: str, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(path, code, message, severity))

    def policy(self, policy: Policy) -> None:
        if not policy.rules and not policy.inherit_from:
            self.add(
                "policy", "empty_policy", "the policy has no permission, prohibition or obligation"
            )
        if policy.kind in (PolicyKind.REQUEST, PolicyKind.ASSERTION):
            self.add(
                "policy",
                "not_evaluable",
                f"an odrl:{policy.kind.value} is not a policy that can be enforced",
                "warning",
            )
        for i, action in enumerate(policy.actions):
            self.action(f"policy.action[{i}]", action.iri, action.refinements)
        for name, entities in (
            ("target", policy.targets),
            ("assignee", policy.assignees),
            ("assigner", policy.assigners),
        ):
            for i, e in enumerate(entities):
                self.entity(f"policy.{name}[{i}]", e)
        for name, rules in (
            ("permission", policy.permissions),
            ("prohibition", policy.prohibitions),
            ("obligation", policy.obligations),
        ):
            for i, rule in enumerate(rules):
                self.rule(f"{name}[{i}]", rule, policy)

    def rule(self, path: str, rule: Rule, policy: Policy) -> None:
        if not rule.actions and not policy.actions:
            self.add(
                path,
                "rule_without_action",
                "no action: the rule applies to every action",
                "warning",
            )
        for i, action in enumerate(rule.actions):
            self.action(f"{path}.action[{i}]", action.iri, action.refinements)
        for name, entities in (
            ("target", rule.targets),
            ("assignee", rule.assignees),
            ("assigner", rule.assigners),
        ):
            for i, e in enumerate(entities):
                self.entity(f"{path}.{name}[{i}]", e)
        for i, c in enumerate(rule.constraints):
            self.constraint(f"{path}.constraint[{i}]", c)
        for name, duties in (
            ("duty", rule.duties),
            ("remedy", rule.remedies),
            ("consequence", rule.consequences),
        ):
            for i, d in enumerate(duties):
                self.rule(f"{path}.{name}[{i}]", d, policy)

    def action(self, path: str, iri: str | None, refinements: tuple[AnyConstraint, ...]) -> None:
        if iri is None:
            self.add(path, "action_missing", "action without rdf:value")
        elif iri not in self.vocabulary.actions:
            self.unknown.add(iri)
            self.add(path, "unknown_action", f"unknown action {_named(iri)}")
        for i, c in enumerate(refinements):
            self.constraint(f"{path}.refinement[{i}]", c)

    def entity(self, path: str, entity: Entity) -> None:
        for i, c in enumerate(entity.refinements):
            self.constraint(f"{path}.refinement[{i}]", c)

    def constraint(self, path: str, c: AnyConstraint) -> None:
        if not isinstance(c, Constraint):
            if not c.members:
                self.add(path, "empty_logical_constraint", f"{curie(c.operator)} without members")
            for i, m in enumerate(c.members):
                self.constraint(f"{path}.{c.operator[len(ODRL) :]}[{i}]", m)
            return
        spec = None
        if c.left_operand is None:
            self.add(
                path,
                "left_operand_missing",
                "constraint without leftOperand",
            )
        else:
            spec = self.operands.get(c.left_operand)
            if spec is None:
                self.unknown.add(c.left_operand)
                self.add(
                    path, "unknown_left_operand", f"unknown leftOperand {_named(c.left_operand)}"
                )
        if c.operator is None:
            self.add(path, "operator_missing", "constraint without operator")
        elif c.operator not in OPERATORS:
            self.unknown.add(c.operator)
            self.add(path, "unknown_operator", f"unknown operator {_named(c.operator)}")
        if c.data_type is not None and c.data_type not in self.vocabulary.datatypes:
            self.unknown.add(c.data_type)
            self.add(path, "unknown_datatype", f"unknown dataType {_named(c.data_type)}")
        if c.unit is not None and c.unit not in self.vocabulary.units:
            self.unknown.add(c.unit)
            self.add(path, "unknown_unit", f"unknown unit {_named(c.unit)}")
        for r in c.right_operands:
            dtype = getattr(r, "datatype", None)
            if dtype is not None and dtype not in self.vocabulary.datatypes:
                self.unknown.add(dtype)
                self.add(
                    path, "unknown_datatype", f"unknown datatype {curie(dtype)} of a right operand"
                )
        if c.right_operand_reference:
            self.add(
                path,
                "right_operand_reference_unsupported",
                "rightOperandReference would need a fetch; state the rightOperand inline",
            )
        elif not c.right_operands:
            self.add(path, "right_operand_missing", "constraint without rightOperand")
        if c.operator in SINGLE_VALUE_OPERATORS and len(c.right_operands) > 1:
            self.add(
                path,
                "right_operand_cardinality",
                f"{curie(c.operator)} compares with one value, got {len(c.right_operands)}",
            )
        if spec is None or c.operator is None or c.operator not in OPERATORS:
            return
        if c.operator not in ALLOWED_OPERATORS[spec.kind]:
            self.add(
                path,
                "operator_not_applicable",
                f"{curie(c.operator)} cannot compare {curie(spec.iri)} ({spec.kind.value} values)",
            )
        for r in c.right_operands:
            try:
                coerce(r, spec.kind)
            except Incomparable as exc:
                self.add(
                    path,
                    "incomparable_datatype",
                    f"{curie(spec.iri)} {curie(c.operator)}: {exc}",
                )
            else:
                if spec.kind is Kind.INSTANT and _ZONELESS.fullmatch(getattr(r, "lexical", "")):
                    self.add(
                        path,
                        "date_time_without_zone",
                        f"{getattr(r, 'lexical', '')} has no time zone and is read as UTC"
                        " (write e.g. Z or +01:00 for Hagen's winter time)",
                        "warning",
                    )
