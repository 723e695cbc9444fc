"""Policy decisions about a participant: catalogue visibility and contract eligibility.

The facts about a caller (:class:`~connector.controlplane.ports.Facts`) become the policy
engine's state of the world. A credential's type and issuer are *one* fact: the policy is
evaluated once per credential (type and issuer of that credential only), and once without
credentials; it permits if one of these evaluations permits. A participant that holds a
verified credential, or is on the trust list, counts as a member (``odrl:partOf``) of the
federation party collection :data:`FEDERATION`.

Contract eligibility assumes the contract's duties will be performed (they are what the
consumer agrees to): duties are recorded as fulfilled for that evaluation. Constraints that can
only be judged at an access — the declared purpose, the access count, the delivery's shaping
(aggregation, k-anonymity, geofence), time since the agreement — are *deferred*
(:data:`ACCESS_TIME_OPERANDS`): they do not block the catalogue entry or the contract, and the data
plane evaluates them strictly at every access. Who the party is, its credentials and absolute
time windows are judged now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from connector.audit.event import canonical, sha256_hex
from connector.controlplane.policies import PolicyVersion, compiled, target_collections
from connector.controlplane.ports import Facts
from connector.model.contract import Agreement
from connector.model.negotiation import Negotiation
from connector.policy import (
    CompiledPolicy,
    ComplianceReport,
    DutyRecord,
    EvaluationRequest,
    StateOfTheWorld,
    decide,
    evaluate,
    explain,
    to_jsonld,
)
from connector.policy.terms import IRI, KK, ODRL, REPORT, Node, Term

FEDERATION = "https://w3id.org/klimakommune/federation"

ACCESS_TIME_OPERANDS: frozenset[IRI] = frozenset(
    {
        ODRL.purpose,
        ODRL.count,
        ODRL.elapsedTime,
        ODRL.delayPeriod,
        ODRL.meteredTime,
        ODRL.spatialCoordinates,
        ODRL.deliveryChannel,
        ODRL.fileFormat,
        KK.agreementAge,
        KK.aggregationPeriod,
        KK.aggregationFunction,
        KK.kAnonymity,
    }
)
"""Left operands whose constraints are evaluated at each data access, not at contract time."""


@dataclass(frozen=True)
class Decision:
    """A yes/no with the explanation in English (for a termination reason), the digest of the
    compliance report it rests on and the hash of the policy version evaluated."""

    permitted: bool
    explanation: str = ""
    report_digest: str = ""
    policy_hash: str | None = None


@runtime_checkable
class DecisionLog(Protocol):
    """Where decisions are recorded as ``policy.decided`` audit events (the control-plane
    store and its transactions implement it)."""

    def record_decision(
        self,
        *,
        permitted: bool,
        report_digest: str,
        explanation: str,
        participant: str,
        dataset: str | None,
        process: str | None = None,
        agreement: str | None = None,
        policy_hash: str | None = None,
        stage: str = "contract",
    ) -> None: ...


def report_digest(report: ComplianceReport) -> str:
    """SHA-256 (hex) of the compliance report's JSON-LD form in JCS."""
    return sha256_hex(canonical(to_jsonld(report)))


def note_contract_decision(log: object, decision: Decision | None, n: Negotiation) -> None:
    """Record the automatic contract decision on negotiation ``n`` in ``log`` (a store
    transaction) when ``log`` keeps decisions; ``None`` (no automatic decision) records nothing."""
    if decision is None or not isinstance(log, DecisionLog):
        return
    log.record_decision(
        permitted=decision.permitted,
        report_digest=decision.report_digest,
        explanation=decision.explanation,
        participant=n.counterparty_id,
        dataset=n.dataset_id,
        process=n.id,
        policy_hash=decision.policy_hash,
        stage="contract",
    )


