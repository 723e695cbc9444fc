"""Compiled rules: target/party/action matchers, constraints, duties.

Semantics (W3C ODRL Formal Semantics CG draft, decisions in docs/policy.md):

* A permission or prohibition is active when its action, target, assignee and constraints are
  satisfied by the request and the state of the world; a permission additionally needs each of
  its duties (conditions) to be fulfilled or inactive.
* A duty is active when its constraints hold; a top-level ``dateTime lt/lteq`` on a duty is its
  deadline. A duty is fulfilled by an earlier record (a DutyReport that is Performed/Fulfilled,
  or a performed action matching the duty's action, refinements, party and target). No record
  means not fulfilled (ODRL IM 2.6.1); a passed deadline or an Unperformed/Violated record means
  violated.
* A remedy becomes active when its prohibition is violated; a consequence when its duty is.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.policy.constraints import Atom, Logic, compile_constraint, is_deadline
from connector.policy.model import Action, Entity, Rule, RuleKind
from connector.policy.operands import OperandRegistry, Scope
from connector.policy.report import PremiseKind, PremiseReport, RuleReport
from connector.policy.terms import IRI, REPORT, Node
from connector.policy.world import PerformedAction

Node_ = Atom | Logic
_PERFORMED = REPORT.Performed
_UNPERFORMED = REPORT.Unperformed
_UNKNOWN = REPORT.Unknown
_FULFILLED = REPORT.Fulfilled
_VIOLATED = REPORT.Violated
_NONSET = REPORT.NonSet


class ActionMatcher:
    """Whether a requested action is (included in) the rule's action, plus its refinements."""

    __slots__ = ("ancestors", "iri", "refinements")

    def __init__(
        self,
        action: Action,
        operands: OperandRegistry,
        ancestors: Callable[[IRI], frozenset[IRI]],
    ) -> None:
        self.iri = action.iri
        self.refinements = tuple(compile_constraint(c, operands) for c in action.refinements)
        self.ancestors = ancestors

    def kind_matches(self, requested: IRI | None) -> bool:
        """The requested action equals the rule's or is included in it (``odrl:includedIn``)."""
        return requested is not None and self.iri in self.ancestors(requested)

    def check(self, scope: Scope, requested: IRI | None) -> bool:
        """Fast path."""
        return self.kind_matches(requested) and all(r.check(scope) for r in self.refinements)

    def report(self, scope: Scope, requested: IRI | None) -> PremiseReport:
        """ActionReport, with refinement reports as members."""
        members = tuple(r.report(scope) for r in self.refinements)
        ok = self.kind_matches(requested) and all(m.satisfied for m in members)
        return PremiseReport(
            PremiseKind.ACTION, ok, members=members, expected=self.iri, requested=requested
        )


class EntityMatcher:
    """Whether a requested asset/party is the rule's one or a member of its collection."""

    __slots__ = ("entity", "kind", "refinements")

    def __init__(self, entity: Entity, kind: PremiseKind, operands: OperandRegistry) -> None:
        self.entity = entity
        self.kind = kind
        self.refinements = tuple(compile_constraint(c, operands) for c in entity.refinements)

    def member(self, scope: Scope, requested: Node | None) -> bool:
        """Identity, or ``odrl:partOf`` membership in the collection (or its ``odrl:source``)."""
        if requested is None:
            return False
        e = self.entity
        if requested == e.iri:
            return True
        if not e.is_collection:
            return False
        groups = scope.world.collections(requested)
        return e.iri in groups or (e.source is not None and e.source in groups)

    def check(self, scope: Scope, requested: Node | None) -> bool:
        """Fast path."""
        if not self.member(scope, requested):
            return False
        if not self.refinements:
            return True
        saved, scope.subject = scope.subject, requested
        try:
            return all(r.check(scope) for r in self.refinements)
        finally:
            scope.subject = saved

    def report(self, scope: Scope, requested: Node | None) -> PremiseReport:
        """TargetReport/PartyReport with refinement reports as members."""
        member = self.member(scope, requested)
        members: tuple[PremiseReport, ...] = ()
        if self.refinements and requested is not None:
            saved, scope.subject = scope.subject, requested
            try:
                members = tuple(r.report(scope) for r in self.refinements)
            finally:
                scope.subject = saved
        ok = member and all(m.satisfied for m in members)
        return PremiseReport(
            self.kind, ok, members=members, expected=self.entity.iri, requested=requested
        )


