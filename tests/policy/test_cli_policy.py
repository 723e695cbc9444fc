"""``connector policy validate|evaluate|explain``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from connector.cli_policy import policy_app
from connector.policy.reader import read_graph
from connector.policy.terms import RDF, REPORT

from .conftest import POLICIES, VECTORS, need_vectors

runner = CliRunner()
SUITE = VECTORS / "odrl-test-suite" / "data"


def test_validate_city_policies_ok() -> None:
    result = runner.invoke(policy_app, ["validate", *map(str, sorted(POLICIES.glob("*.jsonld")))])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == 10


def test_validate_reports_problems_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix odrl: <http://www.w3.org/ns/odrl/2/> .\n"
        "<urn:p> a odrl:Set ; odrl:permission [ odrl:action <urn:teleport> ] .\n",
        encoding="utf-8",
    )
    broken = tmp_path / "broken.jsonld"
    broken.write_text("{nope", encoding="utf-8")
    result = runner.invoke(policy_app, ["validate", str(bad), str(broken)])
    assert result.exit_code == 1
    assert "unknown action <urn:teleport>" in result.output or "urn:teleport" in result.output
    assert "malformed_jsonld" in result.output


def test_evaluate_prints_a_report() -> None:
    need_vectors("odrl-test-suite")
    args = [
        "evaluate",
        "--policy",
        str(SUITE / "policies/policy-8.ttl"),
        "--request",
        str(SUITE / "requests/request-1.ttl"),
        "--sotw",
        str(SUITE / "sotw/temporal.ttl"),
    ]
    for fmt in ("turtle", "json-ld"):
        result = runner.invoke(policy_app, [*args, "--format", fmt])
        assert result.exit_code == 0, result.output
        g = read_graph(result.output, "turtle" if fmt == "turtle" else "json-ld")
        (perm,) = g.subjects(RDF.type, REPORT.PermissionReport)
        assert g.value(perm, REPORT.activationState) == REPORT.Active


def test_explain_policy_and_decision() -> None:
    result = runner.invoke(
        policy_app, ["explain", str(POLICIES / "purpose-climate.jsonld"), "--lang", "en"]
    )
    assert result.exit_code == 0 and "Permitted: use" in result.output
    need_vectors("odrl-test-suite")
    result = runner.invoke(
        policy_app,
        [
            "explain",
            str(SUITE / "policies/policy-19.ttl"),
            "--request",
            str(SUITE / "requests/request-1.ttl"),
            "--sotw",
            str(SUITE / "sotw/dutyViolated.ttl"),
            "--lang",
            "de",
        ],
    )
    assert result.exit_code == 0
    assert result.output.startswith(
        "Zugriff verweigert, weil die Pflicht bezahlen nicht erfüllt ist"
    )


def test_evaluate_with_missing_time_fails_cleanly(tmp_path: Path) -> None:
    need_vectors("odrl-test-suite")
    empty = tmp_path / "sotw.ttl"
    empty.write_text("<urn:a> <urn:b> <urn:c> .", encoding="utf-8")
    result = runner.invoke(
        policy_app,
        [
            "evaluate",
            "--policy",
            str(SUITE / "policies/policy-8.ttl"),
            "--request",
            str(SUITE / "requests/request-1.ttl"),
            "--sotw",
            str(empty),
        ],
    )
    assert result.exit_code == 1
