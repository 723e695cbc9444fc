"""Enforcement on every access: re-evaluate the agreement's policy for this very access.

Before any byte flows, :meth:`Enforcer.decide` builds the policy engine's request (action
``odrl:read`` by the consumer on the dataset, the declared purpose, the shaping the data plane
will apply) and state of the world (now, the accesses so far, the consumer's facts, the
attribution the consumer committed to by agreeing, the geofenced delivery's area), and
evaluates it. The count of accesses is read, checked and incremented under one lock shared by
replicas (:class:`AccessCounter`), so concurrent pulls cannot both take the last access. A
refusal carries the engine's explanation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import shapely

from connector.clock import Clock
from connector.controlplane.decisions import FEDERATION, party_variants
from connector.controlplane.ports import Facts
from connector.dataplane.delivery import AggregateSpec, Delivery
from connector.dataplane.policy_terms import AgreementPolicies, AgreementPolicy
from connector.errors import Forbidden
from connector.model import Agreement
from connector.policy import (
    EvaluationRequest,
    PerformedAction,
    StateOfTheWorld,
    evaluate,
    explain,
)
from connector.policy.terms import IRI, KK, ODRL, XSD, Literal, Node, Term

WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"
"""The party collection of trusted or credentialed participants (as the control plane)."""
_PREFIXES = {"kk:": str(KK), "odrl:": "http://www.w3.org/ns/odrl/2/"}


class AccessCounter(Protocol):
    def admit(self, agreement_id: str, decide: Callable[[int], bool]) -> tuple[bool, int]:
        """Under a lock shared by replicas: ``decide(accesses so far)``; when it allows,
        count one more access. Returns ``(allowed, accesses before this one)``."""
        ...


@dataclass(frozen=True)
class Plan:
    """The shaping one access gets."""

    aggregate: AggregateSpec | None = None
    geofence: Any | None = None
    """The area rows must lie in (shapely), or None."""
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    permitted: bool
    explanation: str
    prior_accesses: int
    plan: Plan = field(default_factory=Plan)


def expand(term: str) -> IRI:
    """``kk:Energiemanagement`` → the full IRI (full IRIs pass)."""
    for prefix, base in _PREFIXES.items():
        if term.startswith(prefix):
            return IRI(base + term[len(prefix) :])
    return IRI(term)


class Enforcer:
    """Decides each access against the agreement."""

    def __init__(
        self,
        counter: AccessCounter,
        clock: Clock,
        *,
        policies: AgreementPolicies | None = None,
        stored_policy: Callable[[str], Mapping[str, Any] | None] | None = None,
        facts: Callable[[str], Facts | None] | None = None,
        lang: str = "en",
    ) -> None:
        self.counter = counter
        self.clock = clock
        self.policies = policies or AgreementPolicies()
        self.stored_policy = stored_policy
        self.facts = facts
        self.lang = lang

    def plan(self, compiled: AgreementPolicy, delivery: Delivery) -> Plan:
        """What shaping the agreement requires and the dataset can apply; Forbidden if it
        requires shaping the dataset cannot do (fail closed)."""
        aggregate = None
        if compiled.wants_aggregation or (delivery.aggregate and delivery.aggregate.always):
            if delivery.aggregate is None:
                raise Forbidden(
                    "the agreement requires aggregated delivery, which this dataset does not offer",
                    reason="shaping_unavailable",
                )
            aggregate = delivery.aggregate
        area = None
        fences = list(compiled.geofences)
        if delivery.geofence is not None and delivery.geofence.polygon:
            from connector.policy.geometry import parse_geometry

            fences.append(parse_geometry(delivery.geofence.polygon))
        if fences:
            if delivery.geofence is None:
                raise Forbidden(
                    "the agreement requires a geofence, which this dataset does not offer",
                    reason="shaping_unavailable",
                )
            area = fences[0]
            for other in fences[1:]:
                area = shapely.intersection(area, other)
        return Plan(aggregate, area, delivery.columns)

    def _request(
        self, agreement: Agreement, consumer: str, purpose: str | None, plan: Plan
    ) -> EvaluationRequest:
        params: dict[IRI, tuple[Term, ...]] = {}
        if purpose:
            params[ODRL.purpose] = (expand(purpose),)
        if plan.aggregate is not None:
            params[KK.aggregationPeriod] = (Literal(plan.aggregate.period, XSD.duration),)
            params[KK.aggregationFunction] = (KK[plan.aggregate.function],)
            params[KK.kAnonymity] = (Literal(str(plan.aggregate.k), XSD.integer),)
        return EvaluationRequest(ODRL.read, IRI(consumer), IRI(agreement.target), params)

    def _worlds(
        self,
        *,
        agreement: Agreement,
        consumer: str,
        compiled: AgreementPolicy,
        plan: Plan,
        prior: int,
        now: dt.datetime,
        known: Facts | None,
    ) -> list[StateOfTheWorld]:
        """One world without credentials and one per verified credential of the consumer
        (``known``: a credential's type and issuer are one fact), as the control plane
        decides."""
        target = IRI(agreement.target)
        party = IRI(consumer)
        base_facts: dict[Node, Mapping[IRI, tuple[Term, ...]]] = {}
        part_of: dict[Node, frozenset[Node]] = {}
        if plan.geofence is not None:
            base_facts[target] = {ODRL.spatialCoordinates: (Literal(plan.geofence.wkt, WKT),)}
            part_of[target] = frozenset(IRI(c) for c in compiled.geofence_collections)
        attribution = PerformedAction(ODRL.attribute, party, target, agreement.timestamp)
        variants = party_variants(known)
        worlds = []
        for party_facts, member in variants:
            facts = dict(base_facts)
            if party_facts is not None:
                facts[party] = party_facts
            groups = dict(part_of)
            if member:
                groups[party] = frozenset({IRI(FEDERATION)})
            worlds.append(
                StateOfTheWorld(
                    now=now,
                    facts=facts,
                    part_of=groups,
                    counts={None: prior},
                    performed=(attribution,),
                )
            )
        return worlds

    def decide(
        self,
        agreement: Agreement,
        delivery: Delivery,
        *,
        consumer: str,
        purpose: str | None,
    ) -> Decision:
        """Evaluate this access (counting it when allowed); never raises for a refusal
        by the policy — a refused :class:`Decision` carries the explanation."""
        stored = None
        if agreement.policy_hash and self.stored_policy is not None:
            stored = self.stored_policy(agreement.policy_hash)
        compiled = self.policies.get(agreement, stored)
        plan = self.plan(compiled, delivery)
        request = self._request(agreement, consumer, purpose, plan)
        now = self.clock.now()
        outcome: dict[str, Any] = {}
        # the consumer's facts may need its credentials (network): fetched before the access
        # counter's lock, which is the database's write lock on SQLite
        known = self.facts(consumer) if self.facts is not None else None

        def judge(prior: int) -> bool:
            worlds = self._worlds(
                agreement=agreement,
                consumer=consumer,
                compiled=compiled,
                plan=plan,
                prior=prior,
                now=now,
                known=known,
            )
            for world in worlds:
                report = evaluate(compiled.compiled, request, world)
                outcome["explanation"] = explain(report, "de" if self.lang == "de" else "en")
                if report.permitted:
                    return True
            return False

        permitted, prior = self.counter.admit(agreement.id, judge)
        return Decision(permitted, str(outcome.get("explanation", "")), prior, plan)


def summary(decision: Decision) -> Mapping[str, Any]:
    """Audit details of a decision (no payloads)."""
    plan = decision.plan
    return {
        "accesses_before": decision.prior_accesses,
        "aggregated": plan.aggregate is not None,
        "geofenced": plan.geofence is not None,
        "explanation": decision.explanation[:500],
    }
