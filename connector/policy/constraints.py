"""Compiled constraints: right operands parsed once, one comparison function chosen per node.

A missing or unreadable left value never satisfies a constraint (also for ``neq`` and
``isNoneOf``). For a single-valued operand with several values (two declared purposes) every
value must satisfy the constraint; for a multi-valued one (credentials a party holds) a positive
operator needs one matching value and a negative one (``neq``, ``isNoneOf``) needs all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from connector.errors import Invalid
from connector.policy.geometry import covers
from connector.policy.model import AnyConstraint, Constraint
from connector.policy.operands import OperandRegistry, OperandSpec, Scope, typed_values
from connector.policy.report import PremiseKind, PremiseReport
from connector.policy.terms import IRI, ODRL, Node, Term, curie
from connector.policy.values import (
    DateInterval,
    Duration,
    Elapsed,
    Incomparable,
    coerce,
    compare_durations,
    instant_text,
)
from connector.policy.vocabulary import Kind

_VERSION: Final = re.compile(r"^\d+(\.\d+)*$")


def _cmp(kind: Kind, v: Any, r: Any) -> int | None:
    """-1/0/1 (0 = equal, or inside a whole-day interval), ``None`` = incomparable."""
    try:
        if kind is Kind.INSTANT:
            if isinstance(v, DateInterval):
                v = v.start
            if isinstance(r, DateInterval):
                return -1 if v < r.start else (1 if v >= r.end else 0)
            return (v > r) - (v < r)  # type: ignore[no-any-return]
        if kind is Kind.DURATION:
            if isinstance(r, Duration) and isinstance(v, (Duration, Elapsed)):
                return compare_durations(v, r)
            return None
        if kind is Kind.NUMBER:
            return (v > r) - (v < r)  # type: ignore[no-any-return]
        if kind is Kind.GEOMETRY:
            return 0 if v.equals(r) else 1
        if kind is Kind.STRING and v != r and _VERSION.match(v) and _VERSION.match(r):
            a = tuple(int(x) for x in v.split("."))
            b = tuple(int(x) for x in r.split("."))
            return (a > b) - (a < b)
        return 0 if v == r else (1 if kind in (Kind.IRI, Kind.BOOLEAN, Kind.STRING) else None)
    except TypeError:
        return None


_ORDER: Final[dict[IRI, Callable[[int], bool]]] = {
    ODRL.eq: lambda c: c == 0,
    ODRL.neq: lambda c: c != 0,
    ODRL.lt: lambda c: c < 0,
    ODRL.lteq: lambda c: c <= 0,
    ODRL.gt: lambda c: c > 0,
    ODRL.gteq: lambda c: c >= 0,
}
_NEGATIVE: Final = frozenset({ODRL.neq, ODRL.isNoneOf})
_IS_ANY_OF: Final = ODRL.isAnyOf
_IS_NONE_OF: Final = ODRL.isNoneOf
_IS_A: Final = ODRL.isA
_IS_PART_OF: Final = ODRL.isPartOf
_HAS_PART: Final = ODRL.hasPart
_IS_ALL_OF: Final = ODRL.isAllOf
_AND_SEQUENCE: Final = ODRL.andSequence
_OR: Final = ODRL["or"]
_XONE: Final = ODRL.xone


class Atom:
    """A compiled atomic constraint."""

    __slots__ = ("constraint", "kind", "operator", "quantifier", "rights", "spec", "uid")

    def __init__(self, c: Constraint, spec: OperandSpec) -> None:
        assert c.operator is not None
        self.uid = c.uid
        self.constraint = c
        self.spec = spec
        self.kind = spec.kind
        self.operator: IRI = c.operator
        try:
            self.rights = tuple(coerce(r, spec.kind) for r in c.right_operands)
        except Incomparable as exc:  # validation refuses this earlier
            raise Invalid(str(exc), reason="incomparable_datatype") from exc
        positive_multi = spec.multi and c.operator not in _NEGATIVE
        self.quantifier: Callable[[Any], bool] = any if positive_multi else all

    # -- element tests --------------------------------------------------------------------
    def _one(self, v: Any, scope: Scope) -> bool:
        op, kind = self.operator, self.kind
        order = _ORDER.get(op)
        if order is not None:
            c = _cmp(kind, v, self.rights[0])
            return c is not None and order(c)
        if op == _IS_ANY_OF:
            return any(self._member(v, r, scope) for r in self.rights)
        if op == _IS_NONE_OF:
            return not any(self._member(v, r, scope) for r in self.rights)
        if op == _IS_A:
            ancestors = scope.world.ancestors(IRI(v))
            return any(r in ancestors for r in self.rights)
        if op == _IS_PART_OF:
            if kind is Kind.GEOMETRY:
                return any(covers(r, v) for r in self.rights)
            if kind is Kind.IRI:
                groups = scope.world.collections(IRI(v))
                return any(r in groups for r in self.rights)
            return v in self.rights
        if op == _HAS_PART:
            if kind is Kind.GEOMETRY:
                return all(covers(v, r) for r in self.rights)
            if kind is Kind.IRI:
                return all(r == v or v in scope.world.collections(IRI(r)) for r in self.rights)
            return all(r == v for r in self.rights)
        if op == _IS_ALL_OF:
            return all(_cmp(kind, v, r) == 0 for r in self.rights)
        return False

    def _member(self, v: Any, r: Any, scope: Scope) -> bool:
        if self.kind is Kind.GEOMETRY:
            return covers(r, v)
        return _cmp(self.kind, v, r) == 0

    def test(self, values: tuple[Any, ...], scope: Scope) -> bool:
        """Whether the typed left values satisfy the constraint."""
        if not values:
            return False
        op = self.operator
        if self.spec.multi and op in (_IS_ALL_OF, _HAS_PART):
            return all(any(_cmp(self.kind, v, r) == 0 for v in values) for r in self.rights)
        if self.spec.multi and op == _IS_PART_OF and self.kind is not Kind.GEOMETRY:
            return all(self._one(v, scope) for v in values)
        one = self._one
        return self.quantifier(one(v, scope) for v in values)

    def values(self, scope: Scope) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Resolve and type the left operand's values: ``(typed, unreadable)``."""
        return typed_values(self.spec, self.spec.resolve(scope))

    def check(self, scope: Scope) -> bool:
        """Fast path: satisfied or not."""
        if self.spec.iri in scope.world.deferred:
            return True
        return self.test(self.values(scope)[0], scope)

    def report(self, scope: Scope) -> PremiseReport:
        """Full path: a ConstraintReport with the evaluated left value."""
        if self.spec.iri in scope.world.deferred:
            return PremiseReport(
                PremiseKind.CONSTRAINT,
                True,
                constraint=self.uid,
                left_operand=self.spec.iri,
                operator=self.operator,
                right_operands=self.constraint.right_operands,
                left_values=(),
                declared=self.spec.declared,
                note="deferred",
            )
        typed, bad = self.values(scope)
        satisfied = self.test(typed, scope)
        note = None if typed else ("unreadable" if bad else "missing")
        return PremiseReport(
            PremiseKind.CONSTRAINT,
            satisfied,
            constraint=self.uid,
            left_operand=self.spec.iri,
            operator=self.operator,
            right_operands=self.constraint.right_operands,
            left_values=typed or bad,
            declared=self.spec.declared,
            note=note,
        )


