"""The OpenAPI document (``GET /openapi.json``) says what the app really does: the API keys as
security schemes, problem answers with their status codes, no 422 for request validation (the
app answers 400), 201 where the DSP endpoints create a process, and the management bodies and
actions an operator may send (documented only: the routes still check the bodies themselves)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from connector.controlplane.listings import DATASET_KEYS
from connector.testing import make_settings
from connector.web import audit, management
from connector.web.app import create_app

PROBLEM_FIELDS = {"type", "title", "status", "detail", "reason"}
AUDITOR = {"X-Api-Key": "test-auditor-key"}
MANAGER = {"X-Api-Key": "test-management-key"}
MANAGEMENT = "/api/management"
COUNTERPARTY = {"counterPartyAddress", "counterPartyId"}
REQUIRED_BODIES = {
    "/datasets": {"title", "source", "policy"},
    "/catalog/request": COUNTERPARTY,
    "/negotiations": COUNTERPARTY | {"offer"},
    "/transfers": COUNTERPARTY | {"agreementId", "format"},
    "/trust/participants": {"did"},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    client = TestClient(create_app(make_settings(folder, port=8181)))
    yield client
    client.app.state.runtime.controlplane.close()  # type: ignore[attr-defined]
    client.close()


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def _operations(document: dict[str, Any], router: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """``(method, path, operation)`` of every route of ``router`` (as the document spells it)."""
    found = []
    for route in router.routes:
        assert isinstance(route, APIRoute)
        path = route.path.replace(":path}", "}")
        for method in route.methods:
            found.append((method, path, document["paths"][path][method.lower()]))
    return found


def _assert_problem(response: dict[str, Any]) -> None:
    schema = response["content"]["application/problem+json"]["schema"]
    assert set(schema["required"]) == PROBLEM_FIELDS
    assert set(schema["properties"]) >= PROBLEM_FIELDS


def test_the_api_keys_are_security_schemes(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    for name in ("ManagementApiKey", "AuditorApiKey"):
        assert schemes[name]["type"] == "apiKey"
        assert (schemes[name]["in"], schemes[name]["name"]) == ("header", "X-Api-Key")
    for _, path, operation in _operations(document, management.router):
        assert operation["security"] == [{"ManagementApiKey": []}], path
    for _, path, operation in _operations(document, audit.router):
        assert operation["security"] == [{"AuditorApiKey": []}], path
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert "security" not in document["paths"]["/api/dsp/catalog/request"]["post"]


def test_management_errors_are_documented_as_problems(document: dict[str, Any]) -> None:
    conflicts = set()
    for method, path, operation in _operations(document, management.router):
        responses = operation["responses"]
        for status in ("400", "401", "404"):
            _assert_problem(responses[status])
        assert "422" not in responses, (method, path)
        if "409" in responses:
            _assert_problem(responses["409"])
            conflicts.add((method, path))
    assert conflicts == {
        ("POST", "/api/management/datasets"),
        ("POST", "/api/management/negotiations/{pid}/{action}"),
        ("POST", "/api/management/transfers/{pid}/{action}"),
    }
    forwarded = document["paths"]["/api/management/catalog/request"]["post"]["responses"]
    _assert_problem(forwarded["502"])
    _assert_problem(forwarded["503"])


def test_request_validation_is_documented_as_the_400_it_is(
    client: TestClient, document: dict[str, Any]
) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]
    # e.g. the audit API, documented by FastAPI only: its invalid parameters are a 400 problem
    _assert_problem(document["paths"]["/api/audit/events"]["get"]["responses"]["400"])
    answered = client.get("/api/audit/events", params={"limit": "x"}, headers=AUDITOR)
    assert answered.status_code == 400
    assert set(answered.json()) >= PROBLEM_FIELDS


@pytest.mark.parametrize(
    "headers", [{}, {"X-Api-Key": ""}, {"X-Api-Key": "wrong"}, AUDITOR], ids=str
)
def test_a_missing_or_wrong_key_is_the_documented_401_problem(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/api/management/datasets", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://w3id.org/klimakommune/problems#bad_api_key",
        "title": "Unauthorized",
        "status": 401,
        "detail": "authentication failed",
        "reason": "bad_api_key",
    }
    assert response.headers["www-authenticate"] == 'ApiKey header="X-Api-Key"'  # RFC 9110


def test_a_401_elsewhere_asks_for_a_bearer_token(client: TestClient) -> None:
    for method, path in (("POST", "/api/dsp/catalog/request"), ("GET", "/api/data/unknown")):
        response = client.request(method, path, json={})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_dsp_creation_is_documented_as_201(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in (
        "/api/dsp/negotiations/request",
        "/api/dsp/negotiations/offers",
        "/api/dsp/transfers/request",
    ):
        responses = paths[path]["post"]["responses"]
        assert "201" in responses and "200" not in responses, path
    for path in ("/api/dsp/negotiations/{pid}/request", "/api/dsp/catalog/request"):
        assert "200" in paths[path]["post"]["responses"], path
    errors = paths["/api/dsp/negotiations/{pid}/events"]["post"]["responses"]
    schema = errors["400"]["content"]["application/json"]["schema"]
    assert "ContractNegotiationError" in schema["properties"]["@type"]["enum"]


def _body(document: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(schema, examples)`` of the JSON body of ``POST /api/management<path>``; every example
    is valid by the schema."""
    content = document["paths"][MANAGEMENT + path]["post"]["requestBody"]["content"]
    media = content["application/json"]
    schema, examples = media["schema"], media["examples"]
    assert examples, path
    Draft202012Validator.check_schema(schema)
    for name, example in examples.items():
        errors = list(Draft202012Validator(schema).iter_errors(example["value"]))
        assert not errors, (path, name, errors)
    return schema, examples


