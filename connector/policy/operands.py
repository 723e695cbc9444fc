"""Left operands: where each one's value comes from, in a small registry.

New operands (for example a dataspace membership credential) are added by registering an
:class:`OperandSpec` — the evaluator itself never names an operand. Resolvers return the raw
values (RDF terms or already-typed values); the evaluator reads terms in the operand's
:class:`~connector.policy.vocabulary.Kind` and treats an unreadable value as missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from connector.policy.request import EvaluationRequest
from connector.policy.terms import IRI, KK, ODRL, ODRL_FS, BNode, Literal, Node, Term
from connector.policy.values import Elapsed, Incomparable, coerce, parse_instant
from connector.policy.vocabulary import ODRL_LEFT_OPERANDS, Kind
from connector.policy.world import StateOfTheWorld


@dataclass(slots=True)
class Scope:
    """What a resolver may look at while one constraint is evaluated."""

    request: EvaluationRequest
    world: StateOfTheWorld
    policy: Node
    issued: dt.datetime | None
    rule: Node | None = None
    subject: Node | None = None
    """The asset or party a refinement is about (``None`` for rule constraints)."""
    parameters: Mapping[IRI, tuple[Term, ...]] | None = None
    """Overrides the request parameters (used when checking a performed action)."""

    def param(self, iri: IRI) -> tuple[Term, ...]:
        """Declared values for ``iri`` (request parameters or the override)."""
        params = self.parameters if self.parameters is not None else self.request.parameters
        return params.get(iri, ())


Resolver = Callable[[Scope], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class OperandSpec:
    """A left operand the engine can evaluate."""

    iri: IRI
    kind: Kind
    resolve: Resolver
    multi: bool = False
    declared: bool = False
    """Whether the value is declared by the requester (explanations say "declared … was")."""
    labels: Mapping[str, str] = field(default_factory=dict)


def _subject_then_param(iri: IRI) -> Resolver:
    def resolve(scope: Scope) -> tuple[Any, ...]:
        if scope.subject is not None:
            found = scope.world.fact(scope.subject, iri)
            if found:
                return found
        declared = scope.param(iri)
        if declared:
            return declared
        return scope.world.fact(scope.request.target, iri)

    return resolve


def _param_then_global(iri: IRI, global_prop: IRI | None = None) -> Resolver:
    def resolve(scope: Scope) -> tuple[Any, ...]:
        declared = scope.param(iri)
        if declared:
            return declared
        if global_prop is not None:
            return scope.world.globals.get(global_prop, ())
        return ()

    return resolve


def _now(scope: Scope) -> tuple[Any, ...]:
    return (scope.world.now,)


def _elapsed(scope: Scope) -> tuple[Any, ...]:
    if scope.issued is None:
        return ()
    return (Elapsed(scope.issued, scope.world.now),)


def _delay(scope: Scope) -> tuple[Any, ...]:
    declared = scope.param(ODRL.delayPeriod)
    return declared or _elapsed(scope)


def _keys(scope: Scope) -> Iterator[Node | None]:
    yield scope.rule
    yield scope.policy
    yield scope.request.target
    yield None


def _count(scope: Scope) -> tuple[Any, ...]:
    counts = scope.world.counts
    for key in _keys(scope):
        if key in counts:
            return (Decimal(counts[key] + 1),)
    return ()


def _metered(scope: Scope) -> tuple[Any, ...]:
    declared = scope.param(ODRL.meteredTime)
    if declared:
        return declared
    acc = scope.world.accumulated
    for key in _keys(scope):
        if key in acc:
            return (acc[key],)
    return ()


def _party_fact(iri: IRI) -> Resolver:
    def resolve(scope: Scope) -> tuple[Any, ...]:
        subject = scope.subject if scope.subject is not None else scope.request.party
        return scope.world.fact(subject, iri)

    return resolve


def _industry(scope: Scope) -> tuple[Any, ...]:
    return scope.param(ODRL.industry) or scope.world.fact(scope.request.party, ODRL.industry)


def _location_iri(scope: Scope) -> tuple[Any, ...]:
    declared = scope.param(ODRL.spatial)
    if declared:
        return declared
    here = scope.world.fact(
        scope.request.party, ODRL_FS.currentLocation
    ) or scope.world.globals.get(ODRL_FS.currentLocation, ())
    return tuple(v for v in here if not isinstance(v, Literal))


def _coordinates(scope: Scope) -> tuple[Any, ...]:
    if scope.subject is not None:
        found = scope.world.fact(scope.subject, ODRL.spatialCoordinates)
        if found:
            return found
    declared = scope.param(ODRL.spatialCoordinates)
    if declared:
        return declared
    found = scope.world.fact(scope.request.target, ODRL.spatialCoordinates)
    if found:
        return found
    here = scope.world.fact(
        scope.request.party, ODRL_FS.currentLocation
    ) or scope.world.globals.get(ODRL_FS.currentLocation, ())
    return tuple(v for v in here if isinstance(v, Literal))


def _requester(scope: Scope) -> tuple[Any, ...]:
    subject = scope.subject if scope.subject is not None else scope.request.party
    return (subject,) if subject is not None else ()


def _agreement_time(scope: Scope) -> tuple[Any, ...]:
    return _elapsed(scope)


def _labels(de: str, en: str) -> dict[str, str]:
    return {"de": de, "en": en}


def _builtin_specs() -> list[OperandSpec]:
    special: dict[IRI, tuple[Resolver, bool, dict[str, str]]] = {
        ODRL.dateTime: (_now, False, _labels("Zeitpunkt", "time")),
        ODRL.elapsedTime: (
            _elapsed,
            False,
            _labels("seit Vertragsschluss vergangene Zeit", "time since the agreement"),
        ),
        ODRL.delayPeriod: (_delay, False, _labels("Wartezeit", "delay")),
        ODRL.meteredTime: (_metered, False, _labels("genutzte Zeit", "metered time")),
        ODRL["count"]: (
            _count,
            False,
            _labels(
                "Anzahl der Zugriffe (inkl. diesem)", "number of accesses (including this one)"
            ),
        ),
        ODRL.purpose: (_param_then_global(ODRL.purpose), True, _labels("Zweck", "purpose")),
        ODRL.recipient: (
            _param_then_global(ODRL.recipient, ODRL_FS.recipient),
            True,
            _labels("Empfänger", "recipient"),
        ),
        ODRL.industry: (_industry, True, _labels("Branche", "industry")),
        ODRL.spatial: (_location_iri, True, _labels("Ort", "location")),
        ODRL.spatialCoordinates: (_coordinates, False, _labels("Koordinaten", "coordinates")),
        ODRL.payAmount: (
            _param_then_global(ODRL.payAmount, ODRL_FS.paidAmount),
            True,
            _labels("Betrag", "amount"),
        ),
        ODRL.event: (
            _param_then_global(ODRL.event, ODRL_FS.event),
            True,
            _labels("Ereignis", "event"),
        ),
    }
    specs: list[OperandSpec] = []
    for iri, info in ODRL_LEFT_OPERANDS.items():
        resolver, declared, labels = special.get(
            iri, (_subject_then_param(iri), True, _labels(iri[len(ODRL) :], iri[len(ODRL) :]))
        )
        specs.append(OperandSpec(iri, info.kind, resolver, info.multi, declared, labels))
    specs.extend(
        [
            OperandSpec(
                KK.requesterDid,
                Kind.IRI,
                _requester,
                False,
                False,
                _labels("DID des Anfragenden", "requester DID"),
            ),
            OperandSpec(
                KK.membershipCredentialType,
                Kind.IRI,
                _party_fact(KK.membershipCredentialType),
                True,
                False,
                _labels("Typ des Mitgliedsnachweises", "membership credential type"),
            ),
            OperandSpec(
                KK.membershipCredentialIssuer,
                Kind.IRI,
                _party_fact(KK.membershipCredentialIssuer),
                True,
                False,
                _labels("Aussteller des Mitgliedsnachweises", "membership credential issuer"),
            ),
            OperandSpec(
                KK.agreementAge,
                Kind.DURATION,
                _agreement_time,
                False,
                False,
                _labels("Zeit seit Vertragsschluss", "time since the agreement"),
            ),
            OperandSpec(
                KK.aggregationPeriod,
                Kind.DURATION,
                _param_then_global(KK.aggregationPeriod),
                False,
                True,
                _labels("Aggregationszeitraum", "aggregation period"),
            ),
            OperandSpec(
                KK.aggregationFunction,
                Kind.IRI,
                _param_then_global(KK.aggregationFunction),
                False,
                True,
                _labels("Aggregationsfunktion", "aggregation function"),
            ),
            OperandSpec(
                KK.kAnonymity,
                Kind.NUMBER,
                _param_then_global(KK.kAnonymity),
                False,
                True,
                _labels("k-Anonymität", "k-anonymity"),
            ),
        ]
    )
    return specs


class OperandRegistry:
    """An immutable set of operand specs; :meth:`register` returns an extended copy."""

    __slots__ = ("_specs",)

    def __init__(self, specs: Iterable[OperandSpec] = ()) -> None:
        self._specs: dict[IRI, OperandSpec] = {s.iri: s for s in specs}

    def register(self, *specs: OperandSpec) -> OperandRegistry:
        """A registry with ``specs`` added (replacing same-IRI entries)."""
        return OperandRegistry([*self._specs.values(), *specs])

    def get(self, iri: IRI) -> OperandSpec | None:
        """The spec for ``iri`` or ``None`` (unknown operand)."""
        return self._specs.get(iri)

    def __contains__(self, iri: object) -> bool:
        return iri in self._specs

    def __iter__(self) -> Iterator[OperandSpec]:
        return iter(self._specs.values())


DEFAULT_OPERANDS: Final = OperandRegistry(_builtin_specs())


_COERCED: dict[tuple[Any, Kind], Any] = {}
_COERCE_CACHE_SIZE: Final = 4096
_BAD: Final = object()


def _coerce_cached(value: Any, kind: Kind) -> Any:
    """Read a term in ``kind``; results are memoised (literals repeat across decisions)."""
    key = (value, kind)
    hit = _COERCED.get(key)
    if hit is None:
        try:
            hit = coerce(value, kind)
        except Incomparable:
            hit = _BAD
        if len(_COERCED) >= _COERCE_CACHE_SIZE:
            _COERCED.clear()
        _COERCED[key] = hit
    return hit


def typed_values(
    spec: OperandSpec, raw: tuple[Any, ...]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Split resolved values into ``(typed, unreadable)`` for the spec's kind."""
    typed: list[Any] = []
    bad: list[Any] = []
    kind = spec.kind
    for value in raw:
        if isinstance(value, (str, Literal)):
            term = value if isinstance(value, (Literal, IRI, BNode)) else IRI(value)
            converted = _coerce_cached(term, kind)
            if converted is _BAD:
                bad.append(value)
            else:
                typed.append(converted)
        else:
            typed.append(value)
    return tuple(typed), tuple(bad)


def instant(value: str) -> dt.datetime:
    """Parse an ``xsd:dateTime`` (helper for building states of the world)."""
    return parse_instant(value)
