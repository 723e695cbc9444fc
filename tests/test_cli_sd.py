"""``connector sd build|sign|verify|revoke`` as an operator runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(ROOT / "self-descriptions" / "hagen.toml", tmp_path / "hagen.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://connector.hagen.example")
    monkeypatch.setenv("CONNECTOR_PARTICIPANT_CONFIG", str(tmp_path / "hagen.toml"))
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_build_sign_verify_revoke(workdir: Path) -> None:
    code, out = run("sd", "build")
    assert code == 0, out
    code, out = run("sd", "sign", "--out", "signed")
    assert code == 0, out
    signed = workdir / "signed"
    assert (signed / ".well-known" / "did.json").is_file()
    files = sorted(
        p for p in signed.iterdir() if p.suffix in {".json", ".jwt"} and p.name[0] != "."
    )
    code, out = run("sd", "verify", *map(str, files))
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == len(files)
    assert all(line.startswith("OK") for line in lines)

    code, out = run("sd", "revoke", "legal-person", "--dir", "signed")
    assert code == 0, out
    code, out = run(
        "sd", "verify", str(signed / "legal-person.json"), str(signed / "status-list.json")
    )
    assert code == 1
    assert "FAIL" in out and "revoked" in out
    code, out = run("sd", "revoke", "legal-person", "--dir", "signed", "--undo")
    assert code == 0
    code, out = run(
        "sd", "verify", str(signed / "legal-person.json"), str(signed / "status-list.json")
    )
    assert code == 0, out


def test_verify_reports_each_failure_on_one_line(workdir: Path) -> None:
    assert run("sd", "build")[0] == 0
    assert run("sd", "sign", "--out", "signed")[0] == 0
    signed = workdir / "signed"
    doc = json.loads((signed / "service-offering.json").read_text())
    doc["credentialSubject"]["name"] = "Manipuliert"
    (signed / "service-offering.json").write_text(json.dumps(doc))
    (signed / "broken.json").write_text("{not json")
    (signed / "garbage.jwt").write_text("a.b.c")
    paths = [
        signed / "service-offering.json",
        signed / "broken.json",
        signed / "garbage.jwt",
        signed / "legal-person.json",
        signed / "status-list.json",
        workdir / "hagen.toml",
    ]
    code, out = run("sd", "verify", *map(str, paths))
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == len(paths)
    assert lines[0].startswith("FAIL") and "bad_signature" in lines[0]
    assert lines[1].startswith("FAIL")
    assert lines[2].startswith("FAIL")
    assert lines[3].startswith("OK")
    assert lines[5].startswith("SKIP")


def test_verify_without_the_issuers_did_document_fails_offline(workdir: Path) -> None:
    assert run("sd", "build")[0] == 0
    assert run("sd", "sign", "--out", "signed")[0] == 0
    (workdir / "signed" / ".well-known" / "did.json").unlink()
    code, out = run("sd", "verify", str(workdir / "signed" / "legal-person.json"))
    assert code == 1
    assert "unknown_did" in out or "did_unavailable" in out


def test_revoke_with_foreign_keys_is_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("sd", "build")[0] == 0
    assert run("sd", "sign", "--out", "signed")[0] == 0
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(workdir / "other-var"))
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://other.example")
    code, out = run("sd", "revoke", "legal-person", "--dir", "signed")
    assert code == 1
    assert "signed by" in out