def _variants(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variant["title"]: variant for variant in schema["anyOf"]}


@pytest.mark.parametrize("path", sorted(REQUIRED_BODIES))
def test_every_management_body_is_documented_with_its_required_properties(
    document: dict[str, Any], path: str
) -> None:
    schema, _ = _body(document, path)
    assert schema["type"] == "object"
    assert set(schema["required"]) == REQUIRED_BODIES[path]
    assert set(schema["properties"]) >= REQUIRED_BODIES[path]
    assert all(schema["properties"][name].get("description") for name in schema["required"])


def test_the_dataset_body_is_documented_as_the_listing_reads_it(document: dict[str, Any]) -> None:
    schema, _ = _body(document, "/datasets")
    properties = schema["properties"]
    assert schema["additionalProperties"] is False  # an unknown property is a 400
    assert set(properties) == DATASET_KEYS  # what the listing reads, no more, no less
    for mode in ("negotiation", "transfer"):
        assert properties[mode]["enum"] == ["auto", "manual"]
    assert [v["properties"]["type"]["const"] for v in properties["source"]["oneOf"]] == [
        "file",
        "sql",
        "http",
    ]
    forms = [form.get("type") for form in properties["policy"]["oneOf"]]
    assert forms == ["object", "string"]  # an ODRL policy or a policy id
    transfer, _ = _body(document, "/transfers")
    assert transfer["properties"]["dataDestination"]["required"] == ["endpointType"]
    offer = _body(document, "/negotiations")[0]["properties"]["offer"]
    assert set(offer["required"]) == {"@id", "target"}


def test_the_policy_body_is_documented_in_both_forms(document: dict[str, Any]) -> None:
    schema, examples = _body(document, "/policies")
    variants = _variants(schema)
    assert variants["Policy with an id"]["required"] == ["policy"]
    assert {"permission", "prohibition", "uid"} <= set(variants["ODRL policy"]["properties"])
    assert len(examples) == 2


@pytest.mark.parametrize(
    ("kind", "actions"),
    [
        ("negotiations", ["offer", "agree", "accept", "request", "terminate"]),
        ("transfers", ["start", "suspend", "complete", "terminate"]),
    ],
)
def test_the_process_actions_are_listed_with_their_bodies(
    client: TestClient, document: dict[str, Any], kind: str, actions: list[str]
) -> None:
    path = f"/{kind}/{{pid}}/{{action}}"
    operation = document["paths"][MANAGEMENT + path]["post"]
    (action,) = [p for p in operation["parameters"] if p["name"] == "action"]
    assert action["in"] == "path"
    assert action["schema"]["enum"] == actions
    schema, _ = _body(document, path)
    variants = _variants(schema)
    assert "required" not in operation["requestBody"]  # agree, accept, start, complete: none
    assert [v for v in variants.values() if v["type"] == "null"]
    if kind == "negotiations":
        assert variants["offer, request"]["required"] == ["offer"]
        assert set(variants["terminate"]["properties"]) == {"reason"}
    else:
        assert set(variants["suspend, terminate"]["properties"]) == {"reason"}
    # documented, not enforced: an action not listed is still the route's own 404
    answer = client.post(f"{MANAGEMENT}/{kind}/p1/bogus", headers=MANAGER, json={"reason": 1})
    assert answer.status_code == 404
    assert answer.json()["reason"] == "unknown_action"


def test_the_documented_examples_are_accepted_and_the_checks_stay_the_routes(
    client: TestClient, document: dict[str, Any]
) -> None:
    for path in ("/policies", "/datasets", "/trust/participants"):
        _, examples = _body(document, path)
        for number, example in enumerate(examples.values()):
            body = example["value"]
            if path == "/datasets":  # a dataset id of its own (the demo lists the first)
                body = {**body, "id": f"https://example.org/datasets/openapi-{number}"}
            answer = client.post(MANAGEMENT + path, headers=MANAGER, json=body)
            assert answer.status_code == 201, (path, answer.text)
    # a body against the schema gets the route's precise 400 (not a generic validation error)
    answer = client.post(MANAGEMENT + "/datasets", headers=MANAGER, json={"title": "t"})
    assert answer.status_code == 400
    assert (answer.json()["reason"], answer.json()["detail"]) == (
        "invalid_source",
        "source must be an object",
    )
