"""The state of the world an evaluation sees: time, memberships, taxonomy, counters, history.

It can be built in Python (what the connector does for every access) or read from RDF in the
encoding described in docs/policy.md (public ODRL test suite conventions + ``odrl-fs:`` terms).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.errors import Invalid
from connector.policy.contexts import ContextLoader
from connector.policy.graph import Graph, is_node
from connector.policy.reader import Syntax, read_graph
from connector.policy.terms import (
    DCT,
    IRI,
    KK,
    ODRL,
    ODRL_FS,
    RDF,
    RDFS,
    REPORT,
    SOTW,
    Literal,
    Node,
    Term,
    local_name,
)
from connector.policy.values import Duration, Incomparable, parse_duration, parse_instant


@dataclass(frozen=True, slots=True)
class DutyRecord:
    """What an earlier evaluation said about a duty (a DutyReport in the state of the world)."""

    rule: Node
    performance: IRI | None = None
    deontic: IRI | None = None
    at: dt.datetime | None = None

    @property
    def performed(self) -> bool:
        """Performed, or fulfilled (which implies performance)."""
        return self.performance == REPORT.Performed or self.deontic == REPORT.Fulfilled

    @property
    def failed(self) -> bool:
        """Unperformed (can no longer be performed) or violated."""
        return self.performance == REPORT.Unperformed or self.deontic == REPORT.Violated


@dataclass(frozen=True, slots=True)
class PerformedAction:
    """An action that was actually performed (e.g. an attribution shown, a deletion done)."""

    action: IRI
    party: IRI | None = None
    target: IRI | None = None
    at: dt.datetime | None = None
    parameters: Mapping[IRI, tuple[Term, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class StateOfTheWorld:
    """Everything an evaluation may know besides the policy and the request."""

    now: dt.datetime
    part_of: Mapping[Node, frozenset[Node]] = field(default_factory=dict)
    """Direct ``odrl:partOf`` memberships (member → collections)."""
    broader: Mapping[Node, frozenset[Node]] = field(default_factory=dict)
    """Direct ``rdfs:subClassOf`` / ``rdf:type`` edges used by ``isA``."""
    facts: Mapping[Node, Mapping[IRI, tuple[Term, ...]]] = field(default_factory=dict)
    """Characteristics of assets and parties: ``subject → leftOperand IRI → values``."""
    counts: Mapping[Node | None, int] = field(default_factory=dict)
    """Executions before this request, by rule, policy, target or ``None`` (global)."""
    accumulated: Mapping[Node | None, Duration] = field(default_factory=dict)
    duty_records: tuple[DutyRecord, ...] = ()
    performed: tuple[PerformedAction, ...] = ()
    globals: Mapping[IRI, tuple[Term, ...]] = field(default_factory=dict)
    """World-level values such as ``odrl-fs:recipient`` or ``odrl-fs:currentLocation``."""
    uid: Node | None = None
    deferred: frozenset[IRI] = frozenset()
    """Left operands whose constraints are checked at each later access, not now: evaluating a
    contract (before any access) treats them as satisfiable and reports them as ``deferred``;
    the data plane evaluates them again, strictly, for every access."""
    _cache: dict[Any, Any] = field(
        default_factory=dict, init=False, compare=False, repr=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise Invalid("state of the world: current time needs a time zone", reason="world_time")

    def collections(self, member: Node) -> frozenset[Node]:
        """All collections ``member`` is (transitively) part of, including itself."""
        key = ("partOf", member)
        hit = self._cache.get(key)
        if hit is None:
            hit = _closure(member, self.part_of)
            self._cache[key] = hit
        return hit

    def ancestors(self, value: Node) -> frozenset[Node]:
        """``value`` and everything it is an instance or subclass of (transitively)."""
        key = ("isA", value)
        hit = self._cache.get(key)
        if hit is None:
            hit = _closure(value, self.broader)
            self._cache[key] = hit
        return hit

    def fact(self, subject: Node | None, prop: IRI) -> tuple[Term, ...]:
        """Values of ``subject prop ?v`` (empty if unknown)."""
        if subject is None:
            return ()
        return self.facts.get(subject, {}).get(prop, ())


def _closure(start: Node, edges: Mapping[Node, frozenset[Node]]) -> frozenset[Node]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


_TIME_PROPS = (ODRL_FS.currentTime, SOTW.currentTime)
_COUNT_PROPS = (ODRL_FS["count"], SOTW["count"])
_ACCUMULATED_PROPS = (ODRL_FS.accumulatedTime, SOTW.accumulatedTime)
_GLOBAL_PROPS = (
    ODRL_FS.recipient,
    SOTW.recipient,
    ODRL_FS.currentLocation,
    SOTW.currentLocation,
    ODRL_FS.paidAmount,
    SOTW.paidAmount,
    ODRL_FS.event,
    SOTW.event,
)


def parse_world(
    data: str | bytes | Mapping[str, Any] | list[Any] | Graph,
    syntax: Syntax | None = None,
    *,
    now: dt.datetime | None = None,
    context_loader: ContextLoader | None = None,
    source: str = "state of the world",
) -> StateOfTheWorld:
    """Read a state of the world from RDF; ``now`` overrides a missing current-time node."""
    g = (
        data
        if isinstance(data, Graph)
        else read_graph(data, syntax, context_loader=context_loader, source=source)
    )
    current = _current_time(g, source) or now
    if current is None:
        raise Invalid(
            f"{source}: no current time (dct:issued on the time node)", reason="world_time"
        )
    part_of: dict[Node, set[Node]] = {}
    for s, o in g.pairs(ODRL.partOf):
        if is_node(o):
            part_of.setdefault(s, set()).add(o)  # type: ignore[arg-type]
    broader: dict[Node, set[Node]] = {}
    for prop in (RDFS.subClassOf, RDF.type):
        for s, o in g.pairs(prop):
            if is_node(o):
                broader.setdefault(s, set()).add(o)  # type: ignore[arg-type]
    facts: dict[Node, dict[IRI, tuple[Term, ...]]] = {}
    for s in g.subjects_all():
        facts[s] = {p: tuple(objs) for p, objs in g.predicates(s).items()}
    counts: dict[Node | None, int] = {}
    for prop in _COUNT_PROPS:
        for s, o in g.pairs(prop):
            try:
                counts[_owner(g, s)] = int(str(o))
            except ValueError as exc:
                raise Invalid(
                    f"{source}: count must be an integer (at {s})", reason="world_value"
                ) from exc
    accumulated: dict[Node | None, Duration] = {}
    for prop in _ACCUMULATED_PROPS:
        for s, o in g.pairs(prop):
            try:
                accumulated[_owner(g, s)] = parse_duration(str(o))
            except Incomparable as exc:
                raise Invalid(f"{source}: {exc}", reason="world_value") from exc
    globals_: dict[IRI, list[Term]] = {}
    for prop in _GLOBAL_PROPS:
        for _, o in g.pairs(prop):
            globals_.setdefault(IRI("https://w3id.org/odrl-fs#" + local_name(prop)), []).append(o)
    return StateOfTheWorld(
        now=current,
        part_of={k: frozenset(v) for k, v in part_of.items()},
        broader={k: frozenset(v) for k, v in broader.items()},
        facts=facts,
        counts=counts,
        accumulated=accumulated,
        duty_records=_duty_records(g),
        performed=_performed(g, source),
        globals={k: tuple(v) for k, v in globals_.items()},
        uid=_sotw_node(g),
    )


def _sotw_node(g: Graph) -> Node | None:
    for t in (ODRL_FS.SotW, SOTW.SotW, IRI("http://example.org/Sotw")):
        nodes = g.subjects(RDF.type, t)
        if nodes:
            return nodes[0]
    return None


def _owner(g: Graph, subject: Node) -> Node | None:
    """Counters on the SotW node itself are global (``None``)."""
    return None if subject == _sotw_node(g) else subject


def _current_time(g: Graph, source: str) -> dt.datetime | None:
    candidates: list[Term] = []
    for prop in _TIME_PROPS:
        candidates.extend(o for _, o in g.pairs(prop))
    if not candidates:
        candidates = [
            o
            for s, o in g.pairs(DCT.issued)
            if isinstance(s, IRI) and local_name(s) == "currentTime"
        ]
    if not candidates:
        return None
    values = set()
    for c in candidates:
        try:
            values.add(parse_instant(str(c)))
        except Incomparable as exc:
            raise Invalid(
                f"{source}: current time {c} is not an xsd:dateTime", reason="world_time"
            ) from exc
    if len(values) > 1:
        raise Invalid(f"{source}: several different current times", reason="world_time")
    return values.pop()


def _duty_records(g: Graph) -> tuple[DutyRecord, ...]:
    out: list[DutyRecord] = []
    for report in g.subjects(RDF.type, REPORT.DutyReport):
        rule = g.value(report, REPORT.rule)
        if not is_node(rule):
            continue
        at = None
        for parent in g.subjects(REPORT.ruleReport, report):
            created = g.value(parent, DCT.created)
            if isinstance(created, Literal):
                try:
                    at = parse_instant(created.lexical)
                except Incomparable:
                    at = None
        perf = g.value(report, REPORT.performanceState)
        deon = g.value(report, REPORT.deonticState)
        out.append(
            DutyRecord(
                rule,  # type: ignore[arg-type]
                perf if isinstance(perf, IRI) else None,
                deon if isinstance(deon, IRI) else None,
                at,
            )
        )
    return tuple(out)


def _performed(g: Graph, source: str) -> tuple[PerformedAction, ...]:
    out: list[PerformedAction] = []
    for node in g.subjects(RDF.type, KK.PerformedAction):
        action = g.value(node, ODRL.action)
        if not isinstance(action, IRI):
            raise Invalid(
                f"{source}: performed action without odrl:action (at {node})", reason="world_value"
            )
        party = g.value(node, ODRL.assignee)
        target = g.value(node, ODRL.target)
        issued = g.value(node, DCT.issued)
        params: dict[IRI, tuple[Term, ...]] = {}
        for p, objs in g.predicates(node).items():
            if p not in (RDF.type, ODRL.action, ODRL.assignee, ODRL.target, DCT.issued):
                params[p] = tuple(objs)
        try:
            at = parse_instant(str(issued)) if issued is not None else None
        except Incomparable as exc:
            raise Invalid(f"{source}: {exc}", reason="world_value") from exc
        out.append(
            PerformedAction(
                action,
                party if isinstance(party, IRI) else None,
                target if isinstance(target, IRI) else None,
                at,
                params,
            )
        )
    return tuple(out)