class CompiledRule:
    """A permission, prohibition or duty ready to evaluate."""

    __slots__ = (
        "action",
        "assignee",
        "consequences",
        "constraints",
        "deadlines",
        "duties",
        "kind",
        "policy",
        "remedies",
        "target",
        "uid",
    )

    def __init__(
        self,
        rule: Rule,
        operands: OperandRegistry,
        ancestors: Callable[[IRI], frozenset[IRI]],
    ) -> None:
        self.uid = rule.uid
        self.kind = rule.kind
        self.policy = rule.policy
        self.action = ActionMatcher(rule.actions[0], operands, ancestors) if rule.actions else None
        self.target = (
            EntityMatcher(rule.targets[0], PremiseKind.TARGET, operands) if rule.targets else None
        )
        self.assignee = (
            EntityMatcher(rule.assignees[0], PremiseKind.PARTY, operands)
            if rule.assignees
            else None
        )
        compiled = tuple(compile_constraint(c, operands) for c in rule.constraints)
        is_duty = rule.kind not in (RuleKind.PERMISSION, RuleKind.PROHIBITION)
        self.deadlines = tuple(c for c in compiled if is_duty and is_deadline(c))
        self.constraints = tuple(c for c in compiled if c not in self.deadlines)
        self.duties = tuple(CompiledRule(d, operands, ancestors) for d in rule.duties)
        self.remedies = tuple(CompiledRule(d, operands, ancestors) for d in rule.remedies)
        self.consequences = tuple(CompiledRule(d, operands, ancestors) for d in rule.consequences)

    # -- permissions and prohibitions ---------------------------------------------------------
    def premises_hold(self, scope: Scope) -> bool:
        """Fast path: action, target, party and constraints."""
        req = scope.request
        if self.action is not None and not self.action.check(scope, req.action):
            return False
        if self.target is not None and not self.target.check(scope, req.target):
            return False
        if self.assignee is not None and not self.assignee.check(scope, req.party):
            return False
        return all(c.check(scope) for c in self.constraints)

    def active(self, scope: Scope) -> bool:
        """Fast path: is the permission/prohibition active for the request?"""
        scope.rule = self.uid
        if not self.premises_hold(scope):
            return False
        return all(self._condition_ok(d, scope) for d in self.duties)

    def _condition_ok(self, duty: CompiledRule, scope: Scope) -> bool:
        report = duty.duty_report(scope)
        return not report.active or report.deontic == _FULFILLED

    def premise_reports(self, scope: Scope) -> list[PremiseReport]:
        """Target, party and action reports (as present in the rule), then constraints."""
        req = scope.request
        out: list[PremiseReport] = []
        if self.target is not None:
            out.append(self.target.report(scope, req.target))
        if self.assignee is not None:
            out.append(self.assignee.report(scope, req.party))
        if self.action is not None:
            out.append(self.action.report(scope, req.action))
        out.extend(c.report(scope) for c in self.constraints)
        return out

    def rule_report(self, scope: Scope, *, attempted: bool | None) -> RuleReport:
        """Full path for a permission or prohibition."""
        scope.rule = self.uid
        premises = self.premise_reports(scope)
        holds = all(p.satisfied for p in premises)
        conditions: list[RuleReport] = []
        active = holds
        for duty in self.duties:
            scope.rule = duty.uid
            dr = duty.duty_report(scope)
            conditions.append(dr)
            if dr.active and dr.deontic != _FULFILLED:
                active = False
        scope.rule = self.uid
        deontic = None
        if self.kind is RuleKind.PROHIBITION:
            violated = active and self._performed_by_world(scope)
            deontic = _VIOLATED if violated else _NONSET
            for remedy in self.remedies:
                conditions.append(remedy.duty_report(scope, triggered=violated))
        return RuleReport(
            self.kind,
            self.uid,
            active,
            attempted=attempted,
            premises=tuple(premises),
            conditions=tuple(conditions),
            deontic=deontic,
            rule_request=scope.request.rule_uid,
            policy=self.policy,
            action=self.action.iri if self.action else None,
        )

    def _performed_by_world(self, scope: Scope) -> bool:
        """Monitoring: a recorded performance of the prohibited action by the party."""
        for pa in scope.world.performed:
            if self._matches_performance(pa, scope, default_party=scope.request.party):
                return True
        return False

    # -- duties -----------------------------------------------------------------------------------
    def _matches_performance(
        self, pa: PerformedAction, scope: Scope, default_party: IRI | None
    ) -> bool:
        if pa.at is not None and pa.at > scope.world.now:
            return False
        if self.action is not None and not self.action.kind_matches(pa.action):
            return False
        if self.assignee is not None:
            if not self.assignee.member(scope, pa.party):
                return False
        elif default_party is not None and pa.party is not None and pa.party != default_party:
            return False
        if (
            self.target is not None
            and pa.target is not None
            and not self.target.member(scope, pa.target)
        ):
            return False
        if self.action is not None and self.action.refinements:
            saved = scope.parameters
            scope.parameters = pa.parameters
            try:
                return all(r.check(scope) for r in self.action.refinements)
            finally:
                scope.parameters = saved
        return True

    def duty_report(self, scope: Scope, *, triggered: bool = True) -> RuleReport:
        """Activation, performance and deontic state of a duty (condition, obligation, ...)."""
        saved_rule = scope.rule
        scope.rule = self.uid
        premises = [c.report(scope) for c in self.constraints]
        deadline_reports = [d.report(scope) for d in self.deadlines]
        active = triggered and all(p.satisfied for p in premises)
        performed = failed = False
        for rec in scope.world.duty_records:
            if rec.rule == self.uid and (rec.at is None or rec.at <= scope.world.now):
                performed = performed or rec.performed
                failed = failed or rec.failed
        if not performed:
            performed = any(
                self._matches_performance(pa, scope, scope.request.party)
                for pa in scope.world.performed
            )
        overdue = not all(d.satisfied for d in deadline_reports)
        if performed:
            performance, deontic = _PERFORMED, _FULFILLED
        elif failed or (active and overdue):
            performance, deontic = _UNPERFORMED, _VIOLATED
        else:
            performance, deontic = _UNKNOWN, _NONSET
        if not active:
            deontic = _NONSET if not performed else _FULFILLED
        consequences = tuple(
            c.duty_report(scope, triggered=deontic == _VIOLATED) for c in self.consequences
        )
        scope.rule = saved_rule
        return RuleReport(
            self.kind,
            self.uid,
            active,
            premises=tuple(premises + deadline_reports),
            conditions=consequences,
            performance=performance,
            deontic=deontic,
            policy=self.policy,
            action=self.action.iri if self.action else None,
        )
