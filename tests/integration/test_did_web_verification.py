"""A real connector process publishes; an independent verifier resolves its did:web over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def verify_cli(paths: list[Path], *extra: str, insecure: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    if insecure:
        env["CONNECTOR_ALLOW_INSECURE_DID_WEB"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", "sd", "verify", *extra, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_published_credentials_verify_online_via_did_web(
    start_connector: Any, tmp_path: Path
) -> None:
    node = start_connector("hagen")
    did_doc = httpx.get(node.url + "/.well-known/did.json").json()
    assert did_doc["id"].startswith("did:web:127.0.0.1%3A")
    download = tmp_path / "download"
    download.mkdir()
    files = []
    for sd_id in ("legal-person", "registration-number", "dataset-industrie-co2", "status-list"):
        body = httpx.get(f"{node.url}/self-descriptions/{sd_id}").text
        (download / f"{sd_id}.json").write_text(body)
        files.append(download / f"{sd_id}.json")
    token = httpx.get(
        f"{node.url}/self-descriptions/legal-person", headers={"Accept": "application/vc+jwt"}
    ).text
    (download / "legal-person.jwt").write_text(token)
    files.append(download / "legal-person.jwt")

    result = verify_cli(files, "--online", insecure=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK") == len(files)

    offline = verify_cli(files, insecure=True)
    assert offline.returncode == 1
    refused = verify_cli(files, "--online", insecure=False)
    assert refused.returncode == 1
    assert any(
        r in refused.stdout for r in ("insecure_did_url", "private_address", "did_unavailable")
    )


def test_revocation_reaches_online_verifiers(start_connector: Any, tmp_path: Path) -> None:
    node = start_connector("hagen")
    credential = tmp_path / "service-offering.json"
    credential.write_text(httpx.get(f"{node.url}/self-descriptions/service-offering").text)
    assert verify_cli([credential], "--online", "--no-shapes", insecure=True).returncode == 0
    revoke = subprocess.run(
        [sys.executable, "-m", "connector.cli", "sd", "revoke", "service-offering"],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert revoke.returncode == 0, revoke.stderr
    again = verify_cli([credential], "--online", "--no-shapes", insecure=True)
    assert again.returncode == 1
    assert "revoked" in again.stdout
