"""The 12 operators, logical constraints and value-space decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connector.policy import StateOfTheWorld, compile_policy, decide, evaluate, parse_policy
from connector.policy.terms import IRI, KK, ODRL, RDFS, XSD, Literal

from .conftest import jsonld_policy, request

T = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _permits(
    constraint: dict[str, Any],
    now: dt.datetime = T,
    world_kw: dict[str, Any] | None = None,
    **params: Any,
) -> bool:
    policy = compile_policy(
        parse_policy(jsonld_policy({"permission": [{"action": "use", "constraint": [constraint]}]}))
    )
    w = StateOfTheWorld(now=now, **(world_kw or {}))
    req = request(**params)
    fast = decide(policy, req, w)
    full = evaluate(policy, req, w).permitted
    assert fast == full
    return full


def _c(left: str, op: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


DT = lambda v: {"@value": v, "@type": "xsd:dateTime"}  # noqa: E731
DATE = lambda v: {"@value": v, "@type": "xsd:date"}  # noqa: E731
DUR = lambda v: {"@value": v, "@type": "xsd:duration"}  # noqa: E731


@pytest.mark.parametrize(
    ("op", "right", "expected"),
    [
        ("eq", DT("2026-06-01T12:00:00Z"), True),
        ("eq", DT("2026-06-01T14:00:00+02:00"), True),  # same instant, other zone
        ("neq", DT("2026-06-01T14:00:00+02:00"), False),
        ("lt", DT("2026-06-01T12:00:01Z"), True),
        ("lteq", DT("2026-06-01T12:00:00Z"), True),
        ("gt", DT("2026-06-01T11:59:59Z"), True),
        ("gteq", DT("2026-06-01T12:00:01Z"), False),
        ("isAnyOf", [DT("2020-01-01T00:00:00Z"), DT("2026-06-01T12:00:00Z")], True),
        ("isNoneOf", [DT("2020-01-01T00:00:00Z")], True),
        # an xsd:date is the whole day
        ("eq", DATE("2026-06-01"), True),
        ("lt", DATE("2026-06-01"), False),
        ("lteq", DATE("2026-06-01"), True),
        ("gt", DATE("2026-05-31"), True),
        ("gt", DATE("2026-06-01"), False),
        ("gteq", DATE("2026-06-01"), True),
        ("neq", DATE("2026-06-01"), False),
        ("lteq", DATE("2026-06-01+14:00"), False),  # that day ended at 10:00 UTC
    ],
)
def test_datetime_comparisons(op: str, right: Any, expected: bool) -> None:
    assert _permits(_c("dateTime", op, right)) is expected


def test_timezone_free_values_are_utc() -> None:
    assert _permits(_c("dateTime", "eq", DT("2026-06-01T12:00:00")))


@pytest.mark.parametrize(
    ("op", "right", "declared", "expected"),
    [
        ("eq", 5, "5", True),
        ("eq", 5, "5.0", True),
        ("lt", 5, "4.99", True),
        ("gteq", {"@value": "2.5", "@type": "xsd:decimal"}, "2.5", True),
        ("gt", {"@value": "1e1", "@type": "xsd:double"}, "10.5", True),
        ("neq", 5, "5", False),
    ],
)
def test_numbers(op: str, right: Any, declared: str, expected: bool) -> None:
    value = Literal(declared, XSD.decimal)
    assert _permits(_c("payAmount", op, right), payAmount=value) is expected


def test_missing_or_unreadable_value_never_satisfies() -> None:
    assert not _permits(_c("purpose", "neq", {"@id": "urn:bad"}))
    assert not _permits(_c("purpose", "isNoneOf", [{"@id": "urn:bad"}]))
    assert not _permits(_c("payAmount", "neq", 3), payAmount=Literal("abc", XSD.string))
    assert not _permits(_c("payAmount", "lt", 3), payAmount=Literal("2024-01-01", XSD.date))


def test_set_operators_on_iris() -> None:
    p = KK.Energiemanagement
    assert _permits(_c("purpose", "isAnyOf", [{"@id": str(p)}, {"@id": "urn:x"}]), purpose=p)
    assert not _permits(_c("purpose", "isAnyOf", [{"@id": "urn:x"}]), purpose=p)
    assert _permits(_c("purpose", "isNoneOf", [{"@id": "urn:x"}]), purpose=p)
    assert not _permits(_c("purpose", "isNoneOf", [{"@id": str(p)}]), purpose=p)
    assert _permits(_c("purpose", "isAllOf", [{"@id": str(p)}]), purpose=p)
    # two declared purposes: every one must be allowed
    assert not _permits(
        _c("purpose", "isAnyOf", [{"@id": str(p)}]), purpose=(p, IRI("urn:marketing"))
    )


def test_isa_uses_the_subclass_closure_and_isanyof_does_not() -> None:
    world = {
        "broader": {
            IRI("urn:heating"): frozenset({KK.Energiemanagement}),
            KK.Energiemanagement: frozenset({IRI("urn:climate")}),
        }
    }
    isa = _c("purpose", "isA", {"@id": "urn:climate"})
    assert _permits(isa, world_kw=world, purpose=IRI("urn:heating"))
    assert not _permits(isa, world_kw=world, purpose=IRI("urn:other"))
    anyof = _c("purpose", "isAnyOf", [{"@id": "urn:climate"}])
    assert not _permits(anyof, world_kw=world, purpose=IRI("urn:heating"))


def test_ispartof_and_haspart_on_iris_use_partof() -> None:
    world = {
        "part_of": {
            IRI("urn:hagen"): frozenset({IRI("urn:nrw")}),
            IRI("urn:nrw"): frozenset({IRI("urn:de")}),
        }
    }
    assert _permits(
        _c("spatial", "isPartOf", {"@id": "urn:de"}), world_kw=world, spatial=IRI("urn:hagen")
    )
    assert not _permits(
        _c("spatial", "isPartOf", {"@id": "urn:fr"}), world_kw=world, spatial=IRI("urn:hagen")
    )
    assert _permits(
        _c("spatial", "hasPart", {"@id": "urn:hagen"}), world_kw=world, spatial=IRI("urn:de")
    )


SQUARE = {"@value": "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))", "@type": "geo:wktLiteral"}


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("POINT(5 5)", True),
        ("POINT(10 5)", True),  # on the border: inside
        ("POINT(0 0)", True),  # a corner
        ("POINT(10.000001 5)", False),
        ("POINT(11 11)", False),
    ],
)
def test_polygon_containment_is_exact_and_closed(point: str, expected: bool) -> None:
    value = Literal(point, "http://www.opengis.net/ont/geosparql#wktLiteral")
    assert (
        _permits(_c("spatialCoordinates", "isPartOf", SQUARE), spatialCoordinates=value) is expected
    )


def test_concave_polygon_is_not_a_bounding_box() -> None:
    u_shape = {
        "@value": "POLYGON((0 0, 10 0, 10 10, 7 10, 7 3, 3 3, 3 10, 0 10, 0 0))",
        "@type": "geo:wktLiteral",
    }
    inside_box_outside_shape = Literal(
        "POINT(5 8)", "http://www.opengis.net/ont/geosparql#wktLiteral"
    )
    assert not _permits(
        _c("spatialCoordinates", "isPartOf", u_shape), spatialCoordinates=inside_box_outside_shape
    )


def test_geojson_polygon() -> None:
    geojson = '{"type": "Polygon", "coordinates": [[[0,0],[10,0],[10,10],[0,10],[0,0]]]}'
    right = {"@value": geojson, "@type": "geo:geoJSONLiteral"}
    point = Literal(
        '{"type": "Point", "coordinates": [1, 1]}',
        "http://www.opengis.net/ont/geosparql#geoJSONLiteral",
    )
    assert _permits(_c("spatialCoordinates", "isPartOf", right), spatialCoordinates=point)


@pytest.mark.parametrize(
    ("op", "right", "elapsed_days", "expected"),
    [
        ("lteq", "P30D", 30, True),
        ("lteq", "P30D", 31, False),
        ("lt", "P1M", 29, True),  # issued 2026-05-01 + P1M = 2026-06-01
        ("lteq", "P1M", 31, True),
        ("gt", "P1M", 31, False),
        ("lt", "PT720H", 29, True),
    ],
)
def test_elapsed_time_counts_from_the_agreement(
    op: str, right: str, elapsed_days: int, expected: bool
) -> None:
    issued = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    doc = jsonld_policy(
        {
            "@type": "Agreement",
            "dct:issued": {"@value": "2026-05-01T00:00:00Z", "@type": "xsd:dateTime"},
            "permission": [{"action": "use", "constraint": [_c("elapsedTime", op, DUR(right))]}],
        }
    )
    doc["@context"][1]["dct"] = "http://purl.org/dc/terms/"  # type: ignore[index]
    policy = compile_policy(parse_policy(doc))
    now = issued + dt.timedelta(days=elapsed_days)
    assert decide(policy, request(), StateOfTheWorld(now=now)) is expected


def test_elapsed_time_without_agreement_time_is_unsatisfied() -> None:
    assert not _permits(_c("elapsedTime", "lteq", DUR("P30D")))


def test_count_treats_the_request_as_one_more_execution() -> None:
    c = _c("count", "lteq", 5)
    assert _permits(c, world_kw={"counts": {None: 4}})  # 5th access
    assert not _permits(c, world_kw={"counts": {None: 5}})  # 6th access
    assert not _permits(c)  # unknown count: fail closed


def test_version_and_language_strings() -> None:
    assert _permits(_c("version", "gteq", "2.1"), version=Literal("2.10", XSD.string))
    assert _permits(_c("language", "isAnyOf", ["de", "en"]), language=Literal("de", XSD.string))


@pytest.mark.parametrize(
    ("op", "hits", "expected"),
    [
        ("and", (True, True), True),
        ("and", (True, False), False),
        ("or", (False, True), True),
        ("or", (False, False), False),
        ("xone", (True, False), True),
        ("xone", (True, True), False),
        ("xone", (False, False), False),
        ("andSequence", (True, True), True),
        ("andSequence", (False, True), False),
    ],
)
def test_logical_constraints(op: str, hits: tuple[bool, bool], expected: bool) -> None:
    members = [
        _c("purpose", "eq", {"@id": "urn:a"} if hits[0] else {"@id": "urn:no"}),
        _c("recipient", "eq", {"@id": "urn:b"} if hits[1] else {"@id": "urn:no"}),
    ]
    c = {op: {"@list": members}} if op == "andSequence" else {op: members}
    assert _permits(c, purpose=IRI("urn:a"), recipient=IRI("urn:b")) is expected


def test_and_sequence_stops_reporting_after_the_first_failure() -> None:
    members = [_c("purpose", "eq", {"@id": "urn:no"}), _c("recipient", "eq", {"@id": "urn:b"})]
    doc = jsonld_policy(
        {"permission": [{"action": "use", "constraint": [{"andSequence": {"@list": members}}]}]}
    )
    report = evaluate(
        compile_policy(parse_policy(doc)),
        request(purpose=IRI("urn:a"), recipient=IRI("urn:b")),
        StateOfTheWorld(now=T),
    )
    logical = report.rules[0].premises[-1]
    assert logical.logical == ODRL.andSequence and len(logical.members) == 1


def test_rdfs_helpers_available() -> None:
    assert str(RDFS.subClassOf).endswith("subClassOf")
