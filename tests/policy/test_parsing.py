"""Reading policies: JSON-LD (compacted, expanded, DSP context), Turtle, pinned contexts, bad input."""

from __future__ import annotations

import json

import pytest

from connector.errors import Invalid, PayloadTooLarge, UnknownContext
from connector.policy import PolicyKind, parse_policies, parse_policy
from connector.policy.contexts import (
    DSP_CONTEXT_URL,
    DSP_ODRL_PROFILE_URL,
    ODRL_CONTEXT_URL,
    PINNED_CONTEXTS,
    inline_contexts,
)
from connector.policy.model import Constraint, LogicalConstraint
from connector.policy.reader import read_graph
from connector.policy.terms import IRI, ODRL

from .conftest import jsonld_policy, need_vectors

COMPACT = jsonld_policy(
    {
        "permission": [
            {
                "uid": "http://example.com/rule/1",
                "target": "http://example.com/asset/x",
                "assignee": "http://example.com/party/alice",
                "action": "read",
                "constraint": [
                    {
                        "leftOperand": "dateTime",
                        "operator": "lt",
                        "rightOperand": {"@value": "2030-01-01", "@type": "xsd:date"},
                    }
                ],
            }
        ]
    }
)
TURTLE = """
@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<http://example.com/policy/1> a odrl:Set ;
  odrl:permission <http://example.com/rule/1> .
<http://example.com/rule/1> odrl:target <http://example.com/asset/x> ;
  odrl:assignee <http://example.com/party/alice> ;
  odrl:action odrl:read ;
  odrl:constraint [ odrl:leftOperand odrl:dateTime ; odrl:operator odrl:lt ;
                    odrl:rightOperand "2030-01-01"^^xsd:date ] .
"""
EXPANDED = [
    {
        "@id": "http://example.com/policy/1",
        "@type": ["http://www.w3.org/ns/odrl/2/Set"],
        "http://www.w3.org/ns/odrl/2/permission": [
            {
                "@id": "http://example.com/rule/1",
                "http://www.w3.org/ns/odrl/2/target": [{"@id": "http://example.com/asset/x"}],
                "http://www.w3.org/ns/odrl/2/assignee": [{"@id": "http://example.com/party/alice"}],
                "http://www.w3.org/ns/odrl/2/action": [{"@id": "http://www.w3.org/ns/odrl/2/read"}],
                "http://www.w3.org/ns/odrl/2/constraint": [
                    {
                        "http://www.w3.org/ns/odrl/2/leftOperand": [
                            {"@id": "http://www.w3.org/ns/odrl/2/dateTime"}
                        ],
                        "http://www.w3.org/ns/odrl/2/operator": [
                            {"@id": "http://www.w3.org/ns/odrl/2/lt"}
                        ],
                        "http://www.w3.org/ns/odrl/2/rightOperand": [
                            {
                                "@value": "2030-01-01",
                                "@type": "http://www.w3.org/2001/XMLSchema#date",
                            }
                        ],
                    }
                ],
            }
        ],
    }
]


def _shape(policy):  # type: ignore[no-untyped-def]
    rule = policy.permissions[0]
    c = rule.constraints[0]
    return (
        policy.uid,
        policy.kind,
        rule.uid,
        rule.actions[0].iri,
        rule.targets[0].iri,
        rule.assignees[0].iri,
        c.left_operand,
        c.operator,
        c.right_operands,
    )


def test_compact_expanded_and_turtle_give_the_same_model() -> None:
    a = parse_policy(COMPACT)
    b = parse_policy(EXPANDED)
    c = parse_policy(TURTLE, "turtle")
    d = parse_policy(json.dumps(COMPACT))
    assert _shape(a) == _shape(b) == _shape(c) == _shape(d)
    assert a.permissions[0].actions[0].iri == ODRL.read


