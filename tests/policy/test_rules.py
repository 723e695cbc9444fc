"""Duties as pre-conditions, remedies, obligations, conflicts, inheritance, offers, atomization."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.policy import (
    DutyRecord,
    Outcome,
    PerformedAction,
    RuleKind,
    StateOfTheWorld,
    compile_policy,
    decide,
    evaluate,
    parse_policy,
)
from connector.policy.terms import IRI, ODRL, REPORT, XSD, Literal

from .conftest import NOW, jsonld_policy, request

ALICE = "did:web:alice.example"
DUTY = "http://example.com/duty/pay"


def _compile(body: dict[str, object], **kw: object):  # type: ignore[no-untyped-def]
    return compile_policy(parse_policy(jsonld_policy(body)), **kw)  # type: ignore[arg-type]


PAY = {
    "permission": [
        {
            "uid": "http://example.com/rule/read",
            "action": "read",
            "duty": [
                {
                    "uid": DUTY,
                    "action": [
                        {
                            "rdf:value": {"@id": "odrl:compensate"},
                            "refinement": [
                                {
                                    "leftOperand": "payAmount",
                                    "operator": "eq",
                                    "rightOperand": {"@value": "5.00", "@type": "xsd:decimal"},
                                    "unit": "http://dbpedia.org/resource/Euro",
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


def test_duty_without_record_blocks_the_permission() -> None:
    report = evaluate(_compile(PAY), request(party=ALICE), StateOfTheWorld(now=NOW))
    perm = report.rules[0]
    assert not report.permitted and not perm.active
    (duty,) = perm.conditions
    assert (duty.active, duty.performance, duty.deontic) == (True, REPORT.Unknown, REPORT.NonSet)


@pytest.mark.parametrize(
    ("record", "permitted"),
    [
        (DutyRecord(IRI(DUTY), REPORT.Performed, REPORT.Fulfilled), True),
        (DutyRecord(IRI(DUTY), None, REPORT.Fulfilled), True),
        (DutyRecord(IRI(DUTY), REPORT.Unknown, REPORT.NonSet), False),
        (DutyRecord(IRI(DUTY), REPORT.Unperformed, REPORT.Violated), False),
        (DutyRecord(IRI("http://example.com/other"), REPORT.Performed, REPORT.Fulfilled), False),
        (
            DutyRecord(IRI(DUTY), REPORT.Performed, REPORT.Fulfilled, NOW + dt.timedelta(days=1)),
            False,
        ),
    ],
)
def test_duty_records(record: DutyRecord, permitted: bool) -> None:
    world = StateOfTheWorld(now=NOW, duty_records=(record,))
    assert evaluate(_compile(PAY), request(party=ALICE), world).permitted is permitted
    assert decide(_compile(PAY), request(party=ALICE), world) is permitted


@pytest.mark.parametrize(
    ("action", "party", "amount", "permitted"),
    [
        ("compensate", ALICE, "5.00", True),
        ("pay", ALICE, "5", True),  # deprecated odrl:pay is an exact match of compensate
        ("compensate", ALICE, "4.00", False),  # the refinement is checked on the performed action
        ("compensate", "did:web:mallory.example", "5.00", False),  # someone else paid
        ("delete", ALICE, "5.00", False),
    ],
)
def test_duty_fulfilled_by_a_performed_action(
    action: str, party: str, amount: str, permitted: bool
) -> None:
    done = PerformedAction(
        ODRL[action],
        IRI(party),
        None,
        NOW - dt.timedelta(hours=1),
        {ODRL.payAmount: (Literal(amount, XSD.decimal),)},
    )
    world = StateOfTheWorld(now=NOW, performed=(done,))
    assert evaluate(_compile(PAY), request(party=ALICE), world).permitted is permitted


def test_inactive_duty_does_not_block() -> None:
    body = {
        "permission": [
            {
                "action": "read",
                "duty": [
                    {
                        "action": "inform",
                        "constraint": [
                            {
                                "leftOperand": "purpose",
                                "operator": "eq",
                                "rightOperand": {"@id": "urn:commercial"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    assert decide(_compile(body), request(purpose=IRI("urn:research")), StateOfTheWorld(now=NOW))
    assert not decide(
        _compile(body), request(purpose=IRI("urn:commercial")), StateOfTheWorld(now=NOW)
    )


OBLIGATION = {
    "permission": [{"action": "use"}],
    "obligation": [
        {
            "uid": "http://example.com/ob/delete",
            "action": "delete",
            "constraint": [
                {
                    "leftOperand": "dateTime",
                    "operator": "lteq",
                    "rightOperand": {"@value": "2026-12-31", "@type": "xsd:date"},
                }
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("now", "performed", "state"),
    [
        (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), False, (REPORT.Unknown, REPORT.NonSet)),
        (dt.datetime(2027, 1, 1, tzinfo=dt.UTC), False, (REPORT.Unperformed, REPORT.Violated)),
        (dt.datetime(2027, 1, 1, tzinfo=dt.UTC), True, (REPORT.Performed, REPORT.Fulfilled)),
    ],
)
def test_obligation_with_deadline(
    now: dt.datetime, performed: bool, state: tuple[IRI, IRI]
) -> None:
    acts = (
        (PerformedAction(ODRL.delete, IRI(ALICE), None, dt.datetime(2026, 12, 20, tzinfo=dt.UTC)),)
        if performed
        else ()
    )
    report = evaluate(
        _compile(OBLIGATION), request(party=ALICE), StateOfTheWorld(now=now, performed=acts)
    )
    (ob,) = report.rule_reports(RuleKind.OBLIGATION)
    assert ob.active and (ob.performance, ob.deontic) == state
    assert report.permitted  # obligations do not gate access


def test_prohibition_remedy_activates_when_violated() -> None:
    body = {
        "permission": [{"action": "use"}],
        "prohibition": [
            {
                "uid": "http://example.com/no-dist",
                "action": "distribute",
                "remedy": [{"uid": "http://example.com/remedy", "action": "delete"}],
            }
        ],
        "conflict": "perm",
    }
    compiled = _compile(body)
    quiet = evaluate(compiled, request("distribute", party=ALICE), StateOfTheWorld(now=NOW))
    prohibition = quiet.rule_reports(RuleKind.PROHIBITION)[0]
    assert prohibition.conditions[0].active is False
    did_it = PerformedAction(ODRL.distribute, IRI(ALICE), None, NOW - dt.timedelta(days=1))
    loud = evaluate(
        compiled, request("distribute", party=ALICE), StateOfTheWorld(now=NOW, performed=(did_it,))
    )
    assert loud.permitted  # conflict perm
    prohibition = loud.rule_reports(RuleKind.PROHIBITION)[0]
    assert prohibition.overridden_by is not None and not prohibition.active


CONFLICT = {
    "permission": [{"uid": "http://example.com/p", "action": "use"}],
    "prohibition": [{"uid": "http://example.com/q", "action": "distribute"}],
}


@pytest.mark.parametrize(
    ("strategy", "permitted", "perm_active", "prohib_active"),
    [
        ("perm", True, True, False),
        ("prohibit", False, False, True),
        ("invalid", False, False, False),
        (None, False, False, False),
    ],
)
def test_conflict_strategies(
    strategy: str | None, permitted: bool, perm_active: bool, prohib_active: bool
) -> None:
    body = dict(CONFLICT)
    if strategy:
        body["conflict"] = strategy
    compiled = _compile(body)
    report = evaluate(compiled, request("distribute"), StateOfTheWorld(now=NOW))
    assert (
        report.permitted
        is permitted
        is decide(compiled, request("distribute"), StateOfTheWorld(now=NOW))
    )
    assert report.rules[0].active is perm_active and report.rules[1].active is prohib_active
    # no conflict for an action the prohibition does not cover
    assert decide(compiled, request("read"), StateOfTheWorld(now=NOW))


def test_prohibition_never_permits() -> None:
    compiled = _compile({"prohibition": [{"action": "use"}]})
    assert not decide(compiled, request("read"), StateOfTheWorld(now=NOW))


def test_offer_is_only_a_proposal() -> None:
    compiled = _compile({"@type": "Offer", "permission": [{"action": "use"}]})
    report = evaluate(compiled, request(), StateOfTheWorld(now=NOW))
    assert report.outcome is Outcome.NOT_APPLICABLE and not report.rules[0].active
    assert not decide(compiled, request(), StateOfTheWorld(now=NOW))
    proposal = evaluate(compiled, request(), StateOfTheWorld(now=NOW), as_proposal=True)
    assert proposal.rules[0].active and not proposal.permitted and proposal.proposal


def test_inheritance_keeps_rule_iris_and_merges_conflict() -> None:
    parent = parse_policy(
        jsonld_policy(
            {
                "uid": "http://example.com/parent",
                "conflict": "prohibit",
                "prohibition": [{"uid": "http://example.com/parent#no-sell", "action": "sell"}],
            }
        )
    )
    child = parse_policy(
        jsonld_policy(
            {
                "uid": "http://example.com/child",
                "inheritFrom": "http://example.com/parent",
                "conflict": "prohibit",
                "permission": [{"uid": "http://example.com/child#use", "action": "transfer"}],
            }
        )
    )
    compiled = compile_policy(child, store={"http://example.com/parent": parent})
    report = evaluate(compiled, request("sell"), StateOfTheWorld(now=NOW))
    assert [r.rule for r in report.rules] == [
        "http://example.com/child#use",
        "http://example.com/parent#no-sell",
    ]
    assert report.rules[1].policy == "http://example.com/parent"
    assert not report.permitted and report.rules[1].active
    assert decide(compiled, request("give"), StateOfTheWorld(now=NOW))


def test_compact_policy_is_atomized() -> None:
    body = {
        "action": ["read", "print"],
        "target": "http://example.com/asset/x",
        "assignee": ["http://example.com/a", "http://example.com/b"],
        "permission": [{"uid": "http://example.com/r"}],
    }
    compiled = _compile(body)
    assert len(compiled.permissions) == 4
    assert decide(
        compiled,
        request("print", party="http://example.com/b", target="http://example.com/asset/x"),
        StateOfTheWorld(now=NOW),
    )
    assert not decide(
        compiled,
        request("print", party="http://example.com/c", target="http://example.com/asset/x"),
        StateOfTheWorld(now=NOW),
    )
    assert not decide(
        compiled,
        request("read", party="http://example.com/a", target="http://example.com/asset/y"),
        StateOfTheWorld(now=NOW),
    )


def test_action_hierarchy() -> None:
    compiled = _compile({"permission": [{"action": "use"}]})
    w = StateOfTheWorld(now=NOW)
    assert decide(compiled, request("read"), w) and decide(compiled, request("write"), w)
    assert not decide(compiled, request("sell"), w)  # sell is included in transfer, not use
    assert not decide(compiled, request("http://example.com/unknown"), w)
