"""ODRL 2.2 policy engine: parse → validate → normalise → compile → evaluate → report/explain.

Pure and I/O-free. Typical use::

    policy = parse_policy(json_ld_or_turtle)
    compiled = compile_policy(policy, store=local_policies)      # validates, fails closed
    report = evaluate(compiled, request, world)                  # FORCE compliance report
    report.permitted, explain(report, "de"), to_turtle(report)

``decide(compiled, request, world)`` is the fast path when no report is needed.
"""

from __future__ import annotations

from connector.policy.contexts import PINNED_CONTEXTS, ContextLoader, pinned_loader
from connector.policy.evaluator import CompiledPolicy, compile_policy, decide, evaluate
from connector.policy.explain import Lang, explain_policy, explain_report
from connector.policy.graph import Graph
from connector.policy.model import (
    Action,
    Conflict,
    Constraint,
    Entity,
    LogicalConstraint,
    Policy,
    PolicyKind,
    Rule,
    RuleKind,
)
from connector.policy.normalize import NormalizedPolicy, PolicyStore, normalize
from connector.policy.operands import DEFAULT_OPERANDS, OperandRegistry, OperandSpec, Scope
from connector.policy.parser import parse_policies, parse_policy
from connector.policy.reader import read_graph
from connector.policy.report import (
    ComplianceReport,
    Outcome,
    PremiseKind,
    PremiseReport,
    RuleReport,
)
from connector.policy.request import EvaluationRequest, parse_request
from connector.policy.serialize import to_jsonld, to_jsonld_text, to_turtle
from connector.policy.terms import IRI, KK, ODRL, BNode, Literal
from connector.policy.validation import Problem, validate
from connector.policy.vocabulary import DEFAULT_VOCABULARY, Kind, Vocabulary
from connector.policy.world import DutyRecord, PerformedAction, StateOfTheWorld, parse_world


def explain(subject: ComplianceReport | Policy, lang: Lang = "de") -> str:
    """Explain a decision (a report) or a policy in plain German (``de``) or English (``en``)."""
    if isinstance(subject, ComplianceReport):
        return explain_report(subject, lang)
    return explain_policy(subject, lang)


def serialize(report: ComplianceReport, fmt: str = "turtle") -> str:
    """The report as ``turtle`` or ``json-ld`` text."""
    if fmt == "turtle":
        return to_turtle(report)
    if fmt in ("json-ld", "jsonld"):
        return to_jsonld_text(report)
    raise ValueError(f"unknown report format {fmt!r}")


__all__ = [
    "DEFAULT_OPERANDS",
    "DEFAULT_VOCABULARY",
    "IRI",
    "KK",
    "ODRL",
    "PINNED_CONTEXTS",
    "Action",
    "BNode",
    "CompiledPolicy",
    "ComplianceReport",
    "Conflict",
    "Constraint",
    "ContextLoader",
    "DutyRecord",
    "Entity",
    "EvaluationRequest",
    "Graph",
    "Kind",
    "Lang",
    "Literal",
    "LogicalConstraint",
    "NormalizedPolicy",
    "OperandRegistry",
    "OperandSpec",
    "Outcome",
    "PerformedAction",
    "Policy",
    "PolicyKind",
    "PolicyStore",
    "PremiseKind",
    "PremiseReport",
    "Problem",
    "Rule",
    "RuleKind",
    "RuleReport",
    "Scope",
    "StateOfTheWorld",
    "Vocabulary",
    "compile_policy",
    "decide",
    "evaluate",
    "explain",
    "explain_policy",
    "explain_report",
    "normalize",
    "parse_policies",
    "parse_policy",
    "parse_request",
    "parse_world",
    "pinned_loader",
    "read_graph",
    "serialize",
    "to_jsonld",
    "to_turtle",
    "validate",
]
