"""Two real connectors: a negotiation, a transfer and a pull leave exactly the expected audit
events, in order, on both sides; ``connector audit verify`` passes on both databases and
locates an edited row."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from connector.stores.database import create_db_engine

from .conftest import ROOT, ConnectorProcess
from .dsp_helpers import ENV, did_of, dsp_as, mgmt, negotiate, wait_for
from .test_dataplane_pull import start_transfer, token_of

pytestmark = pytest.mark.integration
AUDITOR = {"X-Api-Key": "it-auditor-key"}
DATASET = "https://example.org/dataset/audited"
CSV = "month,value\n2025-01,1\n2025-02,2\n"


def head(url: str) -> int:
    answer = httpx.get(url + "/api/audit/checkpoints", headers=AUDITOR, timeout=10)
    assert answer.status_code == 200, answer.text
    seq: int = answer.json()["head"]["seq"]
    return seq


def events_after(url: str, after: int) -> list[dict[str, Any]]:
    answer = httpx.get(
        url + "/api/audit/events", params={"after": after, "limit": 1000}, headers=AUDITOR
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def summary(items: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Each event as (type, from, to, message) for state changes, else (type, result)."""
    out: list[tuple[str, ...]] = []
    for item in items:
        details = item.get("details") or {}
        if item["type"].endswith("state_changed"):
            out.append((item["type"], str(details["from"]), details["to"], details["message"]))
        else:
            out.append((item["type"], item["result"]))
    return out


