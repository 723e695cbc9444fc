"""Report serialisation (Turtle, JSON-LD) and the German/English explanations."""

from __future__ import annotations

import json

from connector.policy import (
    StateOfTheWorld,
    compile_policy,
    evaluate,
    explain,
    parse_policy,
    serialize,
    to_jsonld,
)
from connector.policy.reader import read_graph
from connector.policy.terms import IRI, KK, RDF, REPORT, XSD, Literal

from .conftest import NOW, city_policy, jsonld_policy, request


def _report():  # type: ignore[no-untyped-def]
    return evaluate(
        city_policy("purpose-climate"),
        request(purpose=IRI("https://w3id.org/dpv#Marketing")),
        StateOfTheWorld(now=NOW),
    )


def test_turtle_and_jsonld_carry_the_same_triples() -> None:
    report = _report()
    ttl = read_graph(serialize(report, "turtle"), "turtle")
    jl = read_graph(serialize(report, "json-ld"))
    assert set(ttl) == set(jl)
    assert len(ttl.subjects(RDF.type, REPORT.PolicyReport)) == 1
    (perm,) = ttl.subjects(RDF.type, REPORT.PermissionReport)
    assert ttl.value(perm, REPORT.activationState) == REPORT.Inactive
    premises = ttl.objects(perm, REPORT.premiseReport)
    constraint_reports = [p for p in premises if ttl.has_type(p, REPORT.ConstraintReport)]  # type: ignore[arg-type]
    (c,) = constraint_reports
    assert ttl.value(c, REPORT.constraintLeftOperand) == IRI("https://w3id.org/dpv#Marketing")  # type: ignore[arg-type]
    assert ttl.value(c, REPORT.satisfactionState) == REPORT.Unsatisfied  # type: ignore[arg-type]


def test_report_ids_are_deterministic() -> None:
    assert serialize(_report()) == serialize(_report())
    assert json.dumps(to_jsonld(_report())) == json.dumps(to_jsonld(_report()))


def test_created_is_the_evaluation_time() -> None:
    g = read_graph(serialize(_report()), "turtle")
    (root,) = g.subjects(RDF.type, REPORT.PolicyReport)
    assert g.value(root, IRI("http://purl.org/dc/terms/created")) == Literal(
        "2026-06-01T12:00:00Z", XSD.dateTime
    )


def test_explanations_in_both_languages() -> None:
    report = _report()
    assert explain(report, "en").startswith("Denied because constraint purpose isAnyOf [")
    assert "declared purpose was Marketing" in explain(report, "en")
    de = explain(report, "de")
    assert de.startswith(
        "Zugriff verweigert, weil die Bedingung purpose isAnyOf [Energiemanagement, kommunale CO2-Bilanz]"
    )
    assert "als Zweck angegeben war Marketing" in de
    missing = evaluate(city_policy("purpose-climate"), request(), StateOfTheWorld(now=NOW))
    assert "no purpose was declared" in explain(missing, "en")
    assert "Zugriff erlaubt, weil" in explain(
        evaluate(
            city_policy("purpose-climate"),
            request(purpose=KK.KommunaleCO2Bilanz),
            StateOfTheWorld(now=NOW),
        ),
        "de",
    )


def test_explanations_for_action_target_and_party_mismatches() -> None:
    doc = jsonld_policy(
        {
            "permission": [
                {
                    "uid": "http://example.com/r",
                    "action": "read",
                    "target": "http://example.com/x",
                    "assignee": "http://example.com/alice",
                }
            ]
        }
    )
    compiled = compile_policy(parse_policy(doc))
    report = evaluate(
        compiled,
        request("sell", party="http://example.com/bob", target="http://example.com/y"),
        StateOfTheWorld(now=NOW),
    )
    text = explain(report, "en")
    assert (
        "target y is not x" in text
        and "party bob is not alice" in text
        and "action sell is not covered by read" in text
    )
    assert "Ziel y" in explain(report, "de")


def test_policy_explanation() -> None:
    policy = parse_policy(
        jsonld_policy(
            {
                "permission": [
                    {
                        "action": "read",
                        "constraint": [
                            {"leftOperand": "count", "operator": "lteq", "rightOperand": 3}
                        ],
                    }
                ],
                "prohibition": [{"action": "distribute"}],
            }
        )
    )
    en = explain(policy, "en")
    assert "Permitted: read on any target for any party if count lteq 3" in en
    assert "Prohibited: distribute" in explain(policy, "en")
    assert "Erlaubt: lesen" in explain(policy, "de") and "Verboten: weitergeben" in explain(
        policy, "de"
    )
