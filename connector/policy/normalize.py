"""Normalisation: inheritance, compact → atomic rules, the effective conflict strategy.

* ``inheritFrom`` parents come from a local policy store passed in (a mapping or a callable);
  a missing parent or a cycle is an error. Inherited rules keep their own IRIs and the IRI of
  the policy they were written in.
* Policy-level ``action``/``target``/``assignee``/``assigner`` are copied into every rule that
  does not state its own (ODRL IM 2.7.1); rules with several actions, targets or assignees are
  split into atomic rules (same rule IRI).
* If the child and its parents state different conflict strategies, ``invalid`` applies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from connector.errors import Invalid
from connector.policy.model import Action, Conflict, Entity, Policy, PolicyKind, Rule
from connector.policy.terms import Literal, Node

PolicyStore = Mapping[str, Policy] | Callable[[str], Policy | None]


@dataclass(frozen=True, slots=True)
class NormalizedPolicy:
    """A policy ready for compilation: atomic rules, inheritance resolved."""

    uid: Node
    kind: PolicyKind
    conflict: Conflict
    permissions: tuple[Rule, ...]
    prohibitions: tuple[Rule, ...]
    obligations: tuple[Rule, ...]
    issued: Literal | None
    labels: tuple[tuple[str, str, str], ...]
    source: Policy

    @property
    def rules(self) -> tuple[Rule, ...]:
        """All top-level rules."""
        return self.permissions + self.prohibitions + self.obligations


def _lookup(store: PolicyStore | None, uid: str) -> Policy | None:
    if store is None:
        return None
    if callable(store):
        return store(uid)
    return store.get(uid)


def normalize(policy: Policy, store: PolicyStore | None = None) -> NormalizedPolicy:
    """Resolve inheritance and atomize ``policy``."""
    chain = _resolve(policy, store, ())
    conflicts = {p.conflict for p in chain if p.conflict is not None}
    conflict = conflicts.pop() if len(conflicts) == 1 else Conflict.INVALID
    perms: list[Rule] = []
    prohibs: list[Rule] = []
    obligs: list[Rule] = []
    seen: set[Node] = set()
    for p in chain:
        if p.uid in seen:
            continue
        seen.add(p.uid)
        perms.extend(r for rule in p.permissions for r in _atoms(_compact(rule, p)))
        prohibs.extend(r for rule in p.prohibitions for r in _atoms(_compact(rule, p)))
        obligs.extend(r for rule in p.obligations for r in _atoms(_compact(rule, p)))
    return NormalizedPolicy(
        uid=policy.uid,
        kind=policy.kind,
        conflict=conflict,
        permissions=tuple(perms),
        prohibitions=tuple(prohibs),
        obligations=tuple(obligs),
        issued=policy.issued,
        labels=tuple(lab for p in chain for lab in p.labels),
        source=policy,
    )


def _resolve(policy: Policy, store: PolicyStore | None, stack: tuple[str, ...]) -> list[Policy]:
    uid = str(policy.uid)
    if uid in stack:
        cycle = " -> ".join((*stack, uid))
        raise Invalid(f"inheritFrom cycle: {cycle}", reason="policy_inheritance_cycle")
    chain = [policy]
    for parent_uid in policy.inherit_from:
        parent = _lookup(store, str(parent_uid))
        if parent is None:
            raise Invalid(
                f"policy {uid} inherits from {parent_uid}, which is not in the policy store",
                reason="policy_parent_missing",
            )
        chain.extend(_resolve(parent, store, (*stack, uid)))
    return chain


def _compact(rule: Rule, policy: Policy) -> Rule:
    """Copy the policy-level properties into a rule that lacks them."""
    return replace(
        rule,
        actions=rule.actions or policy.actions,
        targets=rule.targets or policy.targets,
        assignees=rule.assignees or policy.assignees,
        assigners=rule.assigners or policy.assigners,
        duties=tuple(_with_target(d, rule.targets or policy.targets) for d in rule.duties),
        remedies=tuple(_with_target(d, rule.targets or policy.targets) for d in rule.remedies),
    )


def _with_target(duty: Rule, targets: tuple[Entity, ...]) -> Rule:
    return replace(duty, targets=duty.targets or targets)


def _atoms(rule: Rule) -> list[Rule]:
    """Split a rule into one rule per (action, target, assignee) combination."""
    actions: tuple[Action | None, ...] = rule.actions or (None,)
    targets: tuple[Entity | None, ...] = rule.targets or (None,)
    assignees: tuple[Entity | None, ...] = rule.assignees or (None,)
    duties = tuple(a for d in rule.duties for a in _atoms(d))
    remedies = tuple(a for d in rule.remedies for a in _atoms(d))
    consequences = tuple(a for d in rule.consequences for a in _atoms(d))
    out = []
    for action, target, assignee in itertools.product(actions, targets, assignees):
        out.append(
            replace(
                rule,
                actions=(action,) if action else (),
                targets=(target,) if target else (),
                assignees=(assignee,) if assignee else (),
                duties=duties,
                remedies=remedies,
                consequences=consequences,
            )
        )
    return out
