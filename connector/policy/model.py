"""The typed ODRL 2.2 model: policies, rules, actions, assets, parties, constraints.

Instances are immutable. The parser builds them from RDF; :mod:`connector.policy.normalize`
rewrites them (atomize, inherit, conflicts); the compiler turns them into evaluators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from connector.policy.terms import IRI, Literal, Node, Term


class RuleKind(Enum):
    """The deontic role of a rule (the role of a duty depends on where it hangs)."""

    PERMISSION = "permission"
    PROHIBITION = "prohibition"
    OBLIGATION = "obligation"
    DUTY = "duty"
    REMEDY = "remedy"
    CONSEQUENCE = "consequence"


class PolicyKind(Enum):
    """ODRL policy subclasses; the kind decides how the evaluator treats a policy."""

    SET = "Set"
    OFFER = "Offer"
    AGREEMENT = "Agreement"
    REQUEST = "Request"
    TICKET = "Ticket"
    PRIVACY = "Privacy"
    ASSERTION = "Assertion"


class Conflict(Enum):
    """Conflict strategy of a policy (ODRL IM 2.6.5); ``INVALID`` is the default."""

    PERM = "perm"
    PROHIBIT = "prohibit"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Constraint:
    """An atomic constraint or refinement: ``leftOperand operator rightOperand(s)``."""

    uid: Node
    left_operand: IRI | None
    operator: IRI | None
    right_operands: tuple[Term, ...] = ()
    right_operand_reference: tuple[IRI, ...] = ()
    data_type: IRI | None = None
    unit: IRI | None = None
    status: Term | None = None


@dataclass(frozen=True, slots=True)
class LogicalConstraint:
    """``and`` / ``or`` / ``xone`` / ``andSequence`` over member constraints."""

    uid: Node
    operator: IRI
    members: tuple[Constraint | LogicalConstraint, ...]


AnyConstraint = Constraint | LogicalConstraint


@dataclass(frozen=True, slots=True)
class Action:
    """An action (by IRI) with optional refinements."""

    iri: IRI | None
    refinements: tuple[AnyConstraint, ...] = ()
    node: Node | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """An asset or party; a collection has ``is_collection`` set (and maybe a ``source``)."""

    iri: Node
    is_collection: bool = False
    source: Node | None = None
    refinements: tuple[AnyConstraint, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """A permission, prohibition or duty (obligation, condition, remedy, consequence)."""

    uid: Node
    kind: RuleKind
    actions: tuple[Action, ...] = ()
    targets: tuple[Entity, ...] = ()
    assignees: tuple[Entity, ...] = ()
    assigners: tuple[Entity, ...] = ()
    constraints: tuple[AnyConstraint, ...] = ()
    duties: tuple[Rule, ...] = ()
    remedies: tuple[Rule, ...] = ()
    consequences: tuple[Rule, ...] = ()
    policy: Node | None = None
    """The policy the rule was written in (differs from the evaluated one when inherited)."""
    extras: tuple[tuple[IRI, Term], ...] = ()
    """Further properties of the rule (e.g. ``odrl:attributedParty``), kept for explanations."""


@dataclass(frozen=True, slots=True)
class Policy:
    """An ODRL policy as written, before normalisation."""

    uid: Node
    kind: PolicyKind
    permissions: tuple[Rule, ...] = ()
    prohibitions: tuple[Rule, ...] = ()
    obligations: tuple[Rule, ...] = ()
    conflict: Conflict | None = None
    profiles: tuple[IRI, ...] = ()
    inherit_from: tuple[Node, ...] = ()
    actions: tuple[Action, ...] = ()
    targets: tuple[Entity, ...] = ()
    assignees: tuple[Entity, ...] = ()
    assigners: tuple[Entity, ...] = ()
    issued: Literal | None = None
    """``dct:issued`` (or ``dspace:timestamp``) — the start of agreement-relative time."""
    title: str | None = None
    description: str | None = None
    labels: tuple[tuple[IRI, str, str], ...] = field(default=())
    """``(iri, language, label)`` for terms the policy labels itself (``rdfs:label``)."""

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Permissions, prohibitions and obligations, in that order."""
        return self.permissions + self.prohibitions + self.obligations
