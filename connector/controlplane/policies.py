"""Policy versions and what the control plane derives from them: hashes, offers, compiled forms.

A :class:`PolicyVersion` is immutable: its ``hash`` is the SHA-256 of the RFC 8785 canonical
JSON of the stored document. A dataset's offer ``@id`` is derived from the dataset id and that
hash (:func:`offer_id`), so it is stable as long as the policy version is, and changes when
the policy changes. :func:`offer_rules` turns a stored ODRL JSON-LD policy into the rules of a
DSP offer (compact terms, no ``uid``/``target``/party attributes on rules, which the DSP
profile forbids); the decision itself is always taken on the stored policy version.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

from connector.dsp import terms
from connector.dsp.conversion import checked_offer_rules
from connector.errors import Invalid
from connector.policy import CompiledPolicy, compile_policy, parse_policy

_OFFER_NAMESPACE = uuid.UUID("0f5bd1b4-0b7e-4d55-9a5e-6b3c2e0c4a11")
_RULE_KEYS = ("permission", "prohibition", "obligation")


@dataclass(frozen=True)
class PolicyVersion:
    """One immutable version of a named policy."""

    id: str
    version: int
    hash: str
    uid: str | None
    body: Mapping[str, Any]


def policy_hash(body: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of a policy document."""
    try:
        canonical = rfc8785.dumps(dict(body))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise Invalid("the policy is not canonical JSON", reason="invalid_policy") from exc
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def offer_id(dataset_id: str, digest: str) -> str:
    """The offer ``@id`` of a dataset under one policy version (stable per version)."""
    return f"urn:uuid:{uuid.uuid5(_OFFER_NAMESPACE, dataset_id + '|' + digest)}"


def policy_node(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The policy node of a document (the node with rules, also inside an ``@graph``)."""
    graph = body.get("@graph")
    if isinstance(graph, list):
        for node in graph:
            if isinstance(node, Mapping) and any(k in node for k in _RULE_KEYS):
                return node
    return body


def policy_uid(body: Mapping[str, Any]) -> str | None:
    """The policy's own identifier (``uid`` or ``@id``), if it has one."""
    node = policy_node(body)
    uid = node.get("uid", node.get("@id"))
    return uid if isinstance(uid, str) else None


def _action(value: Any) -> Any:
    if isinstance(value, list) and value:
        return _action(value[0])
    if isinstance(value, Mapping):
        inner = value.get("rdf:value", value.get("value", value.get("@id")))
        if isinstance(inner, Mapping):
            inner = inner.get("@id")
        return inner if isinstance(inner, str) else "use"
    return value if isinstance(value, str) else "use"


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if k not in {"uid", "@type"}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _rule(rule: Any) -> dict[str, Any]:
    if not isinstance(rule, Mapping):
        raise Invalid("a policy rule must be an object", reason="invalid_policy")
    out: dict[str, Any] = {"action": _action(rule.get("action", "use"))}
    constraints = rule.get("constraint")
    if constraints:
        out["constraint"] = _clean(constraints if isinstance(constraints, list) else [constraints])
    duties = rule.get("duty")
    if duties:
        out["duty"] = [_rule(d) for d in (duties if isinstance(duties, list) else [duties])]
    return out


def offer_rules(body: Mapping[str, Any]) -> dict[str, Any]:
    """The DSP offer rules (``permission``/``prohibition``/``obligation``) of a policy."""
    rules: dict[str, Any] = {}
    body = policy_node(body)
    for key in _RULE_KEYS:
        items = body.get(key)
        if items:
            rules[key] = [_rule(r) for r in (items if isinstance(items, list) else [items])]
    if not rules.get("permission") and not rules.get("prohibition"):
        raise Invalid("a policy needs a permission or a prohibition", reason="invalid_policy")
    # The form the DSP codec reads back (``odrl:use`` → ``use``), so that a consumer echoing
    # the offer unchanged is recognised as unchanged.
    # Constraint operands in wire form (numbers and booleans as typed literals), checked
    # against the DSP offer shape, so that what is stored can always be published.
    return checked_offer_rules(terms.normalize(rules))


_COMPILED: dict[str, tuple[CompiledPolicy, frozenset[str]]] = {}
_COMPILED_MAX = 1024
_COMPILED_LOCK = threading.Lock()


def _parsed(canonical: bytes) -> tuple[CompiledPolicy, frozenset[str]]:
    policy = parse_policy(json.loads(canonical))
    collections: set[str] = set()
    todo = list(policy.rules)
    entities = list(policy.targets)
    while todo:
        rule = todo.pop()
        entities.extend(rule.targets)
        todo.extend((*rule.duties, *rule.remedies, *rule.consequences))
    for entity in entities:
        if entity.is_collection:
            collections.add(str(entity.iri))
            if entity.source is not None:
                collections.add(str(entity.source))
    return compile_policy(policy), frozenset(collections)


def _derived(version: PolicyVersion) -> tuple[CompiledPolicy, frozenset[str]]:
    """The compiled policy and target collections of a version, kept per version hash (the
    hash names the document; a version whose ``hash`` does not match its body is compiled
    every time and never kept, so the cache cannot mix two documents up)."""
    found = _COMPILED.get(version.hash)
    if found is not None:
        return found
    canonical = rfc8785.dumps(dict(version.body))
    derived = _parsed(canonical)
    if "sha256:" + hashlib.sha256(canonical).hexdigest() == version.hash:
        with _COMPILED_LOCK:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[version.hash] = derived
    return derived


def compiled(version: PolicyVersion) -> CompiledPolicy:
    """The compiled policy of a version (compiled once per hash, then kept)."""
    return _derived(version)[0]


def target_collections(version: PolicyVersion) -> frozenset[str]:
    """The asset collections the policy's rules name as targets (ids and sources).

    A policy is attached to a dataset, so that dataset is a member of each of them; whether
    a refinement on the collection (e.g. a geofence) holds is judged at each access.
    """
    return _derived(version)[1]


def check_policy(body: Mapping[str, Any]) -> None:
    """``Invalid`` unless ``body`` is an ODRL policy the engine can enforce."""
    if not isinstance(body, Mapping):
        raise Invalid("a policy must be a JSON object", reason="invalid_policy")
    compile_policy(parse_policy(dict(body)))
    offer_rules(body)
