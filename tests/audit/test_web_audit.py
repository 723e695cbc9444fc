from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from connector.audit.checkpoint import trusted_keys
from connector.audit.export import ExportReader
from connector.audit.proof import check_proof
from connector.audit.vocabulary import EventType, Result
from connector.clock import FixedClock
from connector.model.contract import Agreement
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.testing import make_settings
from connector.web import audit, problems
from connector.web.app import build_runtime

KEY = {"X-Api-Key": "test-auditor-key"}
A, B = "did:web:a.example", "did:web:b.example"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    clock = FixedClock("2026-02-01T10:00:00Z")
    settings = make_settings(tmp_path, participant_config=tmp_path / "no-self-descriptions.toml")
    runtime = build_runtime(settings, clock)
    app = FastAPI()
    problems.install(app)
    app.state.runtime = runtime
    app.include_router(audit.router)
    store = audit.get_audit_store(runtime)
    for i in range(12):
        clock.advance(600)
        partner = A if i % 3 else B
        store.record(
            EventType.DATA_ACCESSED,
            actor=partner,
            participant=partner,
            dataset=f"urn:dataset:{i % 2}",
            agreement=f"urn:agreement:{partner}",
            result=Result.DENIED if i == 5 else Result.OK,
            details={"bytes": 1000, "duration_ms": 4},
        )
    store.checkpoint()
    with TestClient(app) as test_client:
        yield test_client
    runtime.engine.dispose()


def _paths() -> list[str]:
    return [r.path.replace("{seq}", "3") for r in audit.router.routes if isinstance(r, APIRoute)]


