"""The evaluation request: who wants to do what with which asset, plus declared parameters.

Read from RDF in the Formal Semantics vocabulary (``sotw:EvaluationRequest`` with
``requestedAction``/``requestingParty``/``requestedTarget`` — the CG draft's ``evaluated*``
spellings and the ``odrl-fs:`` namespace are accepted too — and ``requestParameter
[describesFeature F; value V]``), or as the older ``odrl:Request`` with one permission, as used
by the public ODRL test suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.errors import Invalid
from connector.policy.contexts import ContextLoader
from connector.policy.graph import Graph, is_node
from connector.policy.reader import Syntax, read_graph
from connector.policy.terms import IRI, ODRL, ODRL_FS, RDF, SOTW, Literal, Node, Term


@dataclass(frozen=True)
class EvaluationRequest:
    """An access request. ``parameters`` maps a feature (usually a left operand IRI) to values."""

    action: IRI | None
    party: IRI | None = None
    target: IRI | None = None
    parameters: Mapping[IRI, tuple[Term, ...]] = field(default_factory=dict)
    uid: Node | None = None
    """The request node (``report:policyRequest``)."""
    rule_uid: Node | None = None
    """For an ``odrl:Request``: its permission (``report:ruleRequest``)."""

    def with_parameter(self, feature: str, *values: Term) -> EvaluationRequest:
        """A copy with ``feature`` declared as ``values``."""
        params = dict(self.parameters)
        params[IRI(feature)] = tuple(values)
        return EvaluationRequest(
            self.action, self.party, self.target, params, self.uid, self.rule_uid
        )


_REQUEST_TYPES = (SOTW.EvaluationRequest, ODRL_FS.EvaluationRequest)
_ACTION = (
    SOTW.requestedAction,
    SOTW.evaluatedAction,
    ODRL_FS.requestedAction,
    ODRL_FS.evaluatedAction,
)
_PARTY = (
    SOTW.requestingParty,
    SOTW.evaluatedParty,
    ODRL_FS.requestingParty,
    ODRL_FS.evaluatedParty,
)
_TARGET = (
    SOTW.requestedTarget,
    SOTW.evaluatedTarget,
    ODRL_FS.requestedTarget,
    ODRL_FS.evaluatedTarget,
)
_PARAM = (SOTW.requestParameter, SOTW.requestParameters, ODRL_FS.requestParameter)
_FEATURE = (SOTW.describesFeature, ODRL_FS.describesFeature)
_VALUE = (SOTW.value, ODRL_FS.value, RDF.value)
_CONTEXT = (SOTW.context, ODRL_FS.context)


def parse_request(
    data: str | bytes | Mapping[str, Any] | list[Any] | Graph,
    syntax: Syntax | None = None,
    *,
    context_loader: ContextLoader | None = None,
    source: str = "request",
) -> EvaluationRequest:
    """Read exactly one evaluation request from RDF (either encoding)."""
    g = (
        data
        if isinstance(data, Graph)
        else read_graph(data, syntax, context_loader=context_loader, source=source)
    )
    nodes = [s for t in _REQUEST_TYPES for s in g.subjects(RDF.type, t)]
    if len(nodes) > 1:
        raise Invalid(f"{source}: more than one EvaluationRequest", reason="request_count")
    if nodes:
        return _evaluation_request(g, nodes[0], source)
    requests = g.subjects(RDF.type, ODRL.Request)
    if len(requests) != 1:
        raise Invalid(
            f"{source}: expected one sotw:EvaluationRequest or odrl:Request, found {len(requests)}",
            reason="request_count",
        )
    return _odrl_request(g, requests[0], source)


def _first_iri(g: Graph, node: Node, props: tuple[IRI, ...], source: str) -> IRI | None:
    for p in props:
        v = g.value(node, p)
        if v is not None:
            if not isinstance(v, IRI):
                raise Invalid(f"{source}: {p} must be an IRI (at {node})", reason="request_term")
            return v
    return None


def _evaluation_request(g: Graph, node: Node, source: str) -> EvaluationRequest:
    params: dict[IRI, list[Term]] = {}
    for p in _PARAM:
        for param in g.objects(node, p):
            if not is_node(param):
                raise Invalid(f"{source}: request parameter must be a node", reason="request_term")
            feature = _first_iri(g, param, _FEATURE, source)  # type: ignore[arg-type]
            if feature is None:
                raise Invalid(
                    f"{source}: request parameter without describesFeature (at {param})",
                    reason="request_term",
                )
            values = [v for vp in _VALUE for v in g.objects(param, vp)]  # type: ignore[arg-type]
            params.setdefault(feature, []).extend(values)
    for p in _CONTEXT:
        for ctx in g.objects(node, p):
            if is_node(ctx):
                _context_constraint(g, ctx, params)  # type: ignore[arg-type]
    return EvaluationRequest(
        action=_first_iri(g, node, _ACTION, source),
        party=_first_iri(g, node, _PARTY, source),
        target=_first_iri(g, node, _TARGET, source),
        parameters={k: tuple(v) for k, v in params.items()},
        uid=node,
    )


def _context_constraint(g: Graph, node: Node, params: dict[IRI, list[Term]]) -> None:
    left = g.value(node, ODRL.leftOperand)
    if isinstance(left, IRI):
        for v in g.objects(node, ODRL.rightOperand):
            params.setdefault(left, []).extend(g.items(v))


def _odrl_request(g: Graph, node: Node, source: str) -> EvaluationRequest:
    perms = g.objects(node, ODRL.permission)
    if len(perms) != 1 or not is_node(perms[0]):
        raise Invalid(
            f"{source}: an odrl:Request needs exactly one permission", reason="request_count"
        )
    perm: Node = perms[0]  # type: ignore[assignment]
    params: dict[IRI, list[Term]] = {}
    for c in g.objects(perm, ODRL.constraint):
        if is_node(c):
            _context_constraint(g, c, params)  # type: ignore[arg-type]
    action = g.value(perm, ODRL.action)
    if action is not None and not isinstance(action, IRI):
        value = g.value(action, RDF.value) if is_node(action) else None  # type: ignore[arg-type]
        action = value if isinstance(value, IRI) else None
    return EvaluationRequest(
        action=action,
        party=_first_iri(g, perm, (ODRL.assignee,), source),
        target=_first_iri(g, perm, (ODRL.target,), source),
        parameters={k: tuple(v) for k, v in params.items()},
        uid=node,
        rule_uid=perm,
    )


def literal(value: str, datatype: str) -> Literal:
    """Shorthand for building request parameter values."""
    return Literal(value, datatype)
