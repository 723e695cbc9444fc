"""Shared helpers for the policy engine tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connector.policy import (
    CompiledPolicy,
    EvaluationRequest,
    StateOfTheWorld,
    compile_policy,
    parse_policy,
)
from connector.policy.terms import IRI, ODRL

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "vectors"
POLICIES = Path(__file__).resolve().parents[2] / "policies"
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def need_vectors(sub: str) -> Path:
    """A folder of the shared reference vectors, or skip the test."""
    path = VECTORS / sub
    if not path.is_dir():
        pytest.skip(f"reference vectors not available at {path} (checkout outside the CI layout)")
    return path


def city_policy(name: str) -> CompiledPolicy:
    """Compile one of the city's policies from policies/<name>.jsonld."""
    return compile_policy(parse_policy((POLICIES / f"{name}.jsonld").read_text(encoding="utf-8")))


def request(
    action: str = "read",
    party: str = "did:web:partner.example",
    target: str = "https://w3id.org/klimakommune/hagen/datasets/energie",
    **params: object,
) -> EvaluationRequest:
    """A request; keyword parameters become declared values (IRI or literal)."""
    declared = {}
    for key, value in params.items():
        feature = IRI(key) if ":" in key else ODRL[key]
        values = value if isinstance(value, tuple) else (value,)
        declared[feature] = tuple(values)
    act = IRI(action) if ":" in action else ODRL[action]
    return EvaluationRequest(act, IRI(party), IRI(target), declared)  # type: ignore[arg-type]


def world(now: dt.datetime = NOW, **kwargs: object) -> StateOfTheWorld:
    """A state of the world at ``now``."""
    return StateOfTheWorld(now=now, **kwargs)  # type: ignore[arg-type]


def jsonld_policy(body: dict[str, object]) -> dict[str, object]:
    """A policy document with the ODRL context and a few prefixes."""
    return {
        "@context": [
            "http://www.w3.org/ns/odrl.jsonld",
            {
                "kk": "https://w3id.org/klimakommune/policy#",
                "xsd": "http://www.w3.org/2001/XMLSchema#",
                "geo": "http://www.opengis.net/ont/geosparql#",
                "ex": "http://example.com/",
            },
        ],
        "@type": "Set",
        "uid": "http://example.com/policy/1",
        **body,
    }
