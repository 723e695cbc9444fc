"""Validation fails closed: unknown terms, incomparable data types, empty rule sets, cycles."""

from __future__ import annotations

import pytest

from connector.errors import Invalid
from connector.policy import (
    KK,
    OperandSpec,
    compile_policy,
    normalize,
    parse_policy,
    validate,
)
from connector.policy.operands import DEFAULT_OPERANDS, Scope
from connector.policy.terms import IRI
from connector.policy.vocabulary import DEFAULT_VOCABULARY, Kind

from .conftest import jsonld_policy


def _policy(constraint: dict[str, object], action: str = "use") -> dict[str, object]:
    return jsonld_policy({"permission": [{"action": action, "constraint": [constraint]}]})


def test_unknown_terms_are_listed_in_one_error() -> None:
    doc = jsonld_policy(
        {
            "permission": [
                {
                    "action": "ex:teleport",
                    "constraint": [
                        {"leftOperand": "ex:mood", "operator": "ex:roughly", "rightOperand": 1},
                        {
                            "leftOperand": "payAmount",
                            "operator": "eq",
                            "rightOperand": {"@value": "5", "@type": "ex:money"},
                            "unit": "ex:doubloon",
                        },
                    ],
                }
            ]
        }
    )
    policy = parse_policy(doc)
    problems = validate(policy)
    assert problems[0].code == "unknown_terms"
    for term in ("teleport", "mood", "roughly", "money", "doubloon"):
        assert term in problems[0].message
    with pytest.raises(Invalid) as err:
        compile_policy(policy)
    assert err.value.reason == "policy_invalid"
    assert "teleport" in err.value.detail


@pytest.mark.parametrize(
    "constraint",
    [
        {"leftOperand": "dateTime", "operator": "lt", "rightOperand": 5},
        {
            "leftOperand": "count",
            "operator": "lteq",
            "rightOperand": {"@value": "2024-01-01", "@type": "xsd:date"},
        },
        {
            "leftOperand": "elapsedTime",
            "operator": "lt",
            "rightOperand": {"@value": "3", "@type": "xsd:integer"},
        },
        {
            "leftOperand": "purpose",
            "operator": "eq",
            "rightOperand": {"@value": "1", "@type": "xsd:decimal"},
        },
        {
            "leftOperand": "spatialCoordinates",
            "operator": "isPartOf",
            "rightOperand": "POLYGON((0 0, 1 1))",
        },
    ],
)
def test_incomparable_datatypes_are_refused(constraint: dict[str, object]) -> None:
    problems = validate(parse_policy(_policy(constraint)))
    assert any(p.code == "incomparable_datatype" for p in problems), problems


@pytest.mark.parametrize(
    ("constraint", "code"),
    [
        (
            {"leftOperand": "purpose", "operator": "lt", "rightOperand": {"@id": "urn:p"}},
            "operator_not_applicable",
        ),
        ({"leftOperand": "count", "operator": "isA", "rightOperand": 3}, "operator_not_applicable"),
        (
            {"leftOperand": "count", "operator": "eq", "rightOperand": [1, 2]},
            "right_operand_cardinality",
        ),
        ({"leftOperand": "count", "operator": "eq"}, "right_operand_missing"),
        ({"operator": "eq", "rightOperand": 1}, "left_operand_missing"),
        ({"leftOperand": "count", "rightOperand": 1}, "operator_missing"),
        (
            {"leftOperand": "purpose", "operator": "eq", "rightOperandReference": "urn:list"},
            "right_operand_reference_unsupported",
        ),
    ],
)
def test_structural_constraint_problems(constraint: dict[str, object], code: str) -> None:
    assert code in {p.code for p in validate(parse_policy(_policy(constraint)))}


def test_empty_logical_constraint_is_refused() -> None:
    ttl = """@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
    <urn:p> a odrl:Set ; odrl:permission [ odrl:action odrl:use ; odrl:constraint <urn:c> ] .
    <urn:c> odrl:xone () ."""
    problems = validate(parse_policy(ttl, "turtle"))
    assert "empty_logical_constraint" in {p.code for p in problems}


def test_policy_without_rules_is_refused() -> None:
    policy = parse_policy(
        jsonld_policy({"permission": []}) | {"profile": "http://example.com/profile"}
    )
    assert [p.code for p in validate(policy)] == ["empty_policy"]
    with pytest.raises(Invalid):
        compile_policy(policy)


def test_requests_cannot_be_compiled() -> None:
    ttl = """@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
    <urn:r> a odrl:Request ; odrl:permission [ odrl:action odrl:read ] ."""
    from connector.policy import parse_policies

    (request,) = parse_policies(ttl, "turtle", include_requests=True)
    with pytest.raises(Invalid) as err:
        compile_policy(request)
    assert err.value.reason == "policy_not_evaluable"


def test_registered_operand_becomes_known() -> None:
    mood = IRI("http://example.com/mood")
    doc = _policy({"leftOperand": "ex:mood", "operator": "eq", "rightOperand": {"@id": "ex:happy"}})
    policy = parse_policy(doc)
    assert validate(policy)
    spec = OperandSpec(mood, Kind.IRI, lambda scope: scope.param(mood), declared=True)
    registry = DEFAULT_OPERANDS.register(spec)
    assert validate(policy, operands=registry) == []
    compile_policy(policy, operands=registry)


def test_registered_action_becomes_known() -> None:
    doc = jsonld_policy({"permission": [{"action": "ex:visualise"}]})
    policy = parse_policy(doc)
    vocab = DEFAULT_VOCABULARY.with_actions(
        {IRI("http://example.com/visualise"): [IRI("http://www.w3.org/ns/odrl/2/use")]}
    )
    assert validate(policy) and not validate(policy, vocabulary=vocab)


def _inheriting(uid: str, parent: str) -> object:
    return parse_policy(
        jsonld_policy({"uid": uid, "inheritFrom": parent, "permission": [{"action": "read"}]})
    )


def test_inheritance_cycle_is_an_error() -> None:
    a = _inheriting("http://example.com/a", "http://example.com/b")
    b = _inheriting("http://example.com/b", "http://example.com/a")
    store = {"http://example.com/a": a, "http://example.com/b": b}
    with pytest.raises(Invalid) as err:
        normalize(a, store)  # type: ignore[arg-type]
    assert err.value.reason == "policy_inheritance_cycle"


def test_missing_parent_is_an_error() -> None:
    a = _inheriting("http://example.com/a", "http://example.com/nowhere")
    with pytest.raises(Invalid) as err:
        compile_policy(a, store={})  # type: ignore[arg-type]
    assert err.value.reason == "policy_parent_missing"


def test_scope_param_uses_override() -> None:
    scope = Scope.__new__(Scope)
    scope.parameters = {KK.x: (KK.y,)}
    assert scope.param(KK.x) == (KK.y,)