def audit_cli(proc: ConnectorProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", "audit", *args],
        cwd=ROOT,
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


NS = "negotiation.state_changed"
TS = "transfer.state_changed"
REQ, AGR = "ContractRequestMessage", "ContractAgreementMessage"
VER, FIN = "ContractAgreementVerificationMessage", "ContractNegotiationEventMessage:FINALIZED"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest) -> Iterator[list[dict[str, str]]]:
    """Extra environment of the two connectors: their own SQLite files (the default), or two
    throwaway schemas on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield [{}, {}]
        return
    base: str = request.getfixturevalue("postgres_url")
    admin = create_db_engine(base, pool_size=1)
    names = [f"it_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f"CREATE SCHEMA {name}"))
    sep = "&" if "?" in base else "?"
    try:
        yield [
            {"CONNECTOR_DATABASE_URL": f"{base}{sep}options=-csearch_path%3D{name}"}
            for name in names
        ]
    finally:
        try:
            with admin.begin() as conn:
                for name in names:
                    conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        finally:
            admin.dispose()


def query_one(proc: ConnectorProcess, sql: str) -> Any:
    """One value from the connector's database."""
    url = proc.env.get("CONNECTOR_DATABASE_URL") or f"sqlite:///{proc.data_dir / 'connector.db'}"
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def tamper(proc: ConnectorProcess, sql: str, **params: Any) -> None:
    """Change the connector's database directly (as someone with write access could)."""
    url = proc.env.get("CONNECTOR_DATABASE_URL") or f"sqlite:///{proc.data_dir / 'connector.db'}"
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def test_negotiation_transfer_and_pull_leave_the_expected_trail(
    databases: list[dict[str, str]], start_connector: Any
) -> None:
    # databases first: its teardown (DROP SCHEMA) runs after the connectors have stopped
    provider_proc = start_connector("provider", **ENV, **databases[0])
    consumer_proc = start_connector("consumer", **ENV, **databases[1])
    provider, consumer = provider_proc.url, consumer_proc.url
    provider_did, consumer_did = did_of(provider), did_of(consumer)
    p0, c0 = head(provider), head(consumer)
    (provider_proc.data_dir / "monat.csv").write_text(CSV)
    created = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": DATASET,
            "title": "audited",
            "policy": "open-data-dl-de-by-2-0",
            "source": {"type": "file", "path": "monat.csv", "mediaType": "text/csv"},
        },
    )
    assert created.status_code == 201, created.text

    started = negotiate(consumer, provider, provider_did, DATASET)
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    wait_for(provider, f"/negotiations/{done['providerPid']}", {"FINALIZED"})
    agreement = done["agreementId"]
    transfer = start_transfer(consumer, provider, provider_did, agreement)
    wait_for(provider, f"/transfers/{transfer['providerPid']}", {"STARTED"})
    endpoint, token = token_of(transfer)
    pulled = httpx.get(endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert pulled.text == CSV
    assert mgmt("POST", consumer, f"/transfers/{transfer['id']}/complete").status_code == 200
    wait_for(consumer, f"/transfers/{transfer['id']}", {"COMPLETED"})
    wait_for(provider, f"/transfers/{transfer['providerPid']}", {"COMPLETED"})

    on_provider = events_after(provider, p0)
    assert summary(on_provider) == [
        ("dataset.changed", "ok"),
        ("catalog.requested", "ok"),
        (NS, "None", "REQUESTED", REQ),
        ("policy.decided", "ok"),
        (NS, "REQUESTED", "AGREED", AGR),
        (NS, "AGREED", "VERIFIED", VER),
        (NS, "VERIFIED", "FINALIZED", FIN),
        ("policy.decided", "ok"),
        (TS, "None", "REQUESTED", "TransferRequestMessage"),
        (TS, "REQUESTED", "STARTED", "TransferStartMessage"),
        ("data.accessed", "ok"),
        (TS, "STARTED", "COMPLETED", "TransferCompletionMessage"),
    ]
    on_consumer = events_after(consumer, c0)
    assert summary(on_consumer) == [
        (NS, "None", "REQUESTED", REQ),
        (NS, "REQUESTED", "AGREED", AGR),
        (NS, "AGREED", "VERIFIED", VER),
        (NS, "VERIFIED", "FINALIZED", FIN),
        (TS, "None", "REQUESTED", "TransferRequestMessage"),
        (TS, "REQUESTED", "STARTED", "TransferStartMessage"),
        (TS, "STARTED", "COMPLETED", "TransferCompletionMessage"),
    ]
    # who, what, under which agreement
    catalog = on_provider[1]
    assert catalog["participant"] == consumer_did and catalog["details"]["shown"] >= 1
    decided = on_provider[3]
    assert decided["details"]["decision"] == "permit"
    assert len(decided["details"]["report_digest"]) == 64 and decided["details"]["explanation"]
    for side, items in ((provider, on_provider), (consumer, on_consumer)):
        agreed = next(e for e in items if e["type"] == NS and e["details"]["to"] == "AGREED")
        assert agreed["details"]["agreement"] == agreement, side
        assert agreed["details"]["policy_hash"].startswith("sha256:"), side
    agreed = next(e for e in on_provider if e["type"] == NS and e["details"]["to"] == "AGREED")
    assert agreed["details"]["policy_hash_of"] == "policy_version"
    assert {e["agreement"] for e in on_provider[7:]} == {agreement}
    assert {e["dataset"] for e in on_provider[2:]} == {DATASET}
    assert {e["participant"] for e in on_consumer} == {provider_did}
    assert all(token not in str(e) for e in on_provider)
    # the auditor sees the agreement with the policy version it was made under
    listed = httpx.get(provider + "/api/audit/agreements", headers=AUDITOR, timeout=10).json()
    (row,) = [a for a in listed["items"] if a["id"] == agreement]
    assert row["policy_version"]["id"] == "open-data-dl-de-by-2-0"
    assert row["policy_hash"] == agreed["details"]["policy_hash"]
    versions = httpx.get(provider + "/api/audit/policies", headers=AUDITOR, timeout=10).json()
    assert any(v["hash"] == row["policy_hash"] and v["current"] for v in versions["items"])

    # the catalogue event counts what the policy hid; lookups by id are events too
    total = query_one(provider_proc, "SELECT count(*) FROM cp_datasets")
    assert catalog["details"]["shown"] + catalog["details"]["hidden"] == total
    dsp = dsp_as(consumer_proc, consumer, provider_did)
    base = provider + "/api/dsp/catalog/datasets/"
    assert dsp("GET", base + quote(DATASET, safe="")).status_code == 200
    assert dsp("GET", base + "urn:no-such-dataset").status_code == 404
    lookups = events_after(provider, on_provider[-1]["seq"])
    assert [(e["type"], e["dataset"], e["details"]) for e in lookups] == [
        ("catalog.requested", DATASET, {"shown": 1, "hidden": 0}),
        ("catalog.requested", "urn:no-such-dataset", {"shown": 0, "hidden": 0}),
    ]

    for proc in (provider_proc, consumer_proc):
        checked = audit_cli(proc, "verify")
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # an edited row is found and located
    edited = on_provider[3]["seq"]
    tamper(
        provider_proc,
        "UPDATE audit_events SET details = replace(details, 'permit', 'deny') WHERE seq = :seq",
        seq=edited,
    )
    broken = audit_cli(provider_proc, "verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "edited" in broken.stdout and str(edited) in broken.stdout
