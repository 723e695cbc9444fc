"""Decisions per second for each of the city's policies, with and without the full report.

Run: ``.venv/bin/python benchmarks/policy.py [--seconds 0.5]``. One core, one process; each
policy is compiled once, then the same request/state-of-the-world pair is decided repeatedly.
Target: at least 20,000 decisions/s per policy *with* the full compliance report.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from connector.policy import (
    DutyRecord,
    EvaluationRequest,
    PolicyKind,
    StateOfTheWorld,
    compile_policy,
    decide,
    evaluate,
    parse_policy,
)
from connector.policy.terms import IRI, KK, ODRL, REPORT, XSD, Literal

ROOT = Path(__file__).resolve().parents[1] / "policies"
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
PARTY = IRI("did:web:stadtwerke.example")
DATASET = IRI("https://w3id.org/klimakommune/hagen/datasets/energie")
SENSOR = IRI("https://daten.hagen.de/sensors/rathaus")
H = "https://w3id.org/klimakommune/policies/hagen/"


def _scenarios() -> dict[str, tuple[EvaluationRequest, StateOfTheWorld]]:
    base = StateOfTheWorld(now=NOW)
    read = EvaluationRequest(ODRL.read, PARTY, DATASET)
    return {
        "open-data-dl-de-by-2-0": (
            read,
            StateOfTheWorld(
                now=NOW,
                duty_records=(
                    DutyRecord(
                        IRI(H + "open-data-dl-de-by-2-0#attribution"),
                        REPORT.Performed,
                        REPORT.Fulfilled,
                    ),
                ),
            ),
        ),
        "open-data-cc-by-4-0": (
            read,
            StateOfTheWorld(
                now=NOW,
                duty_records=(
                    DutyRecord(
                        IRI(H + "open-data-cc-by-4-0#attribution"),
                        REPORT.Performed,
                        REPORT.Fulfilled,
                    ),
                ),
            ),
        ),
        "partner-only": (
            read,
            StateOfTheWorld(
                now=NOW,
                part_of={PARTY: frozenset({IRI("https://w3id.org/klimakommune/federation")})},
                facts={
                    PARTY: {
                        KK.membershipCredentialType: (KK.MembershipCredential,),
                        KK.membershipCredentialIssuer: (IRI("did:web:federation.klimakommune.de"),),
                    }
                },
            ),
        ),
        "purpose-climate": (
            dataclasses.replace(read, parameters={ODRL.purpose: (KK.Energiemanagement,)}),
            base,
        ),
        "agreement-30-days": (read, base),
        "max-accesses": (read, StateOfTheWorld(now=NOW, counts={None: 42})),
        "aggregate-only": (
            dataclasses.replace(
                read,
                parameters={
                    KK.aggregationPeriod: (Literal("PT1H", XSD.duration),),
                    KK.aggregationFunction: (KK.mean,),
                    KK.kAnonymity: (Literal("7", XSD.integer),),
                },
            ),
            base,
        ),
        "geofence-hagen": (
            EvaluationRequest(ODRL.read, PARTY, SENSOR),
            StateOfTheWorld(
                now=NOW,
                part_of={SENSOR: frozenset({IRI("https://daten.hagen.de/sensors")})},
                facts={
                    SENSOR: {
                        ODRL.spatialCoordinates: (
                            Literal(
                                "POINT(7.4711 51.3594)",
                                "http://www.opengis.net/ont/geosparql#wktLiteral",
                            ),
                        )
                    }
                },
            ),
        ),
        "no-onward-transfer": (read, base),
        "deletion-by-date": (read, base),
    }


def _rate(fn: Callable[[], object], seconds: float) -> float:
    n, batch = 0, 200
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="measuring time per figure")
    args = parser.parse_args()
    print(f"{'policy':<26} {'permit':>6} {'decide/s':>12} {'report/s':>12}")
    worst = float("inf")
    for name, (req, world) in _scenarios().items():
        policy = parse_policy((ROOT / f"{name}.jsonld").read_text(encoding="utf-8"))
        if name == "agreement-30-days":
            policy = dataclasses.replace(
                policy,
                kind=PolicyKind.AGREEMENT,
                issued=Literal("2026-05-20T00:00:00Z", XSD.dateTime),
            )
        compiled = compile_policy(policy)
        permitted = evaluate(compiled, req, world).permitted
        fast = _rate(lambda: decide(compiled, req, world), args.seconds)  # noqa: B023
        full = _rate(lambda: evaluate(compiled, req, world), args.seconds)  # noqa: B023
        worst = min(worst, full)
        print(f"{name:<26} {permitted!s:>6} {fast:>12,.0f} {full:>12,.0f}")
    print(f"slowest with full report: {worst:,.0f} decisions/s (target >= 20,000)")


if __name__ == "__main__":
    main()