class Logic:
    """A compiled logical constraint (``and``, ``or``, ``xone``, ``andSequence``)."""

    __slots__ = ("members", "operator", "uid")

    def __init__(self, uid: Node, operator: IRI, members: tuple[Atom | Logic, ...]) -> None:
        self.uid = uid
        self.operator = operator
        self.members = members

    def check(self, scope: Scope) -> bool:
        """Fast path (short-circuits)."""
        op = self.operator
        if op == _OR:
            return any(m.check(scope) for m in self.members)
        if op == _XONE:
            count = 0
            for m in self.members:
                if m.check(scope):
                    count += 1
                    if count > 1:
                        return False
            return count == 1
        return all(m.check(scope) for m in self.members)

    def report(self, scope: Scope) -> PremiseReport:
        """Full path: every member is reported, except after the first failure in a sequence."""
        op = self.operator
        reports: list[PremiseReport] = []
        if op == _AND_SEQUENCE:
            for m in self.members:
                r = m.report(scope)
                reports.append(r)
                if not r.satisfied:
                    break
            satisfied = len(reports) == len(self.members) and all(r.satisfied for r in reports)
        else:
            reports = [m.report(scope) for m in self.members]
            hits = sum(1 for r in reports if r.satisfied)
            if op == _OR:
                satisfied = hits >= 1
            elif op == _XONE:
                satisfied = hits == 1
            else:
                satisfied = hits == len(reports)
        return PremiseReport(
            PremiseKind.CONSTRAINT,
            satisfied,
            constraint=self.uid,
            logical=op,
            members=tuple(reports),
        )


def compile_constraint(c: AnyConstraint, operands: OperandRegistry) -> Atom | Logic:
    """Compile a validated constraint tree."""
    if isinstance(c, Constraint):
        spec = operands.get(c.left_operand) if c.left_operand else None
        if spec is None or c.operator is None:
            raise Invalid(
                f"constraint {c.uid} uses an unknown leftOperand {curie(str(c.left_operand))}",
                reason="policy_invalid",
            )
        return Atom(c, spec)
    return Logic(c.uid, c.operator, tuple(compile_constraint(m, operands) for m in c.members))


def is_deadline(node: Atom | Logic) -> bool:
    """A top-level ``dateTime lt/lteq`` on a duty is its deadline, not an activation premise."""
    return (
        isinstance(node, Atom)
        and node.spec.iri == ODRL.dateTime
        and node.operator in (ODRL.lt, ODRL.lteq)
    )


def left_text(value: Any) -> str:
    """Helper for explanations: the textual form of a typed left value."""
    if isinstance(value, dt.datetime):
        return instant_text(value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def term_of(value: Any) -> Term | None:
    """An RDF term for a typed left value (``None`` if it has no obvious one)."""
    from connector.policy.terms import XSD, Literal

    if isinstance(value, (IRI, Literal)):
        return value
    if isinstance(value, dt.datetime):
        return Literal(left_text(value), XSD.dateTime)
    if isinstance(value, Decimal):
        return Literal(left_text(value), XSD.decimal)
    if isinstance(value, Duration):
        return Literal(value.lexical, XSD.duration)
    if isinstance(value, bool):
        return Literal("true" if value else "false", XSD.boolean)
    if isinstance(value, str):
        return IRI(value) if ":" in value else Literal(value, XSD.string)
    return None