def test_dsp_dataset_offer_parses_with_the_pinned_dsp_context() -> None:
    doc = {
        "@context": [DSP_CONTEXT_URL],
        "@id": "urn:uuid:dataset-1",
        "@type": "Dataset",
        "hasPolicy": [
            {
                "@type": "Offer",
                "@id": "urn:uuid:offer-1",
                "permission": [
                    {
                        "action": "use",
                        "constraint": [
                            {
                                "leftOperand": "odrl:purpose",
                                "operator": "eq",
                                "rightOperand": {"@id": "urn:p"},
                            }
                        ],
                    }
                ],
            }
        ],
    }
    policy = parse_policy(doc)
    assert policy.kind is PolicyKind.OFFER
    c = policy.permissions[0].constraints[0]
    assert isinstance(c, Constraint)
    assert (c.left_operand, c.operator, c.right_operands) == (
        ODRL.purpose,
        ODRL.eq,
        (IRI("urn:p"),),
    )


def test_dsp_examples_parse(tmp_path: object) -> None:
    base = need_vectors("dsp-2025-1")
    for name in (
        "catalog/example/dataset.json",
        "negotiation/example/contract-agreement-message.json",
    ):
        policies = parse_policies((base / name).read_text(encoding="utf-8"))
        assert len(policies) == 1
        assert policies[0].permissions[0].actions[0].iri == ODRL.use


def test_logical_constraint_and_rdf_list_members() -> None:
    doc = jsonld_policy(
        {
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        {
                            "andSequence": {
                                "@list": [
                                    {"leftOperand": "count", "operator": "lteq", "rightOperand": 3},
                                    {
                                        "leftOperand": "purpose",
                                        "operator": "eq",
                                        "rightOperand": {"@id": "urn:p"},
                                    },
                                ]
                            }
                        }
                    ],
                }
            ]
        }
    )
    c = parse_policy(doc).permissions[0].constraints[0]
    assert isinstance(c, LogicalConstraint)
    assert c.operator == ODRL.andSequence
    assert [m.left_operand for m in c.members] == [ODRL["count"], ODRL.purpose]  # type: ignore[union-attr]


def test_unpinned_context_is_refused_without_fetching() -> None:
    with pytest.raises(UnknownContext):
        parse_policy({"@context": "https://evil.example/context.jsonld", "@type": "Set"})


def test_custom_loader_is_used_for_contexts() -> None:
    seen: list[str] = []

    def loader(url: str) -> dict[str, object]:
        seen.append(url)
        return dict(PINNED_CONTEXTS[ODRL_CONTEXT_URL])

    parse_policy(
        {**COMPACT, "@context": [ODRL_CONTEXT_URL, {"xsd": "http://www.w3.org/2001/XMLSchema#"}]},
        context_loader=loader,
    )
    assert seen == [ODRL_CONTEXT_URL]