def note_transfer_check(log: object, decision: Decision, agreement: Agreement) -> None:
    """Record the re-check of ``agreement``'s policy for a transfer (request or resumption)."""
    if not isinstance(log, DecisionLog):
        return
    log.record_decision(
        permitted=decision.permitted,
        report_digest=decision.report_digest,
        explanation=decision.explanation,
        participant=agreement.assignee,
        dataset=agreement.target,
        agreement=agreement.id,
        policy_hash=decision.policy_hash,
        stage="transfer",
    )


PartyFacts = Mapping[IRI, tuple[Term, ...]]


def party_variants(facts: Facts | None) -> list[tuple[PartyFacts | None, bool]]:
    """The ways a participant may be judged: ``(facts about the party, federation member?)``.

    One variant without credentials (a member if on the trust list) and one per verified
    credential — its type and issuer only, so a credential's type and issuer count as ONE fact;
    a policy permits if one variant permits. Bare type names (``MembershipCredential``) are read
    in the ``kk:`` policy namespace. Used for contracts here and for every access by the data
    plane, so both judge a participant the same way.
    """
    variants: list[tuple[PartyFacts | None, bool]] = [(None, bool(facts and facts.trusted))]
    for credential in facts.credentials if facts is not None else ():
        types: tuple[Term, ...] = tuple(
            IRI(t if ":" in t else str(KK[t])) for t in credential.types
        )
        variants.append(
            (
                {
                    KK.membershipCredentialType: types,
                    KK.membershipCredentialIssuer: (IRI(credential.issuer),),
                },
                True,
            )
        )
    return variants


def _worlds(
    facts: Facts, now: dt.datetime, version: PolicyVersion, target: str
) -> list[StateOfTheWorld]:
    party = IRI(facts.did)
    asset_groups: frozenset[Node] = frozenset(IRI(c) for c in target_collections(version))
    worlds = []
    for party_facts, member in party_variants(facts):
        groups = frozenset({IRI(FEDERATION)}) if member else frozenset()
        worlds.append(
            StateOfTheWorld(
                now=now,
                facts={party: party_facts} if party_facts is not None else {},
                part_of={party: groups, IRI(target): asset_groups},
                deferred=ACCESS_TIME_OPERANDS,
            )
        )
    return worlds


def _request(facts: Facts, target: str, action: str) -> EvaluationRequest:
    return EvaluationRequest(ODRL[action], IRI(facts.did), IRI(target))


def _with_duties_done(
    policy: CompiledPolicy, req: EvaluationRequest, world: StateOfTheWorld
) -> StateOfTheWorld:
    report = evaluate(policy, req, world)
    records = tuple(
        DutyRecord(c.rule, REPORT.Performed, REPORT.Fulfilled)
        for r in report.rules
        for c in r.conditions
    )
    if not records:
        return world
    return StateOfTheWorld(
        now=world.now,
        part_of=world.part_of,
        facts=world.facts,
        duty_records=records,
        deferred=world.deferred,
    )


def may_see(version: PolicyVersion, facts: Facts, target: str, now: dt.datetime) -> bool:
    """Whether the access policy lets ``facts.did`` see ``target`` in the catalogue."""
    policy = compiled(version)
    for world in _worlds(facts, now, version, target):
        req = _request(facts, target, "use")
        if decide(policy, req, world) or decide(policy, req, _with_duties_done(policy, req, world)):
            return True
    return False


def contract_decision(
    version: PolicyVersion, facts: Facts, target: str, now: dt.datetime
) -> Decision:
    """Whether ``facts.did`` may get a contract on ``target`` under this policy version."""
    policy = compiled(version)
    last_report = None
    for plain in _worlds(facts, now, version, target):
        req = _request(facts, target, "use")
        report = evaluate(policy, req, _with_duties_done(policy, req, plain))
        if report.permitted:
            return Decision(True, explain(report, "en"), report_digest(report), version.hash)
        last_report = report
    if last_report is None:
        return Decision(False, "not permitted", policy_hash=version.hash)
    text = explain(last_report, "en")
    return Decision(False, text, report_digest(last_report), version.hash)
