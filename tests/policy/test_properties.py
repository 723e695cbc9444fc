"""Property tests: monotonicity of ``and``, prohibitions never permit, determinism."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.policy import (
    StateOfTheWorld,
    compile_policy,
    decide,
    evaluate,
    parse_policy,
    to_turtle,
)
from connector.policy.terms import IRI

from .conftest import jsonld_policy, request

PURPOSES = [f"urn:purpose:{i}" for i in range(4)]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

constraints = st.one_of(
    st.builds(
        lambda op, vals: {
            "leftOperand": "purpose",
            "operator": op,
            "rightOperand": [{"@id": v} for v in vals],
        },
        st.sampled_from(["isAnyOf", "isNoneOf"]),
        st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda op, day: {
            "leftOperand": "dateTime",
            "operator": op,
            "rightOperand": {"@value": f"2026-01-{day:02d}", "@type": "xsd:date"},
        },
        st.sampled_from(["lt", "lteq", "gt", "gteq", "eq", "neq"]),
        st.integers(1, 28),
    ),
    st.builds(
        lambda op, n: {"leftOperand": "count", "operator": op, "rightOperand": n},
        st.sampled_from(["lt", "lteq", "gt", "gteq", "eq", "neq"]),
        st.integers(0, 6),
    ),
)
worlds = st.builds(
    lambda day, count: StateOfTheWorld(
        now=T0 + dt.timedelta(days=day, hours=7), counts={None: count}
    ),
    st.integers(0, 30),
    st.integers(0, 6),
)
requests = st.builds(
    lambda action, purpose: request(action, purpose=IRI(purpose)) if purpose else request(action),
    st.sampled_from(["read", "use", "distribute", "sell"]),
    st.one_of(st.none(), st.sampled_from(PURPOSES)),
)


def _policy(
    rule_constraints: list[dict[str, Any]], kind: str = "permission", action: str = "use"
) -> Any:
    rule: dict[str, Any] = {"action": action}
    if rule_constraints:
        rule["constraint"] = [{"and": rule_constraints}]
    return compile_policy(parse_policy(jsonld_policy({kind: [rule]})))


@settings(max_examples=60, deadline=None)
@given(st.lists(constraints, min_size=1, max_size=3), constraints, worlds, requests)
def test_adding_a_constraint_under_and_never_turns_deny_into_permit(
    base: list[dict[str, Any]], extra: dict[str, Any], world: StateOfTheWorld, req: Any
) -> None:
    before = decide(_policy(base), req, world)
    after = decide(_policy([*base, extra]), req, world)
    assert not (after and not before)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(constraints, max_size=3),
    worlds,
    requests,
    st.sampled_from(["use", "read", "distribute"]),
)
def test_a_prohibition_never_permits(
    cs: list[dict[str, Any]], world: StateOfTheWorld, req: Any, action: str
) -> None:
    compiled = _policy(cs, "prohibition", action)
    assert not decide(compiled, req, world)
    assert not evaluate(compiled, req, world).permitted


@settings(max_examples=40, deadline=None)
@given(st.lists(constraints, max_size=3), worlds, requests)
def test_evaluation_is_deterministic_and_fast_path_agrees(
    cs: list[dict[str, Any]], world: StateOfTheWorld, req: Any
) -> None:
    compiled = _policy(cs)
    first = evaluate(compiled, req, world)
    second = evaluate(compiled, req, world)
    assert to_turtle(first) == to_turtle(second)
    assert first.permitted == decide(compiled, req, world)
