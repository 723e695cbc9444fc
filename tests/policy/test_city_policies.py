"""The City of Hagen's policies (policies/*.jsonld): who gets access and who does not."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connector.policy import (
    DutyRecord,
    PerformedAction,
    PolicyKind,
    RuleKind,
    StateOfTheWorld,
    compile_policy,
    decide,
    evaluate,
    explain,
    parse_policy,
    validate,
)
from connector.policy.terms import IRI, KK, ODRL, REPORT, XSD, Literal

from .conftest import NOW, POLICIES, city_policy, request

PARTNER = "did:web:stadtwerke.example"
STRANGER = "did:web:stranger.example"
DATASET = "https://w3id.org/klimakommune/hagen/datasets/energie"


def _both(name: str, req, w) -> bool:  # type: ignore[no-untyped-def]
    compiled = city_policy(name)
    full = evaluate(compiled, req, w).permitted
    assert full == decide(compiled, req, w)
    return full


def test_every_city_policy_validates_cleanly() -> None:
    files = sorted(POLICIES.glob("*.jsonld"))
    assert len(files) == 10
    for f in files:
        assert validate(parse_policy(f.read_text(encoding="utf-8"))) == [], f.name


@pytest.mark.parametrize("name", ["open-data-dl-de-by-2-0", "open-data-cc-by-4-0"])
def test_open_data_requires_the_attribution_duty(name: str) -> None:
    duty = IRI(f"https://w3id.org/klimakommune/policies/hagen/{name}#attribution")
    attributed = StateOfTheWorld(
        now=NOW, duty_records=(DutyRecord(duty, REPORT.Performed, REPORT.Fulfilled),)
    )
    shown = StateOfTheWorld(
        now=NOW, performed=(PerformedAction(ODRL.attribute, IRI(STRANGER), None, NOW),)
    )
    assert _both(name, request(party=STRANGER), attributed)
    assert _both(name, request("distribute", party=STRANGER), shown)
    assert not _both(name, request(party=STRANGER), StateOfTheWorld(now=NOW))
    report = evaluate(city_policy(name), request(party=STRANGER), StateOfTheWorld(now=NOW))
    assert "attribute" in explain(report, "en")


def test_dl_de_by_duty_carries_the_attribution_details() -> None:
    policy = parse_policy((POLICIES / "open-data-dl-de-by-2-0.jsonld").read_text(encoding="utf-8"))
    extras = {str(p) for p, _ in policy.permissions[0].duties[0].extras}
    for prop in ("providerName", "licenceNote", "licenceLink", "datasetUri", "changeNote"):
        assert str(KK[prop]) in extras
    assert str(ODRL.attributedParty) in extras


def _member(issuer: str, kind: IRI = KK.MembershipCredential) -> StateOfTheWorld:
    facts = {
        IRI(PARTNER): {
            KK.membershipCredentialType: (kind,),
            KK.membershipCredentialIssuer: (IRI(issuer),),
        }
    }
    part_of = {IRI(PARTNER): frozenset({IRI("https://w3id.org/klimakommune/federation")})}
    return StateOfTheWorld(now=NOW, facts=facts, part_of=part_of)


def test_partner_only_needs_a_federation_credential() -> None:
    assert _both(
        "partner-only", request(party=PARTNER), _member("did:web:federation.klimakommune.de")
    )
    assert not _both("partner-only", request(party=PARTNER), _member("did:web:self-issued.example"))
    assert not _both(
        "partner-only",
        request(party=PARTNER),
        _member("did:web:federation.klimakommune.de", KK.OtherCredential),
    )
    assert not _both(
        "partner-only", request(party=STRANGER), _member("did:web:federation.klimakommune.de")
    )


def test_purpose_bound_policy() -> None:
    w = StateOfTheWorld(now=NOW)
    assert _both("purpose-climate", request(purpose=KK.Energiemanagement), w)
    assert _both("purpose-climate", request(purpose=KK.KommunaleCO2Bilanz), w)
    assert not _both("purpose-climate", request(purpose=IRI("https://w3id.org/dpv#Marketing")), w)
    assert not _both("purpose-climate", request(), w)
    report = evaluate(
        city_policy("purpose-climate"), request(purpose=IRI("https://w3id.org/dpv#Marketing")), w
    )
    assert explain(report, "en") == (
        "Denied because constraint purpose isAnyOf [energy management, municipal CO2 balance] "
        "was not satisfied: declared purpose was Marketing."
    )
    assert explain(report, "de").startswith(
        "Zugriff verweigert, weil die Bedingung purpose isAnyOf"
    )
    ok = evaluate(city_policy("purpose-climate"), request(purpose=KK.Energiemanagement), w)
    assert explain(ok, "de").startswith("Zugriff erlaubt, weil die Erlaubnis")


def test_agreement_valid_for_thirty_days() -> None:
    template = parse_policy((POLICIES / "agreement-30-days.jsonld").read_text(encoding="utf-8"))
    agreement = dataclasses.replace(
        template, kind=PolicyKind.AGREEMENT, issued=Literal("2026-05-01T10:00:00Z", XSD.dateTime)
    )
    compiled = compile_policy(agreement)
    day = dt.timedelta(days=1)
    start = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert decide(compiled, request(), StateOfTheWorld(now=start + 30 * day))
    assert not decide(
        compiled, request(), StateOfTheWorld(now=start + 30 * day + dt.timedelta(seconds=1))
    )
    assert not decide(
        city_policy("agreement-30-days"), request(), StateOfTheWorld(now=start)
    )  # no agreement time


def test_at_most_n_accesses() -> None:
    rule = IRI("https://w3id.org/klimakommune/policies/hagen/max-accesses#read")
    assert _both(
        "max-accesses", request(), StateOfTheWorld(now=NOW, counts={rule: 99})
    )  # the 100th
    assert not _both(
        "max-accesses", request(), StateOfTheWorld(now=NOW, counts={rule: 100})
    )  # the 101st
    assert _both("max-accesses", request(), StateOfTheWorld(now=NOW, counts={None: 0}))
    assert not _both(
        "max-accesses", request("distribute"), StateOfTheWorld(now=NOW, counts={None: 0})
    )


@pytest.mark.parametrize(
    ("period", "function", "k", "permitted"),
    [
        ("PT1H", KK.mean, "5", True),
        ("P1D", KK.mean, "12", True),
        ("PT15M", KK.mean, "5", False),
        ("PT1H", KK.raw, "5", False),
        ("PT1H", KK.mean, "4", False),
        (None, KK.mean, "5", False),
    ],
)
def test_aggregate_only_delivery(
    period: str | None, function: IRI, k: str, permitted: bool
) -> None:
    params: dict[str, object] = {
        str(KK.aggregationFunction): function,
        str(KK.kAnonymity): Literal(k, XSD.integer),
    }
    if period:
        params[str(KK.aggregationPeriod)] = Literal(period, XSD.duration)
    assert _both("aggregate-only", request(**params), StateOfTheWorld(now=NOW)) is permitted  # type: ignore[arg-type]


WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"


@pytest.mark.parametrize(
    ("sensor", "point", "permitted"),
    [
        ("https://daten.hagen.de/sensors/rathaus", "POINT(7.4711 51.3594)", True),
        ("https://daten.hagen.de/sensors/hohenlimburg", "POINT(7.5700 51.3500)", True),
        ("https://daten.hagen.de/sensors/dortmund", "POINT(7.4653 51.5136)", False),
        ("https://daten.hagen.de/sensors/border", "POINT(7.5000 51.2700)", True),
    ],
)
def test_geofence_hagen(sensor: str, point: str, permitted: bool) -> None:
    w = StateOfTheWorld(
        now=NOW,
        part_of={IRI(sensor): frozenset({IRI("https://daten.hagen.de/sensors")})},
        facts={IRI(sensor): {ODRL.spatialCoordinates: (Literal(point, WKT),)}},
    )
    assert _both("geofence-hagen", request(target=sensor), w) is permitted


def test_geofence_needs_collection_membership_and_coordinates() -> None:
    sensor = IRI("https://example.org/sensor")
    w = StateOfTheWorld(
        now=NOW, facts={sensor: {ODRL.spatialCoordinates: (Literal("POINT(7.47 51.36)", WKT),)}}
    )
    assert not _both("geofence-hagen", request(target=str(sensor)), w)
    w2 = StateOfTheWorld(
        now=NOW, part_of={sensor: frozenset({IRI("https://daten.hagen.de/sensors")})}
    )
    assert not _both("geofence-hagen", request(target=str(sensor)), w2)


def test_no_onward_transfer() -> None:
    w = StateOfTheWorld(now=NOW)
    assert _both("no-onward-transfer", request("read"), w)
    assert _both("no-onward-transfer", request("use"), w)
    assert not _both("no-onward-transfer", request("distribute"), w)
    report = evaluate(city_policy("no-onward-transfer"), request("distribute"), w)
    assert "prohibit" in explain(report, "en")


def test_deletion_duty_by_a_date() -> None:
    before = StateOfTheWorld(now=dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC))
    after = StateOfTheWorld(now=dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC))
    assert _both("deletion-by-date", request(), before)
    assert not _both("deletion-by-date", request(), after)
    late = StateOfTheWorld(now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC))
    report = evaluate(city_policy("deletion-by-date"), request(party=PARTNER), late)
    (ob,) = report.rule_reports(RuleKind.OBLIGATION)
    assert ob.deontic == REPORT.Violated
    deleted = PerformedAction(
        ODRL.delete, IRI(PARTNER), None, dt.datetime(2027, 1, 15, tzinfo=dt.UTC)
    )
    done = evaluate(
        city_policy("deletion-by-date"),
        request(party=PARTNER),
        dataclasses.replace(late, performed=(deleted,)),
    )
    assert done.rule_reports(RuleKind.OBLIGATION)[0].deontic == REPORT.Fulfilled
    assert "Open obligation" in explain(report, "en")
