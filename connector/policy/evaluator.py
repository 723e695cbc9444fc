"""Compile a policy once; evaluate requests against it in microseconds.

``compile_policy`` validates (fail closed), resolves inheritance, atomizes and compiles every
constraint. ``evaluate`` builds the full compliance report; ``decide`` is the short-circuiting
fast path for the same decision.

Conflicts (ODRL IM 2.6.5): when an active permission and an active prohibition meet, ``perm``
reports the prohibition Inactive, ``prohibit`` the permission, and ``invalid`` (the default)
every rule of the policy. An Offer is a proposal: it is evaluated only with ``as_proposal``,
and even then it never permits by itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector.errors import Invalid
from connector.policy.model import Conflict, Policy, PolicyKind, RuleKind
from connector.policy.normalize import NormalizedPolicy, PolicyStore, normalize
from connector.policy.operands import DEFAULT_OPERANDS, OperandRegistry, Scope
from connector.policy.report import ComplianceReport, Outcome, RuleReport
from connector.policy.request import EvaluationRequest
from connector.policy.rules import CompiledRule
from connector.policy.terms import IRI, Node
from connector.policy.validation import Problem, ensure_valid
from connector.policy.values import Incomparable, parse_date, parse_instant
from connector.policy.vocabulary import DEFAULT_VOCABULARY, Vocabulary
from connector.policy.world import StateOfTheWorld

_NOT_EVALUABLE = (PolicyKind.REQUEST, PolicyKind.ASSERTION)


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy compiled for evaluation (no RDF work per decision)."""

    uid: Node
    kind: PolicyKind
    conflict: Conflict
    issued: dt.datetime | None
    permissions: tuple[CompiledRule, ...]
    prohibitions: tuple[CompiledRule, ...]
    obligations: tuple[CompiledRule, ...]
    normalized: NormalizedPolicy
    warnings: tuple[Problem, ...] = ()
    labels: dict[tuple[str, str], str] = field(default_factory=dict)


def compile_policy(
    policy: Policy,
    *,
    store: PolicyStore | None = None,
    operands: OperandRegistry = DEFAULT_OPERANDS,
    vocabulary: Vocabulary = DEFAULT_VOCABULARY,
) -> CompiledPolicy:
    """Validate, normalise and compile ``policy``; errors raise :class:`Invalid`."""
    if policy.kind in _NOT_EVALUABLE:
        raise Invalid(
            f"policy {policy.uid}: an odrl:{policy.kind.value} cannot be enforced",
            reason="policy_not_evaluable",
        )
    warnings = ensure_valid(policy, operands=operands, vocabulary=vocabulary)
    normalized = normalize(policy, store)
    for parent in _parents(normalized, store):
        warnings += ensure_valid(parent, operands=operands, vocabulary=vocabulary)
    if not normalized.rules:
        raise Invalid(f"policy {policy.uid} has no rules", reason="policy_invalid")
    cache: dict[IRI, frozenset[IRI]] = {}

    def ancestors(action: IRI) -> frozenset[IRI]:
        hit = cache.get(action)
        if hit is None:
            hit = vocabulary.ancestors(action)
            cache[action] = hit
        return hit

    def build(rules: tuple[object, ...]) -> tuple[CompiledRule, ...]:
        return tuple(CompiledRule(r, operands, ancestors) for r in rules)  # type: ignore[arg-type]

    labels = {(str(iri), lang): text for iri, lang, text in normalized.labels}
    return CompiledPolicy(
        uid=normalized.uid,
        kind=normalized.kind,
        conflict=normalized.conflict,
        issued=_issued(normalized),
        permissions=build(normalized.permissions),
        prohibitions=build(normalized.prohibitions),
        obligations=build(normalized.obligations),
        normalized=normalized,
        warnings=tuple(warnings),
        labels=labels,
    )


def _parents(normalized: NormalizedPolicy, store: PolicyStore | None) -> list[Policy]:
    if not normalized.source.inherit_from or store is None:
        return []
    out: list[Policy] = []
    seen: set[str] = set()
    todo = list(normalized.source.inherit_from)
    while todo:
        uid = str(todo.pop())
        if uid in seen:
            continue
        seen.add(uid)
        parent = store(uid) if callable(store) else store.get(uid)
        if parent is not None:
            out.append(parent)
            todo.extend(parent.inherit_from)
    return out


def _issued(normalized: NormalizedPolicy) -> dt.datetime | None:
    lit = normalized.issued
    if lit is None:
        return None
    try:
        if len(lit.lexical.strip()) <= 11 and "T" not in lit.lexical:
            return parse_date(lit.lexical).start
        return parse_instant(lit.lexical)
    except Incomparable as exc:
        raise Invalid(
            f"policy {normalized.uid}: dct:issued {exc}", reason="policy_invalid"
        ) from exc


def _scope(compiled: CompiledPolicy, request: EvaluationRequest, world: StateOfTheWorld) -> Scope:
    return Scope(request, world, compiled.uid, compiled.issued)


def decide(compiled: CompiledPolicy, request: EvaluationRequest, world: StateOfTheWorld) -> bool:
    """Whether ``request`` is permitted (fast path, no report)."""
    if compiled.kind is PolicyKind.OFFER:
        return False
    scope = _scope(compiled, request, world)
    permitted = any(p.active(scope) for p in compiled.permissions)
    prohibited = any(p.active(scope) for p in compiled.prohibitions)
    if permitted and prohibited:
        return compiled.conflict is Conflict.PERM
    return permitted and not prohibited


def evaluate(
    compiled: CompiledPolicy,
    request: EvaluationRequest,
    world: StateOfTheWorld,
    *,
    as_proposal: bool = False,
) -> ComplianceReport:
    """The full compliance report for ``request`` in ``world``."""
    scope = _scope(compiled, request, world)
    attempted = request.action is not None or request.uid is not None
    perms = [p.rule_report(scope, attempted=attempted) for p in compiled.permissions]
    prohibs = [p.rule_report(scope, attempted=attempted) for p in compiled.prohibitions]
    obligs = [o.duty_report(scope) for o in compiled.obligations]
    for o in obligs:
        o.kind = RuleKind.OBLIGATION
    _resolve_conflict(compiled.conflict, perms, prohibs, obligs)
    permitted = any(r.active for r in perms) and not any(r.active for r in prohibs)
    outcome = Outcome.PERMIT if permitted else Outcome.DENY
    if compiled.kind is PolicyKind.OFFER:
        if not as_proposal:
            for r in perms:
                r.active = False
        outcome = Outcome.NOT_APPLICABLE
    return ComplianceReport(
        policy=compiled.uid,
        outcome=outcome,
        rules=tuple(perms + prohibs + obligs),
        created=world.now,
        request=request.uid,
        request_action=request.action,
        request_party=request.party,
        request_target=request.target,
        world=world.uid,
        conflict=compiled.conflict,
        proposal=as_proposal and compiled.kind is PolicyKind.OFFER,
        labels=compiled.labels,
    )


def _resolve_conflict(
    conflict: Conflict,
    perms: list[RuleReport],
    prohibs: list[RuleReport],
    obligs: list[RuleReport],
) -> None:
    if not (any(r.active for r in perms) and any(r.active for r in prohibs)):
        return
    if conflict is Conflict.PERM:
        losers = prohibs
    elif conflict is Conflict.PROHIBIT:
        losers = perms
    else:
        losers = perms + prohibs + obligs
    for r in losers:
        if r.active:
            r.active = False
            r.overridden_by = conflict
        elif conflict is Conflict.INVALID:
            r.overridden_by = conflict