def test_every_route_needs_the_auditor_key(client: TestClient) -> None:
    assert len(_paths()) == 9
    for path in _paths():
        for headers in ({}, {"X-Api-Key": "wrong"}, {"X-Api-Key": "test-management-key"}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.json()["reason"] == "bad_api_key"
        assert client.get(path, headers=KEY).status_code == 200, path


def test_nothing_can_be_written(client: TestClient) -> None:
    assert all(r.methods == {"GET"} for r in audit.router.routes if isinstance(r, APIRoute))
    before = client.get("/api/audit/checkpoints", headers=KEY).json()["head"]
    for path in [*_paths(), "/api/audit/events/", "/api/audit"]:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = client.request(method, path, headers=KEY, json={"seq": 1})
            assert response.status_code in {404, 405}, (method, path)
    assert client.get("/api/audit/checkpoints", headers=KEY).json()["head"] == before


def test_list_and_filter(client: TestClient) -> None:
    page = client.get("/api/audit/events", params={"limit": 5}, headers=KEY).json()
    assert [i["seq"] for i in page["items"]] == [1, 2, 3, 4, 5] and page["next_after"] == 5
    rest = client.get("/api/audit/events", params={"after": 5}, headers=KEY).json()
    assert len(rest["items"]) == 7 and rest["next_after"] is None
    by_b = client.get("/api/audit/events", params={"participant": B}, headers=KEY).json()
    assert [i["seq"] for i in by_b["items"]] == [1, 4, 7, 10]
    params = {
        "since": "2026-02-01T10:30:00",
        "until": "2026-02-01T11:00:00Z",
        "dataset": "urn:dataset:0",
    }
    window = client.get("/api/audit/events", params=params, headers=KEY).json()
    assert [i["seq"] for i in window["items"]] == [3, 5]
    denied = client.get("/api/audit/events", params={"result": "denied"}, headers=KEY).json()
    assert [i["seq"] for i in denied["items"]] == [6]
    typed = client.get("/api/audit/events", params={"type": "auth.failed"}, headers=KEY).json()
    assert typed["items"] == []
    bad = client.get("/api/audit/events", params={"type": "nope"}, headers=KEY)
    assert bad.status_code == 400


def test_event_with_proof(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    pinned = trusted_keys(runtime.did_document)
    body = client.get("/api/audit/events/3", headers=KEY).json()
    assert body["entry"]["seq"] == 3
    proof = body["proof"]
    assert proof["previous"]["seq"] == 2 and proof["next"]["seq"] == 4
    assert proof["checkpoint"]["seq"] == 12
    assert check_proof(proof, pinned) is None
    proof["path"][3]["body_digest"] = "0" * 64
    assert check_proof(proof, pinned) == "the path breaks at 7"
    assert client.get("/api/audit/events/99", headers=KEY).status_code == 404


def test_exports_stream_and_verify(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    response = client.get("/api/audit/export.jsonl", headers=KEY)
    assert response.headers["content-type"].startswith("application/jsonl")
    assert "attachment" in response.headers["content-disposition"]
    report = ExportReader.open(response.text.splitlines()).verify(
        trusted_keys(runtime.did_document)
    )
    assert report.ok and report.checked == 12
    csv_response = client.get("/api/audit/export.csv", params={"participant": A}, headers=KEY)
    rows = list(csv.reader(io.StringIO(csv_response.text)))
    assert len(rows) == 1 + 8 and rows[0][0] == "seq"


def test_checkpoints_verify_and_partner_report(client: TestClient) -> None:
    checkpoints = client.get("/api/audit/checkpoints", headers=KEY).json()
    assert checkpoints["head"]["seq"] == 12
    assert [c["kind"] for c in checkpoints["items"]] == ["on_demand"]
    verified = client.get("/api/audit/verify", headers=KEY).json()
    assert verified["ok"] and verified["checkpoints_verified"] == 1 and verified["warnings"] == []
    report = client.get("/api/audit/reports/partners", headers=KEY).json()["items"]
    by = {r["participant"]: r for r in report}
    assert by[A]["accesses"] == 8 and by[A]["bytes"] == 8000 and by[A]["denials"] == 1
    assert by[B]["datasets"] == {
        "urn:dataset:0": {"accesses": 2, "bytes": 2000, "denials": 0},
        "urn:dataset:1": {"accesses": 2, "bytes": 2000, "denials": 0},
    }
    since = (dt.datetime(2026, 2, 1, 11, 0, tzinfo=dt.UTC)).isoformat()
    later = client.get("/api/audit/reports/partners", params={"since": since}, headers=KEY).json()
    assert sum(r["accesses"] for r in later["items"]) == 7


def test_policy_versions_and_agreements(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    clock, store = runtime.clock, runtime.audit
    catalog = SqlCatalogStore(runtime.engine, clock)
    catalog.audit = store
    catalog.save_policy("open", {"permission": [{"action": "use"}]}, "urn:policy:open")
    clock.advance(600)
    v2 = catalog.save_policy("open", {"permission": [{"action": "read"}]}, "urn:policy:open")
    contracts = SqlControlPlaneStore(runtime.engine, clock)
    with contracts.transaction() as tx:
        agreement = Agreement(
            id="urn:agreement:1",
            target="urn:dataset:0",
            assigner="did:web:us.example",
            assignee=A,
            timestamp=clock.now(),
            policy={"permission": [{"action": "read"}]},
            policy_id="open",
            policy_hash=v2.hash,
        )
        tx.save_agreement(agreement, negotiation_id="urn:negotiation:1")
    versions = client.get("/api/audit/policies", headers=KEY).json()["items"]
    assert [(v["policy"], v["version"], v["current"]) for v in versions] == [
        ("open", 1, False),
        ("open", 2, True),
    ]
    assert versions[0]["valid_until"] == versions[1]["valid_from"] is not None
    assert versions[1]["valid_until"] is None
    assert all(v["hash"].startswith("sha256:") for v in versions)
    changes = client.get("/api/audit/events", params={"type": "policy.changed"}, headers=KEY)
    recorded = [e["details"]["new_hash"] for e in changes.json()["items"]]
    assert recorded == [v["hash"] for v in versions]
    agreements = client.get("/api/audit/agreements", params={"participant": A}, headers=KEY)
    (item,) = agreements.json()["items"]
    assert item["id"] == "urn:agreement:1" and item["assignee"] == A
    assert item["policy_version"] == {"id": "open", "version": 2}
    assert item["policy_hash"] == versions[1]["hash"]
    other = client.get("/api/audit/agreements", params={"participant": B}, headers=KEY)
    assert other.json()["items"] == []
