"""The ODRL 2.2 vocabulary the engine knows: actions, left operands, operators, data types, units.

Anything not listed here (or registered through :mod:`connector.policy.operands` /
:class:`Vocabulary.with_actions`) is unknown and refused by validation — never skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from connector.policy.terms import CC, GEO, IRI, KK, ODRL, RDF, XSD


class Kind(Enum):
    """The value space a left operand lives in; decides which right operands are comparable."""

    INSTANT = "instant"
    DURATION = "duration"
    NUMBER = "number"
    IRI = "iri"
    STRING = "string"
    GEOMETRY = "geometry"
    BOOLEAN = "boolean"


# -- actions ----------------------------------------------------------------------------------

_INCLUDED_IN_USE = [
    "acceptTracking",
    "aggregate",
    "annotate",
    "anonymize",
    "archive",
    "attribute",
    "compensate",
    "concurrentUse",
    "delete",
    "derive",
    "digitize",
    "distribute",
    "ensureExclusivity",
    "execute",
    "grantUse",
    "include",
    "index",
    "inform",
    "install",
    "modify",
    "move",
    "nextPolicy",
    "obtainConsent",
    "play",
    "present",
    "print",
    "read",
    "reproduce",
    "reviewPolicy",
    "stream",
    "synchronize",
    "textToSpeech",
    "transform",
    "translate",
    "uninstall",
    "watermark",
]
_CC_ACTIONS = [
    "Attribution",
    "CommercialUse",
    "DerivativeWorks",
    "Distribution",
    "Notice",
    "Reproduction",
    "ShareAlike",
    "Sharing",
    "SourceCode",
]
# Deprecated ODRL 2.2 actions with an exact match (ODRL Vocabulary 2.2, section 4.4)
_EXACT_MATCH = {
    "append": ODRL.modify,
    "appendTo": ODRL.modify,
    "write": ODRL.modify,
    "writeTo": ODRL.modify,
    "copy": ODRL.reproduce,
    "export": ODRL.transform,
    "pay": ODRL.compensate,
    "license": ODRL.grantUse,
    "commercialize": CC.CommercialUse,
    "attachPolicy": CC.Notice,
    "attachSource": CC.SourceCode,
    "share": CC.Sharing,
    "shareAlike": CC.ShareAlike,
}
_DEPRECATED_STANDALONE = [
    "adHocShare",
    "extractChar",
    "extractPage",
    "extractWord",
    "lease",
    "lend",
    "preview",
    "secondaryUse",
]


def _odrl_actions() -> dict[IRI, tuple[IRI, ...]]:
    parents: dict[IRI, tuple[IRI, ...]] = {ODRL.use: (), ODRL.transfer: ()}
    for name in _INCLUDED_IN_USE:
        parents[ODRL[name]] = (ODRL.use,)
    parents[ODRL.display] = (ODRL.play,)
    parents[ODRL.extract] = (ODRL.reproduce,)
    parents[ODRL.give] = (ODRL.transfer,)
    parents[ODRL.sell] = (ODRL.transfer,)
    for name in _CC_ACTIONS:
        parents[CC[name]] = (ODRL.use,)
    for name, match in _EXACT_MATCH.items():
        parents[ODRL[name]] = (match,)
    for name in _DEPRECATED_STANDALONE:
        parents[ODRL[name]] = ()
    return parents


ODRL_ACTIONS: Final[Mapping[IRI, tuple[IRI, ...]]] = _odrl_actions()
"""Every known ODRL action with the actions it is directly included in (``odrl:includedIn``)."""


# -- left operands -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperandInfo:
    """Static facts about a left operand: its value space and whether it may be multi-valued."""

    iri: IRI
    kind: Kind
    multi: bool = False


def _operand_table() -> dict[IRI, OperandInfo]:
    table: dict[str, Kind] = {
        "absolutePosition": Kind.NUMBER,
        "absoluteSpatialPosition": Kind.IRI,
        "absoluteTemporalPosition": Kind.INSTANT,
        "absoluteSize": Kind.NUMBER,
        "count": Kind.NUMBER,
        "dateTime": Kind.INSTANT,
        "delayPeriod": Kind.DURATION,
        "deliveryChannel": Kind.IRI,
        "elapsedTime": Kind.DURATION,
        "event": Kind.IRI,
        "fileFormat": Kind.IRI,
        "industry": Kind.IRI,
        "language": Kind.STRING,
        "media": Kind.IRI,
        "meteredTime": Kind.DURATION,
        "payAmount": Kind.NUMBER,
        "percentage": Kind.NUMBER,
        "product": Kind.IRI,
        "purpose": Kind.IRI,
        "recipient": Kind.IRI,
        "relativePosition": Kind.NUMBER,
        "relativeSpatialPosition": Kind.NUMBER,
        "relativeTemporalPosition": Kind.NUMBER,
        "relativeSize": Kind.NUMBER,
        "resolution": Kind.NUMBER,
        "spatial": Kind.IRI,
        "spatialCoordinates": Kind.GEOMETRY,
        "systemDevice": Kind.IRI,
        "timeInterval": Kind.DURATION,
        "unitOfCount": Kind.IRI,
        "version": Kind.STRING,
        "virtualLocation": Kind.IRI,
    }
    return {ODRL[name]: OperandInfo(ODRL[name], kind) for name, kind in table.items()}


ODRL_LEFT_OPERANDS: Final[Mapping[IRI, OperandInfo]] = _operand_table()

# -- operators ---------------------------------------------------------------------------------

ORDERING_OPERATORS: Final = frozenset({ODRL.lt, ODRL.lteq, ODRL.gt, ODRL.gteq})
SINGLE_VALUE_OPERATORS: Final = frozenset({ODRL.eq, ODRL.neq, *ORDERING_OPERATORS})
SET_OPERATORS: Final = frozenset(
    {ODRL.isA, ODRL.hasPart, ODRL.isPartOf, ODRL.isAllOf, ODRL.isAnyOf, ODRL.isNoneOf}
)
OPERATORS: Final = SINGLE_VALUE_OPERATORS | SET_OPERATORS
LOGICAL_OPERATORS: Final = (ODRL["and"], ODRL["or"], ODRL.xone, ODRL.andSequence)

# -- data types and units ----------------------------------------------------------------------

INTEGER_TYPES: Final = frozenset(
    XSD[n]
    for n in [
        "integer",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "nonPositiveInteger",
        "positiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    ]
)
NUMERIC_TYPES: Final = INTEGER_TYPES | {XSD.decimal, XSD.double, XSD.float}
INSTANT_TYPES: Final = frozenset({XSD.dateTime, XSD.dateTimeStamp, XSD.date})
DURATION_TYPES: Final = frozenset({XSD.duration, XSD.dayTimeDuration, XSD.yearMonthDuration})
GEOMETRY_TYPES: Final = frozenset({GEO.wktLiteral, GEO.geoJSONLiteral, RDF.JSON})
STRING_TYPES: Final = frozenset({XSD.string, RDF.langString, XSD.token, XSD.normalizedString})
KNOWN_DATATYPES: Final = (
    NUMERIC_TYPES
    | INSTANT_TYPES
    | DURATION_TYPES
    | GEOMETRY_TYPES
    | STRING_TYPES
    | {XSD.boolean, XSD.anyURI, XSD.language}
)

KNOWN_UNITS: Final = frozenset(
    IRI(u)
    for u in (
        "http://dbpedia.org/resource/Euro",
        "https://dbpedia.org/resource/Euro",
        "http://dbpedia.org/resource/Percentage",
        "http://qudt.org/vocab/unit/EUR",
        "http://qudt.org/vocab/unit/PERCENT",
        "http://qudt.org/vocab/unit/SEC",
        "http://qudt.org/vocab/unit/MIN",
        "http://qudt.org/vocab/unit/HR",
        "http://qudt.org/vocab/unit/DAY",
        "http://qudt.org/vocab/unit/M",
        "http://qudt.org/vocab/unit/KiloM",
        "http://qudt.org/vocab/unit/NUM",
        str(KK.access),
        str(KK.record),
    )
)

POLICY_TYPES: Final = frozenset(
    {
        ODRL.Policy,
        ODRL.Set,
        ODRL.Offer,
        ODRL.Agreement,
        ODRL.Request,
        ODRL.Ticket,
        ODRL.Privacy,
        ODRL.Assertion,
    }
)
CONFLICT_TERMS: Final = frozenset({ODRL.perm, ODRL.prohibit, ODRL.invalid})


@dataclass(frozen=True)
class Vocabulary:
    """The set of terms a policy may use; extend it with project actions, units or data types."""

    actions: Mapping[IRI, tuple[IRI, ...]] = field(default_factory=lambda: dict(ODRL_ACTIONS))
    units: frozenset[IRI] = KNOWN_UNITS
    datatypes: frozenset[IRI] = KNOWN_DATATYPES

    def with_actions(self, parents: Mapping[IRI, Iterable[IRI]]) -> Vocabulary:
        """A vocabulary with additional actions (each with the actions it is included in)."""
        merged = dict(self.actions)
        for action, ps in parents.items():
            merged[IRI(action)] = tuple(IRI(p) for p in ps)
        return Vocabulary(merged, self.units, self.datatypes)

    def with_units(self, units: Iterable[str]) -> Vocabulary:
        """A vocabulary with additional unit IRIs."""
        return Vocabulary(self.actions, self.units | {IRI(u) for u in units}, self.datatypes)

    def ancestors(self, action: IRI) -> frozenset[IRI]:
        """``action`` and every action it is (transitively) included in."""
        seen: set[IRI] = set()
        todo = [action]
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            todo.extend(self.actions.get(cur, ()))
        return frozenset(seen)


DEFAULT_VOCABULARY: Final = Vocabulary()
