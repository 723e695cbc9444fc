from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connector.testing import make_settings
from connector.web.app import create_app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = create_app(make_settings(tmp_path, port=8181, max_body_bytes=4096, rsa_key=True))
    return TestClient(app)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "keys": "ok"}


def test_readiness_fails_when_database_is_gone(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE schema_migrations")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"


def test_did_document_served(client: TestClient) -> None:
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/did+json")
    doc = response.json()
    assert doc["id"] == "did:web:127.0.0.1%3A8181"
    assert doc["service"][0]["type"] == "DataService"
    chain = client.get("/.well-known/x5u/rsa-chain.pem")
    assert chain.status_code == 200 and b"BEGIN CERTIFICATE" in chain.content


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "not_found"


def test_oversized_body_is_refused_before_parsing(client: TestClient) -> None:
    response = client.post("/healthz", content=b"x" * 5000)
    assert response.status_code == 413
    assert response.json()["reason"] == "too_large"


@pytest.mark.parametrize(
    "path", ["/api/dsp/negotiations/request", "/api/management/negotiations", "/healthz"]
)
def test_oversized_chunked_body_is_refused_before_parsing(client: TestClient, path: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: transfer coding chunked
        for _ in range(8):
            yield b"x" * 1024

    response = client.post(
        path,
        content=chunks(),
        headers={"content-type": "application/json", "X-Api-Key": "test-management-key"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["reason"] == "too_large"


def test_chunked_body_within_the_limit_reaches_the_route(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],'
        yield b' "@type": "CatalogRequestMessage"}'

    response = client.post("/api/dsp/catalog/request", content=chunks())
    assert response.status_code == 401  # read whole, then refused for the missing token
    assert response.json()["@type"] == "CatalogError"


def test_refused_api_key_is_audited_without_the_key(client: TestClient) -> None:
    from connector.audit.query import AuditQuery
    from connector.audit.vocabulary import EventType

    secret = "guess-0123456789-secret"
    response = client.get("/api/audit/events", headers={"X-Api-Key": secret})
    assert response.status_code == 401
    assert response.json()["detail"] == "authentication failed"
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    events = runtime.audit.query(AuditQuery(type=EventType.AUTH_FAILED), after=0, limit=10)
    assert events, "the refusal must be in the audit trail"
    assert secret not in repr(events)


def test_a_server_process_settles_its_heap_before_serving() -> None:
    import gc

    from connector.web.app import settle_heap

    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0  # what exists now is out of the collector's view
        assert gc.get_threshold()[0] >= 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
