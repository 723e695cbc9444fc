"""The compliance report (FORCE vocabulary, ``https://w3id.org/force/compliance-report#``).

Plain value objects; :mod:`connector.policy.serialize` writes them as Turtle or JSON-LD and
:mod:`connector.policy.explain` turns them into sentences.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from connector.policy.model import Conflict, RuleKind
from connector.policy.terms import IRI, Node, Term


class Outcome(Enum):
    """The access decision derived from the rule reports."""

    PERMIT = "permit"
    DENY = "deny"
    NOT_APPLICABLE = "not_applicable"
    """The policy is an Offer (a proposal) and cannot permit anything by itself."""


class PremiseKind(Enum):
    """What a premise report is about (the FORCE report class names)."""

    CONSTRAINT = "ConstraintReport"
    TARGET = "TargetReport"
    PARTY = "PartyReport"
    ACTION = "ActionReport"


@dataclass(slots=True)
class PremiseReport:
    """Satisfaction of one premise of a rule: a constraint, the target, the party or the action."""

    kind: PremiseKind
    satisfied: bool
    constraint: Node | None = None
    left_operand: IRI | None = None
    operator: IRI | None = None
    right_operands: tuple[Term, ...] = ()
    left_values: tuple[Any, ...] = ()
    declared: bool = False
    logical: IRI | None = None
    members: tuple[PremiseReport, ...] = ()
    """Members of a logical constraint, or the refinements of a target/party/action."""
    expected: Node | None = None
    """The rule's target/party/action the request was matched against."""
    requested: Node | None = None
    note: str | None = None
    """Why a value is missing or unreadable (``missing``/``unreadable``/``not_evaluated``)."""


@dataclass(slots=True)
class RuleReport:
    """The evaluation of one (atomic) rule."""

    kind: RuleKind
    rule: Node
    active: bool
    attempted: bool | None = None
    premises: tuple[PremiseReport, ...] = ()
    conditions: tuple[RuleReport, ...] = ()
    """Duty reports: conditions of a permission, remedies of a prohibition, consequences."""
    performance: IRI | None = None
    deontic: IRI | None = None
    rule_request: Node | None = None
    policy: Node | None = None
    overridden_by: Conflict | None = None
    """Set when the conflict strategy made an otherwise active rule inactive."""
    action: IRI | None = None

    @property
    def unsatisfied(self) -> list[PremiseReport]:
        """Premises that are not satisfied."""
        return [p for p in self.premises if not p.satisfied]


@dataclass(slots=True)
class ComplianceReport:
    """A PolicyReport: one rule report per atomic rule, plus the derived decision."""

    policy: Node
    outcome: Outcome
    rules: tuple[RuleReport, ...]
    created: dt.datetime
    request: Node | None = None
    request_action: IRI | None = None
    request_party: IRI | None = None
    request_target: IRI | None = None
    world: Node | None = None
    conflict: Conflict = Conflict.INVALID
    proposal: bool = False
    labels: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def permitted(self) -> bool:
        """Whether the requested action is permitted."""
        return self.outcome is Outcome.PERMIT

    def rule_reports(self, kind: RuleKind) -> list[RuleReport]:
        """Top-level reports of one kind."""
        return [r for r in self.rules if r.kind is kind]
