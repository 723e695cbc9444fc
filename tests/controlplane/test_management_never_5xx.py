"""Odd-but-valid and invalid policies and datasets through the management API: every answer is
2xx or 4xx, and both catalogues (management and DSP) still answer 2xx afterwards — never 5xx."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.clock import SystemClock
from connector.credentials.did_web import build_did_document
from connector.identity.tokens import SelfIssuedTokenSource
from connector.testing import make_settings, throwaway_keyset
from connector.web.app import create_app

PEER = "did:web:peer.test"
KEY = {"X-Api-Key": "test-management-key"}
CATALOG_REQUEST = {
    "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
    "@type": "CatalogRequestMessage",
}
SOURCE = {"type": "file", "path": "a.csv", "mediaType": "text/csv"}
_ids = itertools.count()


class Connector:
    def __init__(self, client: TestClient, tokens: SelfIssuedTokenSource, own: str) -> None:
        self.client = client
        self.tokens = tokens
        self.own = own

    def dsp_headers(self) -> dict[str, str]:
        return {"Authorization": self.tokens.token_for(self.own)}


@pytest.fixture(scope="module")
def connector() -> Iterator[Connector]:
    with tempfile.TemporaryDirectory() as folder:
        client = TestClient(create_app(make_settings(Path(folder), port=8181)))
        keyset = throwaway_keyset(PEER)
        document = build_did_document(keyset)
        document["capabilityInvocation"] = list(document["authentication"])
        client.app.state.runtime.resolver.pin(document)  # type: ignore[attr-defined]
        own = client.get("/.well-known/did.json").json()["id"]
        yield Connector(client, SelfIssuedTokenSource(keyset, SystemClock()), own)
        client.close()


def _policy(constraint: Any) -> dict[str, Any]:
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "uid": f"https://example.org/policies/odd-{next(_ids)}",
        "permission": [{"action": "use", "constraint": [constraint]}],
    }


def _assert_catalogues_answer(connector: Connector, dataset_id: str | None) -> None:
    client = connector.client
    own = client.get("/api/management/catalog", headers=KEY, params={"limit": 500})
    assert own.status_code == 200, own.text
    dsp = client.post(
        "/api/dsp/catalog/request", json=CATALOG_REQUEST, headers=connector.dsp_headers()
    )
    assert dsp.status_code == 200, dsp.text
    if dataset_id is not None:
        one = client.get(
            f"/api/dsp/catalog/datasets/{quote(dataset_id, safe='')}",
            headers=connector.dsp_headers(),
        )
        assert one.status_code < 500, one.text
        listed = client.get(f"/api/management/datasets/{quote(dataset_id, safe='')}", headers=KEY)
        assert listed.status_code == 200, listed.text


def _post_dataset(connector: Connector, body: Any) -> str | None:
    response = connector.client.post("/api/management/datasets", headers=KEY, json=body)
    assert response.status_code < 500, response.text
    assert response.status_code in (201, 400, 409, 413, 422), response.text
    if response.status_code == 201:
        created: str = response.json()["id"]
        return created
    assert response.json()["reason"]
    return None


scalars = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["2026-12-31", "P30D", "kk:Energiemanagement", "http://x.example/a"]),
)
operands = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries(
        {"@value": scalars},
        optional={
            "@type": st.sampled_from(
                [
                    "xsd:integer",
                    "xsd:date",
                    "xsd:dateTime",
                    "xsd:string",
                    "xsd:boolean",
                    "xsd:double",
                ]
            )
        },
    ),
    st.fixed_dictionaries({"@id": st.sampled_from(["kk:Energiemanagement", "odrl:x", ""])}),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
constraints = st.fixed_dictionaries(
    {
        "leftOperand": st.one_of(
            st.sampled_from(["count", "dateTime", "purpose", "percentage", "payAmount", "nope"]),
            st.fixed_dictionaries({"@id": st.sampled_from(["odrl:count", "odrl:purpose"])}),
        ),
        "operator": st.one_of(
            st.sampled_from(["eq", "lteq", "gt", "isAnyOf", "isA", "neq", "bogus"]),
            st.fixed_dictionaries({"@id": st.sampled_from(["odrl:eq", "odrl:lteq"])}),
        ),
        "rightOperand": operands,
    }
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(constraint=st.one_of(constraints, st.fixed_dictionaries({"and": st.lists(constraints)})))
def test_any_policy_is_created_or_refused_and_catalogues_answer(
    connector: Connector, constraint: dict[str, Any]
) -> None:
    body = {
        "id": f"odd-{next(_ids)}",
        "title": "t",
        "source": SOURCE,
        "policy": _policy(constraint),
    }
    created = _post_dataset(connector, body)
    _assert_catalogues_answer(connector, created)


@pytest.mark.parametrize(
    "right",
    [4, 4.5, True, False, [1, 2], ["a", 3], {"@value": 4}, {"@value": "5", "@type": "xsd:integer"}],
)
def test_plain_json_operands_are_published_as_literals(connector: Connector, right: Any) -> None:
    constraint = {"leftOperand": "count", "operator": "lteq", "rightOperand": right}
    created = _post_dataset(
        connector,
        {"id": f"lit-{next(_ids)}", "title": "t", "source": SOURCE, "policy": _policy(constraint)},
    )
    _assert_catalogues_answer(connector, created)
    if created is None:
        return
    entry = connector.client.get(
        f"/api/dsp/catalog/datasets/{quote(created, safe='')}", headers=connector.dsp_headers()
    ).json()
    wire = entry["hasPolicy"][0]["permission"][0]["constraint"][0]["rightOperand"]
    assert isinstance(wire, str | dict | list)
    if isinstance(right, bool):
        assert wire == {"@value": str(right).lower(), "@type": "xsd:boolean"}
    elif isinstance(right, int):
        assert wire == {"@value": str(right), "@type": "xsd:integer"}


def test_count_limit_as_a_json_number_is_offered(connector: Connector) -> None:
    constraint = {"leftOperand": "count", "operator": "lteq", "rightOperand": 4}
    created = _post_dataset(
        connector, {"id": "count-4", "title": "t", "source": SOURCE, "policy": _policy(constraint)}
    )
    assert created == "count-4"
    _assert_catalogues_answer(connector, created)


dataset_bodies = st.fixed_dictionaries(
    {"title": st.one_of(st.text(max_size=8), st.integers(), st.none())},
    optional={
        "id": st.one_of(st.text(max_size=12), st.integers()),
        "description": st.one_of(st.text(max_size=8), st.lists(st.integers(), max_size=1)),
        "source": st.one_of(
            st.just(SOURCE),
            st.fixed_dictionaries({"type": st.sampled_from(["file", "sql", "http", "ftp"])}),
            st.text(max_size=3),
        ),
        "policy": st.one_of(
            st.sampled_from(["open-dl-de-by", "partner-only", "no-such-policy", ""]),
            st.just(_policy({"leftOperand": "count", "operator": "lteq", "rightOperand": 3})),
            st.dictionaries(st.text(max_size=4), scalars, max_size=2),
        ),
        "formats": st.one_of(st.lists(st.text(max_size=6), max_size=2), st.text(max_size=3)),
        "properties": st.one_of(
            st.dictionaries(
                st.one_of(
                    st.sampled_from(["@type", "@id", "hasPolicy", "dct:title", "distribution"]),
                    st.text(max_size=6),
                ),
                st.one_of(scalars, st.lists(scalars, max_size=2)),
                max_size=3,
            ),
            st.integers(),
        ),
        "negotiation": st.sampled_from(["auto", "manual", "sometimes"]),
        "accessPolicy": st.one_of(st.none(), st.sampled_from(["partner-only", "nope"])),
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(dataset_bodies, st.lists(st.integers(), max_size=2), st.text(max_size=4)))
def test_any_dataset_is_created_or_refused_and_catalogues_answer(
    connector: Connector, body: Any
) -> None:
    created = _post_dataset(connector, body)
    _assert_catalogues_answer(connector, created if isinstance(created, str) else None)
