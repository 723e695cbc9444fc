"""Plain German and English explanations of policies and decisions.

``explain_report`` states the decision and its reasons ("Zugriff erlaubt, weil …" / "Denied
because constraint purpose isAnyOf [Energiemanagement] was not satisfied: declared purpose was
Marketing"); ``explain_policy`` describes what a policy allows, forbids and requires. The same
texts go into API error bodies and the UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from typing import Literal as TypingLiteral

from connector.policy.model import (
    Action,
    AnyConstraint,
    Constraint,
    Entity,
    LogicalConstraint,
    Policy,
    Rule,
)
from connector.policy.report import (
    ComplianceReport,
    Outcome,
    PremiseKind,
    PremiseReport,
    RuleReport,
)
from connector.policy.terms import IRI, ODRL, REPORT, Literal, Term, local_name
from connector.policy.values import render
from connector.policy.vocabulary import SET_OPERATORS

Lang = TypingLiteral["de", "en"]

_ACTION_DE: Final = {
    "use": "nutzen",
    "read": "lesen",
    "distribute": "weitergeben",
    "attribute": "Namensnennung",
    "delete": "löschen",
    "aggregate": "aggregieren",
    "reproduce": "vervielfältigen",
    "modify": "verändern",
    "derive": "ableiten",
    "transfer": "übertragen",
    "sell": "verkaufen",
    "compensate": "bezahlen",
    "inform": "informieren",
    "display": "anzeigen",
    "present": "präsentieren",
    "play": "abspielen",
    "print": "drucken",
    "write": "schreiben",
    "execute": "ausführen",
    "archive": "archivieren",
}
_OPERAND_DE: Final = {
    "purpose": "Zweck",
    "dateTime": "Zeitpunkt",
    "count": "Zugriffszahl",
    "spatial": "Ort",
    "spatialCoordinates": "Koordinaten",
    "recipient": "Empfänger",
    "industry": "Branche",
    "elapsedTime": "Laufzeit",
    "payAmount": "Betrag",
    "event": "Ereignis",
    "fileFormat": "Dateiformat",
    "language": "Sprache",
    "version": "Version",
    "deliveryChannel": "Lieferkanal",
    "percentage": "Anteil",
}
_T: Final[dict[str, dict[str, str]]] = {
    "permit": {"de": "Zugriff erlaubt, weil {why}.", "en": "Access permitted because {why}."},
    "deny": {"de": "Zugriff verweigert, weil {why}.", "en": "Denied because {why}."},
    "offer": {
        "de": "Keine Entscheidung: die Richtlinie {p} ist ein Angebot und erlaubt allein nichts.",
        "en": "Not evaluable: policy {p} is an offer (a proposal) and permits nothing by itself.",
    },
    "perm_applies": {"de": "die Erlaubnis {r} gilt", "en": "permission {r} applies"},
    "prohib_applies": {"de": "das Verbot {r} gilt", "en": "prohibition {r} applies"},
    "and": {"de": " und ", "en": " and "},
    "sat": {
        "de": "Bedingung {c} ist erfüllt ({v})",
        "en": "constraint {c} was satisfied ({v})",
    },
    "unsat": {
        "de": "die Bedingung {c} nicht erfüllt war: {v}",
        "en": "constraint {c} was not satisfied: {v}",
    },
    "declared": {"de": "als {o} angegeben war {v}", "en": "declared {o} was {v}"},
    "value": {"de": "{o} war {v}", "en": "{o} was {v}"},
    "none_declared": {"de": "es wurde kein Wert für {o} angegeben", "en": "no {o} was declared"},
    "none_known": {"de": "kein Wert für {o} bekannt", "en": "no value for {o} was known"},
    "deferred": {
        "de": "{o} wird bei jedem Zugriff geprüft",
        "en": "{o} is checked at every access",
    },
    "unreadable": {
        "de": "der Wert für {o} ({v}) ist nicht vergleichbar",
        "en": "the value of {o} ({v}) is not comparable",
    },
    "no_members": {
        "de": "keine ihrer Teilbedingungen erfüllt war ({m})",
        "en": "none of its members was satisfied ({m})",
    },
    "xone": {
        "de": "genau eine Teilbedingung erfüllt sein muss, es waren {n}",
        "en": "exactly one member must be satisfied, {n} were",
    },
    "action_mismatch": {
        "de": "die Aktion {a} nicht unter {e} fällt",
        "en": "action {a} is not covered by {e}",
    },
    "target_mismatch": {
        "de": "das Ziel {a} nicht {e} ist und nicht dazu gehört",
        "en": "target {a} is not {e} nor part of it",
    },
    "party_mismatch": {
        "de": "die Partei {a} nicht {e} ist und nicht dazu gehört",
        "en": "party {a} is not {e} nor a member of it",
    },
    "missing_request": {"de": "keine Angabe", "en": "none given"},
    "duty_open": {
        "de": "die Pflicht {d} nicht erfüllt ist ({s})",
        "en": "duty {d} has not been fulfilled ({s})",
    },
    "no_permission": {
        "de": "keine Erlaubnis der Richtlinie {p} die Anfrage abdeckt",
        "en": "no permission of policy {p} covers the request",
    },
    "conflict_invalid": {
        "de": "sich eine Erlaubnis und ein Verbot widersprechen und die Richtlinie daher "
        "ungültig ist (Konfliktregel invalid)",
        "en": "an active permission and an active prohibition conflict, which voids the policy "
        "(conflict strategy invalid)",
    },
    "conflict_prohibit": {
        "de": "das Verbot {r} Vorrang hat (Konfliktregel prohibit)",
        "en": "prohibition {r} takes precedence (conflict strategy prohibit)",
    },
    "obligation": {
        "de": " Offene Pflicht: {d} ({s}).",
        "en": " Open obligation: {d} ({s}).",
    },
}
_STATE: Final = {
    REPORT.Unknown: {"de": "kein Nachweis der Erfüllung", "en": "no record of performance"},
    REPORT.Unperformed: {"de": "nicht erfüllt", "en": "not performed"},
    REPORT.Performed: {"de": "erfüllt", "en": "performed"},
    REPORT.Violated: {"de": "verletzt", "en": "violated"},
    REPORT.NonSet: {"de": "offen", "en": "not set"},
    REPORT.Fulfilled: {"de": "erfüllt", "en": "fulfilled"},
}


class _Words:
    def __init__(self, lang: Lang, labels: Mapping[tuple[str, str], str]) -> None:
        self.lang = lang
        self.labels = labels

    def t(self, key: str, **kw: Any) -> str:
        return _T[key][self.lang].format(**kw)

    def label(self, term: Any) -> str:
        if term is None:
            return self.t("missing_request")
        text = str(term)
        for lang in (self.lang, ""):
            hit = self.labels.get((text, lang))
            if hit:
                return hit
        if isinstance(term, Literal):
            return term.lexical
        name = local_name(text)
        if self.lang == "de" and text.startswith(str(ODRL)):
            return _ACTION_DE.get(name, name)
        return name if text.startswith(("http", "urn:uuid")) else text

    def operand(self, iri: IRI | None) -> str:
        name = local_name(str(iri)) if iri else "?"
        if self.lang == "de":
            return _OPERAND_DE.get(name, name)
        return name

    def constraint_text(self, left: IRI | None, op: IRI | None, rights: tuple[Term, ...]) -> str:
        values = ", ".join(self.label(r) for r in rights)
        if op in SET_OPERATORS:
            values = f"[{values}]"
        return f"{local_name(str(left))} {local_name(str(op))} {values}"


def explain_report(report: ComplianceReport, lang: Lang = "de") -> str:
    """Why the decision in ``report`` was taken, in German or English."""
    w = _Words(lang, report.labels)
    if report.outcome is Outcome.NOT_APPLICABLE:
        return w.t("offer", p=w.label(report.policy))
    perms = [r for r in report.rules if r.kind.value == "permission"]
    prohibs = [r for r in report.rules if r.kind.value == "prohibition"]
    obligations = [r for r in report.rules if r.kind.value == "obligation"]
    tail = "".join(
        w.t("obligation", d=_duty_name(w, o), s=_STATE[o.deontic or REPORT.NonSet][lang])
        for o in obligations
        if o.active and o.deontic != REPORT.Fulfilled
    )
    if report.permitted:
        rule = next(r for r in perms if r.active)
        return (
            w.t("permit", why=w.t("perm_applies", r=_rule_name(w, rule)) + _because(w, rule)) + tail
        )
    active_prohib = next((r for r in prohibs if r.active), None)
    if active_prohib is not None:
        why = w.t("prohib_applies", r=_rule_name(w, active_prohib))
        return w.t("deny", why=why + _because(w, active_prohib)) + tail
    if any(r.overridden_by is not None for r in report.rules):
        loser = next(r for r in report.rules if r.overridden_by is not None)
        if loser.overridden_by is not None and loser.overridden_by.value == "prohibit":
            prohib = next((r for r in prohibs if r.overridden_by is None), prohibs[0])
            return w.t("deny", why=w.t("conflict_prohibit", r=_rule_name(w, prohib))) + tail
        return w.t("deny", why=w.t("conflict_invalid")) + tail
    reasons = _deny_reasons(w, perms)
    if not reasons:
        reasons = [w.t("no_permission", p=w.label(report.policy))]
    return w.t("deny", why=w.t("and").join(reasons)) + tail


def _rule_name(w: _Words, rule: RuleReport) -> str:
    if isinstance(rule.rule, IRI):
        return w.label(rule.rule)
    return f"({w.label(rule.action) if rule.action else '*'})"


def _duty_name(w: _Words, duty: RuleReport) -> str:
    return w.label(duty.action) if duty.action else w.label(duty.rule)


def _because(w: _Words, rule: RuleReport) -> str:
    parts = []
    for p in rule.premises:
        if p.kind is PremiseKind.CONSTRAINT:
            parts.append(_constraint_sentence(w, p, satisfied=True))
    for d in rule.conditions:
        if d.active and d.deontic == REPORT.Fulfilled:
            parts.append(f"{_duty_name(w, d)}: {_STATE[REPORT.Fulfilled][w.lang]}")
    return (": " + "; ".join(parts)) if parts else ""


def _deny_reasons(w: _Words, perms: list[RuleReport]) -> list[str]:
    """Reasons from the most relevant permission (action and target matched, if any)."""
    if not perms:
        return []

    def relevance(r: RuleReport) -> int:
        return sum(1 for p in r.premises if p.kind is not PremiseKind.CONSTRAINT and p.satisfied)

    best = max(perms, key=relevance)
    reasons: list[str] = []
    for p in best.premises:
        if p.satisfied:
            continue
        if p.kind is PremiseKind.CONSTRAINT:
            reasons.append(_constraint_sentence(w, p, satisfied=False))
        else:
            key = {
                PremiseKind.ACTION: "action_mismatch",
                PremiseKind.TARGET: "target_mismatch",
                PremiseKind.PARTY: "party_mismatch",
            }[p.kind]
            bad_ref = [m for m in p.members if not m.satisfied]
            if bad_ref and (p.requested is not None):
                reasons.extend(_constraint_sentence(w, m, satisfied=False) for m in bad_ref)
            else:
                reasons.append(w.t(key, a=w.label(p.requested), e=w.label(p.expected)))
    for d in best.conditions:
        if d.active and d.deontic != REPORT.Fulfilled:
            state = _STATE[d.performance or REPORT.Unknown][w.lang]
            reasons.append(w.t("duty_open", d=_duty_name(w, d), s=state))
    return reasons


def _constraint_sentence(w: _Words, p: PremiseReport, *, satisfied: bool) -> str:
    if p.logical is not None:
        name = local_name(str(p.logical))
        failed = [m for m in p.members if not m.satisfied]
        if satisfied:
            inner = "; ".join(
                _constraint_sentence(w, m, satisfied=True) for m in p.members if m.satisfied
            )
            return f"{name}({inner})"
        if name == "xone":
            return w.t("unsat", c=name, v=w.t("xone", n=sum(m.satisfied for m in p.members)))
        if name == "or":
            inner = "; ".join(_constraint_sentence(w, m, satisfied=False) for m in failed[:3])
            return w.t("unsat", c=name, v=w.t("no_members", m=inner))
        return "; ".join(_constraint_sentence(w, m, satisfied=False) for m in failed)
    text = w.constraint_text(p.left_operand, p.operator, p.right_operands)
    operand = w.operand(p.left_operand)
    if p.note == "deferred":
        value = w.t("deferred", o=operand)
    elif p.note == "missing":
        value = w.t("none_declared" if p.declared else "none_known", o=operand)
    elif p.note == "unreadable":
        value = w.t("unreadable", o=operand, v=", ".join(w.label(v) for v in p.left_values))
    else:
        shown = ", ".join(
            w.label(v) if isinstance(v, (IRI, Literal, str)) else render(v) for v in p.left_values
        )
        value = w.t("declared" if p.declared else "value", o=operand, v=shown)
    return w.t("sat" if satisfied else "unsat", c=text, v=value)


# -- policies ----------------------------------------------------------------------------------

_P: Final[dict[str, dict[str, str]]] = {
    "head": {"de": "Richtlinie {p} ({k}):", "en": "Policy {p} ({k}):"},
    "permission": {"de": "Erlaubt: {s}", "en": "Permitted: {s}"},
    "prohibition": {"de": "Verboten: {s}", "en": "Prohibited: {s}"},
    "obligation": {"de": "Pflicht: {s}", "en": "Obligation: {s}"},
    "duty": {"de": "vorher zu erfüllen: {s}", "en": "to be fulfilled first: {s}"},
    "remedy": {"de": "bei Verstoß: {s}", "en": "if violated: {s}"},
    "anyone": {"de": "jede Partei", "en": "any party"},
    "anything": {"de": "jedes Ziel", "en": "any target"},
    "any_action": {"de": "jede Aktion", "en": "any action"},
    "on": {"de": "auf", "en": "on"},
    "for": {"de": "für", "en": "for"},
    "when": {"de": "wenn", "en": "if"},
    "conflict": {"de": "Konfliktregel: {c}", "en": "Conflict strategy: {c}"},
    "inherits": {"de": "erbt von: {p}", "en": "inherits from: {p}"},
}


def explain_policy(policy: Policy, lang: Lang = "de") -> str:
    """What ``policy`` permits, prohibits and requires, as plain text (one line per rule)."""
    labels = {(str(i), la): t for i, la, t in policy.labels}
    w = _Words(lang, labels)

    def p(key: str, **kw: Any) -> str:
        return _P[key][lang].format(**kw)

    lines = [p("head", p=policy.title or w.label(policy.uid), k=policy.kind.value)]
    if policy.description:
        lines.append(f"  {policy.description}")
    for rule in policy.rules:
        lines.append("  - " + p(rule.kind.value, s=_rule_text(w, rule, policy, p)))
        for d in rule.duties:
            lines.append("      " + p("duty", s=_rule_text(w, d, policy, p)))
        for d in rule.remedies:
            lines.append("      " + p("remedy", s=_rule_text(w, d, policy, p)))
    if policy.conflict is not None:
        lines.append("  " + p("conflict", c=policy.conflict.value))
    if policy.inherit_from:
        lines.append("  " + p("inherits", p=", ".join(w.label(x) for x in policy.inherit_from)))
    return "\n".join(lines)


def _rule_text(w: _Words, rule: Rule, policy: Policy, p: Any) -> str:
    actions = rule.actions or policy.actions
    targets = rule.targets or policy.targets
    assignees = rule.assignees or policy.assignees
    text = _join(w, [_action_text(w, a) for a in actions]) if actions else p("any_action")
    text += f" {p('on')} " + (
        _join(w, [_entity_text(w, e) for e in targets]) if targets else p("anything")
    )
    if rule.kind.value in ("permission", "prohibition"):
        who = _join(w, [_entity_text(w, e) for e in assignees]) if assignees else p("anyone")
        text += f" {p('for')} {who}"
    if rule.constraints:
        text += f" {p('when')} " + _join(w, [_c_text(w, c) for c in rule.constraints])
    return text


def _join(w: _Words, parts: list[str]) -> str:
    return w.t("and").join(parts)


def _action_text(w: _Words, a: Action) -> str:
    base = w.label(a.iri)
    if a.refinements:
        base += " (" + _join(w, [_c_text(w, c) for c in a.refinements]) + ")"
    return base


def _entity_text(w: _Words, e: Entity) -> str:
    base = w.label(e.iri)
    if e.refinements:
        base += " (" + _join(w, [_c_text(w, c) for c in e.refinements]) + ")"
    return base


def _c_text(w: _Words, c: AnyConstraint) -> str:
    if isinstance(c, LogicalConstraint):
        return f"{local_name(c.operator)}(" + "; ".join(_c_text(w, m) for m in c.members) + ")"
    assert isinstance(c, Constraint)
    return w.constraint_text(c.left_operand, c.operator, c.right_operands)
