"""Two real connectors: negotiate, transfer and pull the Hagen demo datasets over HTTP."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ROOT
from .dsp_helpers import ENV, did_of, mgmt, negotiate, wait_for

pytestmark = pytest.mark.integration
DS = "https://w3id.org/klimakommune/hagen/datasets/"


def demo_data(data_dir: Path) -> Path:
    """Two days of demo data in ``<data_dir>/demo`` (as ``connector demo`` writes it)."""
    out = data_dir / "demo"
    subprocess.run(
        [sys.executable, "-m", "connector.cli", "demo", "--days", "2", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def agreement_for(consumer: str, provider: str, provider_did: str, dataset_id: str) -> str:
    started = negotiate(consumer, provider, provider_did, dataset_id)
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    agreement: str = done["agreementId"]
    return agreement


def start_transfer(
    consumer: str,
    provider: str,
    provider_did: str,
    agreement: str,
    fmt: str = "HttpData-PULL",
    destination: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "counterPartyAddress": provider + "/api/dsp",
        "counterPartyId": provider_did,
        "agreementId": agreement,
        "format": fmt,
    }
    if destination is not None:
        body["dataAddress"] = destination
    answer = mgmt("POST", consumer, "/transfers", body)
    assert answer.status_code == 201, answer.text
    pid = answer.json()["id"]
    if fmt == "HttpData-PUSH":
        return {"id": pid}
    started = wait_for(consumer, f"/transfers/{pid}", {"STARTED", "TERMINATED"})
    assert started["state"] == "STARTED", started
    return started


def token_of(transfer: dict[str, Any]) -> tuple[str, str]:
    address = transfer["dataAddress"]
    assert address["endpointType"] == "https://w3id.org/idsa/v4.1/HTTP"
    props = {p["name"]: p["value"] for p in address["endpointProperties"]}
    assert props["authType"] == "bearer"
    return address["endpoint"], props["authorization"]


def test_pull_every_demo_dataset(start_connector: Any, tmp_path: Path) -> None:
    demo = demo_data(tmp_path / "provider")
    provider_proc = start_connector("provider", **ENV)
    provider = provider_proc.url
    consumer_proc = start_connector("consumer", **ENV)
    consumer = consumer_proc.url
    provider_did = did_of(provider)
    db = sqlite3.connect(demo / "hagen.db")
    open_sets = {
        "luftqualitaet-boele-eckesey": "luftqualitaet",
        "verkehrszaehlung-ki": "verkehrszaehlung",
        "verkehr-co2-strassenabschnitte": "verkehr_co2",
        "pv-ertrag-staedtische-gebaeude": "pv_ertrag",
        "pegelstaende-baeche": "pegelstaende",
    }
    for slug, table in open_sets.items():
        agreement = agreement_for(consumer, provider, provider_did, DS + slug)
        transfer = start_transfer(consumer, provider, provider_did, agreement)
        endpoint, token = token_of(transfer)
        assert endpoint.startswith(provider + "/api/data/")
        pulled = httpx.get(endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert pulled.status_code == 200, pulled.text
        rows = [json.loads(line) for line in pulled.text.splitlines()]
        expected = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert len(rows) == expected, slug
        # the consumer's own applications read through its management API
        mine = mgmt("GET", consumer, f"/transfers/{transfer['id']}/data")
        assert mine.status_code == 200, mine.text
        assert mine.content == pulled.content
    # geofenced (soil moisture) and purpose-bound aggregates (smart meters) are contracted too:
    # the access-time constraints are judged at each pull, not at negotiation
    agreement = agreement_for(consumer, provider, provider_did, DS + "bodenfeuchte-strassenbaeume")
    endpoint, token = token_of(start_transfer(consumer, provider, provider_did, agreement))
    pulled = httpx.get(endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert pulled.status_code == 200, pulled.text
    total = db.execute("SELECT count(*) FROM bodenfeuchte").fetchone()[0]
    assert 0 < len(pulled.text.splitlines()) <= total
    agreement = agreement_for(consumer, provider, provider_did, DS + "smart-meter-quartier")
    endpoint, token = token_of(start_transfer(consumer, provider, provider_did, agreement))
    auth = {"Authorization": f"Bearer {token}"}
    refused = httpx.get(endpoint, headers=auth, timeout=30)
    assert refused.status_code == 403, refused.text
    assert "purpose" in refused.text.lower() or "zweck" in refused.text.lower()
    wrong = httpx.get(endpoint, params={"purpose": "kk:Marketing"}, headers=auth, timeout=30)
    assert wrong.status_code == 403
    allowed = httpx.get(
        endpoint, params={"purpose": "kk:Energiemanagement"}, headers=auth, timeout=30
    )
    assert allowed.status_code == 200, allowed.text
    aggregates = [json.loads(line) for line in allowed.text.splitlines()]
    assert aggregates and "meter_id" not in aggregates[0]
    # a file source (CSV) is passed through byte for byte
    agreement = agreement_for(consumer, provider, provider_did, DS + "energie-staedtische-gebaeude")
    energy = start_transfer(consumer, provider, provider_did, agreement)
    transfer_id = energy["id"]
    endpoint, token = token_of(energy)
    pulled = httpx.get(endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert pulled.content == (demo / "energie-gebaeude-monat.csv").read_bytes()
    narrowed = httpx.get(
        endpoint, params={"building": "LG-002"}, headers={"Authorization": f"Bearer {token}"}
    )
    got = list(csv.DictReader(io.StringIO(narrowed.text)))
    assert got and {r["building_id"] for r in got} == {"LG-002"}
    # `connector pull` saves a transfer's data through the consumer's management API
    saved = tmp_path / "monat.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.cli",
            "pull",
            "--transfer",
            transfer_id,
            "-o",
            str(saved),
        ],
        cwd=ROOT,
        env=consumer_proc.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert saved.read_bytes() == (demo / "energie-gebaeude-monat.csv").read_bytes()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.cli",
            "pull",
            "--transfer",
            "urn:uuid:nope",
            "-o",
            str(tmp_path / "x"),
        ],
        cwd=ROOT,
        env=consumer_proc.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1 and "404" in refused.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.part").exists()