@pytest.mark.parametrize(
    ("data", "syntax", "reason"),
    [
        ("{not json", None, "malformed_jsonld"),
        ("<http://a> <http://b> .", "turtle", "malformed_turtle"),
        ('"just a string"', "json-ld", "malformed_jsonld"),
    ],
)
def test_malformed_input_names_the_problem(data: str, syntax: str | None, reason: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_policies(data, syntax)  # type: ignore[arg-type]
    assert err.value.reason == reason


def test_turtle_error_names_the_line() -> None:
    with pytest.raises(Invalid) as err:
        read_graph(
            "@prefix odrl: <http://www.w3.org/ns/odrl/2/> .\n\n<a> odrl:x ;;; .",
            "turtle",
            source="p.ttl",
        )
    assert "p.ttl" in err.value.detail


def test_oversized_input_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        read_graph("#" * (9 * 1024 * 1024), "turtle")


def test_bare_dsp_terms_are_refused_by_validation_as_no_terms_of_the_context() -> None:
    """The DSP example writes ``"leftOperand": "spatial"``, which the DSP context does not
    define: it is kept (not silently dropped) and refused as an unknown term, by name."""
    from connector.policy import validate

    base = need_vectors("dsp-2025-1")
    policy = parse_policy((base / "catalog/example/dataset.json").read_text(encoding="utf-8"))
    problems = validate(policy)
    unknown = [p for p in problems if p.code == "unknown_left_operand"]
    assert unknown and '"spatial" (no term of the @context)' in unknown[0].message


def test_a_value_that_is_no_term_of_the_context_is_refused_not_dropped() -> None:
    """A typo of an action (``"fly"``) used to vanish in JSON-LD expansion, leaving a rule
    without action — one that applies to every action. It is an error now."""
    from connector.policy import validate

    policy = parse_policy(
        {
            "@context": "http://www.w3.org/ns/odrl.jsonld",
            "@type": "Set",
            "uid": "https://example.org/p/typo",
            "permission": [{"action": "usee"}],
        }
    )
    assert [a.iri for a in policy.permissions[0].actions] == ["usee"]
    codes = {p.code for p in validate(policy) if p.severity == "error"}
    assert {"unknown_terms", "unknown_action"} <= codes


def test_policy_count_is_checked() -> None:
    with pytest.raises(Invalid) as err:
        parse_policy(
            "@prefix odrl: <http://www.w3.org/ns/odrl/2/> . <urn:x> a odrl:Action .", "turtle"
        )
    assert err.value.reason == "policy_count"


def test_constraint_cycle_is_an_error() -> None:
    ttl = """@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
    <urn:p> a odrl:Set ; odrl:permission <urn:r> .
    <urn:r> odrl:action odrl:use ; odrl:constraint <urn:c> .
    <urn:c> odrl:and <urn:c> ."""
    with pytest.raises(Invalid) as err:
        parse_policy(ttl, "turtle")
    assert err.value.reason == "constraint_cycle"


def test_inline_odrl_context_matches_the_official_dsp_copy() -> None:
    """Our hand-written contexts agree with the DSP 2025-1 artefacts on every shared term."""
    base = need_vectors("dsp-2025-1") / "context"
    official_profile = json.loads((base / "odrl.jsonld").read_text(encoding="utf-8"))["@context"]
    mine_profile = PINNED_CONTEXTS[DSP_ODRL_PROFILE_URL]["@context"]
    mine_full = PINNED_CONTEXTS[ODRL_CONTEXT_URL]["@context"]
    for term, definition in official_profile.items():
        assert term in mine_profile, term
        assert _iri(mine_profile[term]) == _iri(definition), term
        assert _iri(mine_full[term]) == _iri(definition), term
        if isinstance(definition, dict) and "@type" in definition:
            assert mine_profile[term]["@type"] == definition["@type"], term
    official_dsp = json.loads((base / "dspace.jsonld").read_text(encoding="utf-8"))["@context"]
    mine_dsp = PINNED_CONTEXTS[DSP_CONTEXT_URL]["@context"]
    assert set(official_dsp) == set(mine_dsp)
    for term, definition in official_dsp.items():
        assert _iri(mine_dsp[term]) == _iri(definition), term


def _iri(definition: object) -> object:
    return definition.get("@id") if isinstance(definition, dict) else definition


def test_inlining_merges_imports() -> None:
    doc = inline_contexts({"@context": DSP_CONTEXT_URL, "@type": "Dataset"})
    dataset = doc["@context"]["Dataset"]["@context"]
    assert "@import" not in dataset
    assert dataset["permission"]["@id"] == "odrl:permission"


@pytest.mark.parametrize(
    ("rule_or_policy", "key"),
    [
        (
            {"constraints": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "x"}]},
            "constraints",
        ),
        ({"duties": [{"action": "attribute"}]}, "duties"),
        (
            {"refinment": [{"leftOperand": "count", "operator": "lteq", "rightOperand": 1}]},
            "refinment",
        ),
    ],
)
def test_a_key_no_context_defines_is_refused_not_dropped(
    rule_or_policy: dict[str, object], key: str
) -> None:
    """JSON-LD expansion drops a key the context does not define — with a typo such as
    ``constraints`` the rule would lose its constraints and permit more. Refused by name."""
    document = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "uid": "https://example.org/p/keys",
        "permission": [{"target": "https://example.org/x", "action": "use", **rule_or_policy}],
    }
    with pytest.raises(Invalid) as err:
        parse_policy(document)
    assert err.value.reason == "unknown_terms"
    assert f'"{key}"' in err.value.detail


