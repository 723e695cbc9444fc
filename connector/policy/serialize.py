"""Write a compliance report as RDF in the FORCE vocabulary: Turtle or JSON-LD.

Report node IRIs are ``urn:uuid:`` values derived (UUIDv5) from the policy, request, evaluation
time and the node's position, so the same evaluation always serialises identically.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from connector.policy.constraints import term_of
from connector.policy.model import RuleKind
from connector.policy.report import ComplianceReport, PremiseReport, RuleReport
from connector.policy.terms import (
    DCT,
    IRI,
    KK,
    PREFIXES,
    RDF,
    REPORT,
    XSD,
    BNode,
    Literal,
    Node,
    Term,
    curie,
)
from connector.policy.values import instant_text, render

Triple = tuple[Node, IRI, Term]
_NS: Final = uuid.UUID("5b4b3d2e-8a53-4c1f-9a3e-6b1c2d0e7f41")

_RULE_TYPES: Final = {
    RuleKind.PERMISSION: (REPORT.PermissionReport,),
    RuleKind.PROHIBITION: (REPORT.ProhibitionReport,),
    RuleKind.OBLIGATION: (REPORT.ObligationReport, REPORT.DutyReport),
    RuleKind.DUTY: (REPORT.DutyReport,),
    RuleKind.REMEDY: (REPORT.DutyReport,),
    RuleKind.CONSEQUENCE: (REPORT.DutyReport,),
}
_NESTED_PROP: Final = {
    RuleKind.DUTY: REPORT.conditionReport,
    RuleKind.REMEDY: KK.remedyReport,
    RuleKind.CONSEQUENCE: KK.consequenceReport,
}


def report_triples(report: ComplianceReport) -> list[Triple]:
    """The report as a list of triples."""
    seed = f"{report.policy}|{report.request}|{report.created.isoformat()}"
    out: list[Triple] = []

    def node_id(path: str) -> IRI:
        return IRI(f"urn:uuid:{uuid.uuid5(_NS, seed + '|' + path)}")

    root = node_id("report")
    created = instant_text(report.created)
    out += [
        (root, RDF.type, REPORT.PolicyReport),
        (root, DCT.created, Literal(created, XSD.dateTime)),
        (root, REPORT.policy, report.policy),
        (root, KK.outcome, KK[report.outcome.value]),
    ]
    if report.request is not None:
        out.append((root, REPORT.policyRequest, report.request))
    if report.world is not None:
        out.append((root, KK.stateOfTheWorld, report.world))
    for i, rule in enumerate(report.rules):
        rid = node_id(f"rule{i}")
        out.append((root, REPORT.ruleReport, rid))
        _rule(rule, rid, f"rule{i}", node_id, out)
    return out


def _rule(rule: RuleReport, rid: IRI, path: str, node_id: Any, out: list[Triple]) -> None:
    for t in _RULE_TYPES[rule.kind]:
        out.append((rid, RDF.type, t))
    out.append((rid, REPORT.rule, rule.rule))
    if rule.rule_request is not None:
        out.append((rid, REPORT.ruleRequest, rule.rule_request))
    out.append((rid, REPORT.activationState, REPORT.Active if rule.active else REPORT.Inactive))
    if rule.attempted is not None:
        state = REPORT.Attempted if rule.attempted else REPORT.NotAttempted
        out.append((rid, REPORT.attemptState, state))
    if rule.performance is not None:
        out.append((rid, REPORT.performanceState, rule.performance))
    if rule.deontic is not None:
        out.append((rid, REPORT.deonticState, rule.deontic))
    if rule.overridden_by is not None:
        out.append((rid, KK.overriddenBy, KK[rule.overridden_by.value]))
    for j, premise in enumerate(rule.premises):
        pid = node_id(f"{path}.p{j}")
        out.append((rid, REPORT.premiseReport, pid))
        _premise(premise, pid, f"{path}.p{j}", node_id, out)
    for j, cond in enumerate(rule.conditions):
        cid = node_id(f"{path}.c{j}")
        out.append((rid, _NESTED_PROP.get(cond.kind, REPORT.conditionReport), cid))
        _rule(cond, cid, f"{path}.c{j}", node_id, out)


def _premise(p: PremiseReport, pid: IRI, path: str, node_id: Any, out: list[Triple]) -> None:
    out.append((pid, RDF.type, REPORT[p.kind.value]))
    state = REPORT.Satisfied if p.satisfied else REPORT.Unsatisfied
    out.append((pid, REPORT.satisfactionState, state))
    if p.constraint is not None:
        out.append((pid, REPORT.constraint, p.constraint))
    if p.logical is not None:
        out.append((pid, REPORT.constraintLogicalOperand, p.logical))
    if p.left_operand is not None:
        for v in p.left_values:
            term = term_of(v)
            if term is None:
                term = Literal(render(v), XSD.string)
            out.append((pid, REPORT.constraintLeftOperand, term))
    if p.operator is not None:
        out.append((pid, REPORT.constraintOperator, p.operator))
    for r in p.right_operands:
        out.append((pid, REPORT.constraintRightOperand, r))
    if p.requested is not None:
        out.append((pid, KK.requested, p.requested))
    for k, m in enumerate(p.members):
        mid = node_id(f"{path}.m{k}")
        out.append((pid, REPORT.premiseReport, mid))
        _premise(m, mid, f"{path}.m{k}", node_id, out)


# -- Turtle ------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def _ttl(term: Term) -> str:
    if isinstance(term, Literal):
        body = f'"{_escape(term.lexical)}"'
        if term.language:
            return f"{body}@{term.language}"
        if term.datatype == str(XSD.string):
            return body
        return f"{body}^^{_iri(IRI(term.datatype))}"
    if isinstance(term, BNode):
        return term
    return _iri(term)


def _iri(iri: str) -> str:
    short = curie(iri)
    local = short.split(":", 1)[-1]
    if short != iri and all(c.isalnum() or c in "_-." for c in local) and not short.endswith("."):
        return short
    return "<" + iri.replace(">", "%3E") + ">"


def to_turtle(report: ComplianceReport) -> str:
    """The report as Turtle."""
    triples = report_triples(report)
    lines = [f"@prefix {p}: <{ns}> ." for p, ns in PREFIXES.items()]
    lines.append("")
    by_subject: dict[Node, list[tuple[IRI, Term]]] = {}
    for s, p, o in triples:
        by_subject.setdefault(s, []).append((p, o))
    for s, pos in by_subject.items():
        parts = [f"{'a' if p == RDF.type else _iri(p)} {_ttl(o)}" for p, o in pos]
        lines.append(f"{_ttl(s)} " + " ;\n    ".join(parts) + " .")
    return "\n".join(lines) + "\n"


# -- JSON-LD -----------------------------------------------------------------------------------


def _json_term(term: Term) -> Any:
    if isinstance(term, Literal):
        if term.language:
            return {"@value": term.lexical, "@language": term.language}
        if term.datatype == str(XSD.string):
            return term.lexical
        return {"@value": term.lexical, "@type": curie(term.datatype)}
    return {"@id": curie(term) if not isinstance(term, BNode) else str(term)}


def to_jsonld(report: ComplianceReport) -> dict[str, Any]:
    """The report as a JSON-LD document (inline context, ``@graph`` of nodes)."""
    nodes: dict[Node, dict[str, Any]] = {}
    for s, p, o in report_triples(report):
        node = nodes.setdefault(s, {"@id": str(s)})
        if p == RDF.type:
            node.setdefault("@type", []).append(curie(str(o)))
            continue
        node.setdefault(curie(p), []).append(_json_term(o))
    context: dict[str, Any] = dict(PREFIXES)
    return {"@context": context, "@graph": list(nodes.values())}


def to_jsonld_text(report: ComplianceReport) -> str:
    """JSON-LD as indented text."""
    return json.dumps(to_jsonld(report), indent=2, ensure_ascii=False)
