"""The agreement's policy as the data plane needs it: compiled, and what shaping it asks for.

``agreement_document`` turns an :class:`~connector.model.Agreement` and the stored policy
version it was made from into an ``odrl:Agreement`` with its ``uid``, ``target``, parties and
``dct:issued`` (the start of agreement-relative time such as ``elapsedTime``). ``shaping``
finds the constraints that the data plane must honour while streaming: the aggregation
operands (``kk:aggregationPeriod``/``kk:aggregationFunction``/``kk:kAnonymity``) and geofence
polygons (``spatialCoordinates isPartOf/isWithin <polygon>``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connector.clock import utc_isoformat
from connector.model import Agreement
from connector.policy import CompiledPolicy, compile_policy, parse_policy
from connector.policy.geometry import parse_geometry
from connector.policy.model import Constraint, LogicalConstraint, Policy, Rule
from connector.policy.terms import KK, ODRL, Literal

ODRL_NS = "http://www.w3.org/ns/odrl/2/"
_PREFIXES = {
    "kk": "https://w3id.org/klimakommune/policy#",
    "dct": "http://purl.org/dc/terms/",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_AGGREGATION = frozenset({KK.aggregationPeriod, KK.aggregationFunction, KK.kAnonymity})
_SPATIAL_OPERATORS = frozenset({ODRL.isPartOf, ODRL.isA, ODRL["isWithin"]})


_POLICY_TYPES = frozenset(
    {
        "Set",
        "Policy",
        "Offer",
        "Agreement",
        "odrl:Set",
        "odrl:Policy",
        "odrl:Offer",
        "odrl:Agreement",
        ODRL_NS + "Set",
        ODRL_NS + "Policy",
        ODRL_NS + "Offer",
        ODRL_NS + "Agreement",
    }
)


def _is_policy_node(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    kinds = node.get("@type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(k in _POLICY_TYPES for k in kinds) or any(
        k in node for k in ("permission", "prohibition", "obligation")
    )


def _as_agreement(node: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    body = {k: v for k, v in node.items() if k not in ("@id", "uid", "@type", "@context")}
    body.update(
        {
            "@id": agreement.id,
            "@type": ODRL_NS + "Agreement",
            ODRL_NS + "target": {"@id": agreement.target},
            ODRL_NS + "assigner": {"@id": agreement.assigner},
            ODRL_NS + "assignee": {"@id": agreement.assignee},
            "http://purl.org/dc/terms/issued": {
                "@value": utc_isoformat(agreement.timestamp),
                "@type": "http://www.w3.org/2001/XMLSchema#dateTime",
            },
        }
    )
    return body


def agreement_document(
    agreement: Agreement, stored: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The agreed policy as a JSON-LD ``odrl:Agreement``: the stored policy version the
    offer was made from (``stored``; with its refinements, targets and parties), else the
    agreement's own rules. Policy-level target and parties are the agreement's."""
    source = dict(stored) if stored is not None else dict(agreement.policy)
    context = source.get("@context") or ["http://www.w3.org/ns/odrl.jsonld", _PREFIXES]
    graph = source.get("@graph")
    if isinstance(graph, list):
        nodes = [_as_agreement(n, agreement) if _is_policy_node(n) else n for n in graph]
        return {"@context": context, "@graph": nodes}
    return {"@context": context, **_as_agreement(source, agreement)}


@dataclass(frozen=True)
class AgreementPolicy:
    """A compiled agreement and the shaping it requires."""

    policy: Policy
    compiled: CompiledPolicy
    wants_aggregation: bool
    geofences: tuple[Any, ...]
    """Shapely geometries; rows must lie inside every one of them."""
    geofence_collections: tuple[str, ...]
    """The asset collections (``source``) the geofence rules apply to."""


def _constraints(items: Iterable[Constraint | LogicalConstraint]) -> Iterator[Constraint]:
    for item in items:
        if isinstance(item, LogicalConstraint):
            yield from _constraints(item.members)
        else:
            yield item


def _rules(policy: Policy) -> Iterator[Rule]:
    todo = list(policy.rules)
    while todo:
        rule = todo.pop()
        yield rule
        todo.extend(rule.duties + rule.remedies + rule.consequences)


def _analyse(policy: Policy) -> tuple[bool, tuple[Any, ...], tuple[str, ...]]:
    aggregation = False
    fences: list[Any] = []
    collections: list[str] = []
    for rule in _rules(policy):
        found: list[Constraint] = list(_constraints(rule.constraints))
        for action in (*rule.actions, *policy.actions):
            found.extend(_constraints(action.refinements))
        for entity in rule.targets:
            for constraint in _constraints(entity.refinements):
                if constraint.left_operand == ODRL.spatialCoordinates:
                    if entity.source is not None:
                        collections.append(str(entity.source))
                    collections.append(str(entity.iri))
            found.extend(_constraints(entity.refinements))
        for constraint in found:
            if constraint.left_operand in _AGGREGATION:
                aggregation = True
            if (
                constraint.left_operand == ODRL.spatialCoordinates
                and constraint.operator in _SPATIAL_OPERATORS
            ):
                for value in constraint.right_operands:
                    if isinstance(value, Literal):
                        fences.append(parse_geometry(value.lexical))
    return aggregation, tuple(fences), tuple(dict.fromkeys(collections))


class AgreementPolicies:
    """Compiled agreement policies, cached by agreement id and policy content."""

    def __init__(self, size: int = 512) -> None:
        self._cache: OrderedDict[tuple[str, str], AgreementPolicy] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, agreement: Agreement, stored: Mapping[str, Any] | None = None) -> AgreementPolicy:
        """Parse, compile and analyse (once per agreement and policy version)."""
        key = (agreement.id, agreement.policy_hash or repr(sorted(agreement.policy.items())))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        document = agreement_document(agreement, stored)
        policy = parse_policy(document, source=f"agreement {agreement.id}")
        compiled = compile_policy(policy)
        aggregation, fences, collections = _analyse(policy)
        value = AgreementPolicy(policy, compiled, aggregation, fences, collections)
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return value