def test_keys_that_say_nothing_or_fall_under_a_vocab_are_taken() -> None:
    base = {
        "@type": "Set",
        "uid": "https://example.org/p/keys",
        "permission": [{"target": "https://example.org/x", "action": "use", "constraints": []}],
    }
    empty = parse_policy({"@context": "http://www.w3.org/ns/odrl.jsonld", **base})
    assert empty.permissions[0].constraints == ()  # an empty list states nothing
    prohibitions = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        **base,
        "prohibitions": [{"target": "https://example.org/x", "action": "distribute"}],
    }
    with pytest.raises(Invalid):
        parse_policy(prohibitions)  # at policy level too
    vocab = {
        "@context": ["http://www.w3.org/ns/odrl.jsonld", {"@vocab": "https://example.org/v#"}],
        **base,
    }
    parse_policy(vocab)  # every key is defined (as a term of the vocabulary)


@pytest.mark.parametrize("type_", ["offer", "Sett"])
def test_a_policy_type_no_context_defines_is_refused(type_: str) -> None:
    """A mistyped ``@type`` made the policy a Set: an Offer (which grants nothing) would have
    become a working grant."""
    document = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": type_,
        "uid": "https://example.org/p/typed",
        "permission": [{"target": "https://example.org/x", "action": "use"}],
    }
    with pytest.raises(Invalid) as err:
        parse_policy(document)
    assert err.value.reason == "unknown_terms"
    assert f'unknown @type "{type_}"' in err.value.detail


@pytest.mark.parametrize(
    "constraint",
    [
        {  # an atomic part beside a logical one: one of them would be ignored
            "leftOperand": "purpose",
            "operator": "eq",
            "rightOperand": "Energy",
            "and": [{"leftOperand": "count", "operator": "lteq", "rightOperand": 5}],
        },
        {  # two logical operators in one node
            "and": [{"leftOperand": "count", "operator": "lteq", "rightOperand": 5}],
            "or": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "Energy"}],
        },
        {"leftOperand": ["dateTime", "purpose"], "operator": "eq", "rightOperand": "x"},
        {"leftOperand": "count", "operator": ["lt", "gt"], "rightOperand": 5},
    ],
)
def test_a_constraint_that_says_two_things_at_once_is_refused(
    constraint: dict[str, object],
) -> None:
    """Only one of them would have been read; the rest would have been ignored silently."""
    document = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "uid": "https://example.org/p/two",
        "permission": [
            {"target": "https://example.org/x", "action": "use", "constraint": [constraint]}
        ],
    }
    with pytest.raises(Invalid) as err:
        parse_policy(document)
    assert err.value.reason == "constraint_structure"


def test_a_date_time_without_zone_is_taken_with_a_warning() -> None:
    """Read as UTC (as before); the warning says so, since a city writes local time."""
    from connector.policy import validate

    def problems(value: str) -> list[str]:
        policy = parse_policy(
            {
                "@context": "http://www.w3.org/ns/odrl.jsonld",
                "@type": "Set",
                "uid": "https://example.org/p/tz",
                "permission": [
                    {
                        "target": "https://example.org/x",
                        "action": "use",
                        "constraint": [
                            {
                                "leftOperand": "dateTime",
                                "operator": "lt",
                                "rightOperand": {"@value": value, "@type": "xsd:dateTime"},
                            }
                        ],
                    }
                ],
            }
        )
        return [p.code for p in validate(policy)]

    assert problems("2025-06-01T13:00:00") == ["date_time_without_zone"]
    assert problems("2025-06-01T13:00:00.5") == ["date_time_without_zone"]
    assert problems("2025-06-01T13:00:00+02:00") == []
    assert problems("2025-06-01T13:00:00Z") == []
