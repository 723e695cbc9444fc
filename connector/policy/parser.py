"""Build the typed model from an RDF graph (any syntax the reader accepts).

Structural breaks (a constraint that refers to itself, a rule that is not a node) raise
:class:`~connector.errors.Invalid` here; vocabulary and datatype checks are the job of
:mod:`connector.policy.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.errors import Invalid
from connector.policy.contexts import ContextLoader
from connector.policy.graph import Graph, is_node
from connector.policy.model import (
    Action,
    AnyConstraint,
    Conflict,
    Constraint,
    Entity,
    LogicalConstraint,
    Policy,
    PolicyKind,
    Rule,
    RuleKind,
)
from connector.policy.reader import Syntax, read_graph
from connector.policy.terms import DCT, DSPACE, IRI, ODRL, RDF, RDFS, SKOS, Literal, Node, Term
from connector.policy.vocabulary import LOGICAL_OPERATORS, POLICY_TYPES

_KIND_BY_TYPE = {
    ODRL.Policy: PolicyKind.SET,
    ODRL.Set: PolicyKind.SET,
    ODRL.Offer: PolicyKind.OFFER,
    ODRL.Agreement: PolicyKind.AGREEMENT,
    ODRL.Request: PolicyKind.REQUEST,
    ODRL.Ticket: PolicyKind.TICKET,
    ODRL.Privacy: PolicyKind.PRIVACY,
    ODRL.Assertion: PolicyKind.ASSERTION,
}
_KIND_PRIORITY = [ODRL.Agreement, ODRL.Offer, ODRL.Request, ODRL.Assertion, ODRL.Ticket]
_CONFLICT = {ODRL.perm: Conflict.PERM, ODRL.prohibit: Conflict.PROHIBIT}
_CONFLICT[ODRL.invalid] = Conflict.INVALID
_RULE_PROPS = {ODRL.permission, ODRL.prohibition, ODRL.obligation}
_KNOWN_RULE_PROPS = {
    RDF.type,
    ODRL.uid,
    ODRL.action,
    ODRL.target,
    ODRL.assignee,
    ODRL.assigner,
    ODRL.constraint,
    ODRL.duty,
    ODRL.remedy,
    ODRL.consequence,
}
_MAX_DEPTH = 32


def parse_policies(
    data: str | bytes | Mapping[str, Any] | list[Any] | Graph,
    syntax: Syntax | None = None,
    *,
    context_loader: ContextLoader | None = None,
    include_requests: bool = False,
    source: str = "input",
) -> list[Policy]:
    """Every ODRL policy in the input (JSON-LD, Turtle or an already-read graph)."""
    graph = (
        data
        if isinstance(data, Graph)
        else read_graph(data, syntax, context_loader=context_loader, source=source)
    )
    nodes = policy_nodes(graph)
    policies = [PolicyParser(graph, source).policy(n) for n in nodes]
    if not include_requests:
        policies = [p for p in policies if p.kind is not PolicyKind.REQUEST]
    return policies


def parse_policy(
    data: str | bytes | Mapping[str, Any] | list[Any] | Graph,
    syntax: Syntax | None = None,
    *,
    context_loader: ContextLoader | None = None,
    source: str = "input",
) -> Policy:
    """The single ODRL policy in the input; none or several is an error."""
    policies = parse_policies(data, syntax, context_loader=context_loader, source=source)
    if len(policies) != 1:
        raise Invalid(
            f"{source}: expected exactly one ODRL policy, found {len(policies)}",
            reason="policy_count",
        )
    return policies[0]


def policy_nodes(graph: Graph) -> list[Node]:
    """Nodes typed as an ODRL policy, plus untyped nodes carrying policy-level rules."""
    found: dict[Node, None] = {}
    for t in POLICY_TYPES:
        for s in graph.subjects(RDF.type, t):
            found[s] = None
    nested: set[Node] = set()
    for p in (ODRL.duty, ODRL.remedy, ODRL.consequence, *_RULE_PROPS):
        nested.update(o for _, o in graph.pairs(p) if is_node(o))  # type: ignore[misc]
    for p in _RULE_PROPS:
        for s, _ in graph.pairs(p):
            if s not in nested and s not in found:
                found[s] = None
    return sorted(found, key=str)


class PolicyParser:
    """Reads one policy at a time from a graph."""

    def __init__(self, graph: Graph, source: str = "input") -> None:
        self.g = graph
        self.source = source

    def _fail(self, message: str, node: object, reason: str = "policy_structure") -> Invalid:
        return Invalid(f"{self.source}: {message} (at {node})", reason=reason, node=str(node))

    def policy(self, node: Node) -> Policy:
        """Parse the policy at ``node``."""
        g = self.g
        undefined = sorted(str(t) for t in g.types(node) if ":" not in str(t))
        if undefined:  # "offer" or "Sett" for "Offer"/"Set": the policy would be a Set
            raise self._fail(
                f'unknown @type "{undefined[0]}" (no term of the @context)', node, "unknown_terms"
            )
        types = [t for t in g.types(node) if t in _KIND_BY_TYPE]
        kind = PolicyKind.SET
        for t in _KIND_PRIORITY:
            if t in types:
                kind = _KIND_BY_TYPE[t]
                break
        uid_term = g.value(node, ODRL.uid)
        uid = IRI(str(uid_term)) if isinstance(uid_term, (IRI, Literal)) else node
        conflict_term = g.value(node, ODRL.conflict)
        conflict = None
        if conflict_term is not None:
            conflict = _CONFLICT.get(conflict_term)  # type: ignore[arg-type]
            if conflict is None:
                raise self._fail(f"unknown conflict strategy {conflict_term}", node, "unknown_term")
        issued = g.value(node, DCT.issued) or g.value(node, DSPACE.timestamp)
        return Policy(
            uid=uid,
            kind=kind,
            permissions=self._rules(node, ODRL.permission, RuleKind.PERMISSION, uid),
            prohibitions=self._rules(node, ODRL.prohibition, RuleKind.PROHIBITION, uid),
            obligations=self._rules(node, ODRL.obligation, RuleKind.OBLIGATION, uid),
            conflict=conflict,
            profiles=tuple(IRI(str(p)) for p in g.objects(node, ODRL.profile)),
            inherit_from=tuple(self._nodes(node, ODRL.inheritFrom)),
            actions=tuple(self._action(a, 0) for a in self._values(node, ODRL.action)),
            targets=tuple(
                self._entity(t, ODRL.AssetCollection) for t in g.objects(node, ODRL.target)
            ),
            assignees=tuple(
                self._entity(t, ODRL.PartyCollection) for t in g.objects(node, ODRL.assignee)
            ),
            assigners=tuple(
                self._entity(t, ODRL.PartyCollection) for t in g.objects(node, ODRL.assigner)
            ),
            issued=issued if isinstance(issued, Literal) else None,
            title=_text(g.value(node, DCT.title)),
            description=_text(g.value(node, DCT.description)),
            labels=self._labels(),
        )

    def _labels(self) -> tuple[tuple[IRI, str, str], ...]:
        out: list[tuple[IRI, str, str]] = []
        for prop in (RDFS.label, SKOS.prefLabel):
            for s, o in self.g.pairs(prop):
                if isinstance(s, IRI) and isinstance(o, Literal):
                    out.append((s, (o.language or "").lower(), o.lexical))
        return tuple(sorted(out))

    def _values(self, node: Node, prop: IRI) -> list[Term]:
        out: list[Term] = []
        for o in self.g.objects(node, prop):
            out.extend(self.g.items(o))
        return out

    def _nodes(self, node: Node, prop: IRI) -> list[Node]:
        out: list[Node] = []
        for o in self._values(node, prop):
            if not is_node(o):
                raise self._fail(f"{prop} must refer to a node, got literal {o}", node)
            out.append(o)  # type: ignore[arg-type]
        return out

    def _rules(self, owner: Node, prop: IRI, kind: RuleKind, policy: Node) -> tuple[Rule, ...]:
        return tuple(self._rule(r, kind, policy, 0) for r in self._nodes(owner, prop))

    def _rule(self, node: Node, kind: RuleKind, policy: Node, depth: int) -> Rule:
        if depth > _MAX_DEPTH:
            raise self._fail("duties nested too deeply (cycle?)", node)
        g = self.g
        uid_term = g.value(node, ODRL.uid)
        uid = IRI(str(uid_term)) if isinstance(uid_term, (IRI, Literal)) else node
        duties = tuple(
            self._rule(d, RuleKind.DUTY, policy, depth + 1) for d in self._nodes(node, ODRL.duty)
        )
        remedies = tuple(
            self._rule(d, RuleKind.REMEDY, policy, depth + 1)
            for d in self._nodes(node, ODRL.remedy)
        )
        consequences = tuple(
            self._rule(d, RuleKind.CONSEQUENCE, policy, depth + 1)
            for d in self._nodes(node, ODRL.consequence)
        )
        extras = tuple(
            (p, o)
            for p, objs in g.predicates(node).items()
            if p not in _KNOWN_RULE_PROPS
            for o in objs
        )
        return Rule(
            uid=uid,
            kind=kind,
            actions=tuple(self._action(a, depth) for a in self._values(node, ODRL.action)),
            targets=tuple(
                self._entity(t, ODRL.AssetCollection) for t in g.objects(node, ODRL.target)
            ),
            assignees=tuple(
                self._entity(t, ODRL.PartyCollection) for t in g.objects(node, ODRL.assignee)
            ),
            assigners=tuple(
                self._entity(t, ODRL.PartyCollection) for t in g.objects(node, ODRL.assigner)
            ),
            constraints=self._constraints(node, ODRL.constraint, depth),
            duties=duties,
            remedies=remedies,
            consequences=consequences,
            policy=policy,
            extras=extras,
        )

    def _action(self, term: Term, depth: int) -> Action:
        if isinstance(term, Literal):
            raise self._fail(f"action must be an IRI, got literal {term.lexical!r}", term)
        g = self.g
        value = g.value(term, RDF.value)
        refinements = self._constraints(term, ODRL.refinement, depth)
        if value is None and not refinements:
            return Action(IRI(term) if isinstance(term, IRI) else None, node=term)
        if value is not None and not isinstance(value, IRI):
            raise self._fail("rdf:value of an action must be an IRI", term)
        return Action(value, refinements, node=term)

    def _entity(self, term: Term, collection_type: IRI) -> Entity:
        if isinstance(term, Literal):
            raise self._fail(f"asset/party must be an IRI, got literal {term.lexical!r}", term)
        g = self.g
        source = g.value(term, ODRL.source)
        refinements = self._constraints(term, ODRL.refinement, 0)
        is_collection = (
            g.has_type(term, collection_type)
            or source is not None
            or bool(refinements)
            or g.has_type(term, ODRL.AssetCollection)
            or g.has_type(term, ODRL.PartyCollection)
        )
        if source is not None and not is_node(source):
            raise self._fail("odrl:source must be an IRI", term)
        uid_term = g.value(term, ODRL.uid)
        iri: Node = IRI(str(uid_term)) if isinstance(uid_term, (IRI, Literal)) else term
        return Entity(iri, is_collection, source, refinements)  # type: ignore[arg-type]

    def _constraints(self, owner: Node, prop: IRI, depth: int) -> tuple[AnyConstraint, ...]:
        return tuple(self._constraint(c, depth, set()) for c in self._nodes(owner, prop))

    def _constraint(self, node: Node, depth: int, seen: set[Node]) -> AnyConstraint:
        if depth > _MAX_DEPTH or node in seen:
            raise self._fail("constraint refers to itself", node, "constraint_cycle")
        g = self.g
        preds = g.predicates(node)
        if not preds:
            raise self._fail("constraint is referenced but not defined", node, "constraint_missing")
        logical = [op for op in LOGICAL_OPERATORS if op in preds]
        atomic = {ODRL.leftOperand, ODRL.operator, ODRL.rightOperand} & set(preds)
        if len(logical) > 1 or (logical and atomic):
            # only one of them would be read: the others would be ignored
            raise self._fail(
                "a constraint is either one logical constraint (and, or, xone, andSequence)"
                " or one atomic constraint",
                node,
                "constraint_structure",
            )
        for name, prop in (("leftOperand", ODRL.leftOperand), ("operator", ODRL.operator)):
            if len(self._values(node, prop)) > 1:
                raise self._fail(f"a constraint has one {name}", node, "constraint_structure")
        if logical:
            (op,) = logical
            inner = seen | {node}
            members = tuple(self._constraint(m, depth + 1, inner) for m in self._nodes(node, op))
            return LogicalConstraint(node, op, members)
        left = g.value(node, ODRL.leftOperand)
        operator = g.value(node, ODRL.operator)
        data_type = g.value(node, ODRL.dataType) or g.value(node, ODRL.datatype)
        unit = g.value(node, ODRL.unit)
        for name, value in (("leftOperand", left), ("operator", operator), ("unit", unit)):
            if value is not None and not isinstance(value, IRI):
                raise self._fail(f"{name} must be an IRI, got {value}", node, "constraint_term")
        refs = tuple(IRI(str(r)) for r in self._values(node, ODRL.rightOperandReference))
        return Constraint(
            uid=node,
            left_operand=left,  # type: ignore[arg-type]
            operator=operator,  # type: ignore[arg-type]
            right_operands=tuple(self._values(node, ODRL.rightOperand)),
            right_operand_reference=refs,
            data_type=IRI(str(data_type)) if data_type is not None else None,
            unit=unit,  # type: ignore[arg-type]
            status=g.value(node, ODRL.status),
        )


def _text(term: Term | None) -> str | None:
    return term.lexical if isinstance(term, Literal) else (str(term) if term else None)
