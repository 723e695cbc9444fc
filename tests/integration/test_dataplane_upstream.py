"""Real processes with an HTTP upstream: a geofence policy shapes the upstream's GeoJSON on
pull, an unshapeable media type is refused with an explanation, and a push streams the
upstream's JSON Lines into a receiver. Expectations are computed here, by ray casting."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from .dsp_helpers import ENV, OPEN_POLICY, did_of, mgmt, wait_for
from .test_dataplane_flows import _inside, _provider_records
from .test_dataplane_pull import agreement_for

pytestmark = pytest.mark.integration

RING = [(7.30, 51.30), (7.47, 51.30), (7.47, 51.45), (7.30, 51.45)]


def _sites() -> list[dict[str, Any]]:
    rng = random.Random(11)
    return [
        {
            "id": f"site-{i}",
            "lon": round(rng.uniform(7.32, 7.62), 5),
            "lat": round(rng.uniform(51.31, 51.44), 5),
            "moisture": round(rng.uniform(5, 45), 2),
        }
        for i in range(120)
    ]


SITES = _sites()
GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": s["id"],
                "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                "properties": {"moisture": s["moisture"]},
            }
            for s in SITES
        ],
    }
).encode()
JSONL = "".join(json.dumps(s) + "\n" for s in SITES).encode()


class Platform(BaseHTTPRequestHandler):
    """The municipal platform (upstream) and the partner's inbox (receiver) in one server."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_GET(self) -> None:
        media, body = {
            "/sites.geojson": ("application/geo+json", GEOJSON),
            "/sites.jsonl": ("application/jsonl", JSONL),
        }.get(self.path, ("text/html", b"<p>no data here</p>"))
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().strip(), 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Platform.received.append((self.headers.get("Authorization", ""), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform() -> Iterator[str]:
    Platform.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fence_policy() -> dict[str, Any]:
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in [*RING, RING[0]]) + "))"
    return {
        "@context": [
            "http://www.w3.org/ns/odrl.jsonld",
            {"geo": "http://www.opengis.net/ont/geosparql#"},
        ],
        "@type": "Set",
        "uid": "https://example.org/policies/upstream-west",
        "permission": [
            {
                "action": "use",
                "target": {
                    "@type": "AssetCollection",
                    "uid": "https://example.org/policies/upstream-west#sensors",
                    "source": "https://daten.hagen.de/sensors",
                    "refinement": [
                        {
                            "leftOperand": "spatialCoordinates",
                            "operator": "isPartOf",
                            "rightOperand": {"@value": wkt, "@type": "geo:wktLiteral"},
                        }
                    ],
                },
            }
        ],
    }


def test_a_geofence_policy_shapes_an_http_upstream(start_connector: Any, platform: str) -> None:
    proc = start_connector("provider", **ENV)
    provider, provider_did = proc.url, did_of(proc.url)
    consumer = "did:web:partner.example"
    for name, path in (("geo", "/sites.geojson"), ("html", "/page.html")):
        created = mgmt(
            "POST",
            provider,
            "/datasets",
            {
                "id": f"https://example.org/dataset/upstream-{name}",
                "title": name,
                "policy": _fence_policy(),
                "source": {"type": "http", "url": platform + path},
                "properties": {"delivery": {"geofence": {}}},
            },
        )
        assert created.status_code == 201, created.text

    def pull(name: str) -> httpx.Response:
        tid, token = _provider_records(
            proc.data_dir, f"https://example.org/dataset/upstream-{name}", consumer, provider_did
        )
        return httpx.get(
            f"{provider}/api/data/{tid}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    got = pull("geo")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/geo+json")
    ids = [f["id"] for f in got.json()["features"]]
    expected = [s["id"] for s in SITES if _inside(s["lon"], s["lat"], RING)]
    assert 0 < len(expected) < len(SITES)
    assert ids == expected

    refused = pull("html")
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "shaping_unavailable"
    assert "text/html" in refused.json()["detail"]


def test_push_streams_an_http_upstream_to_the_destination(
    start_connector: Any, tmp_path: Path, platform: str
) -> None:
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    dataset = "https://example.org/dataset/upstream-push"
    created = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": dataset,
            "title": "pushed from the platform",
            "policy": OPEN_POLICY,
            "source": {"type": "http", "url": platform + "/sites.jsonl"},
            "formats": ["HttpData-PULL", "HttpData-PUSH"],
        },
    )
    assert created.status_code == 201, created.text
    agreement = agreement_for(consumer, provider, provider_did, dataset)
    body = {
        "counterPartyAddress": provider + "/api/dsp",
        "counterPartyId": provider_did,
        "agreementId": agreement,
        "format": "HttpData-PUSH",
        "dataDestination": {
            "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
            "endpoint": platform + "/inbox",
            "endpointProperties": [
                {"name": "authorization", "value": "inbox-secret"},
                {"name": "authType", "value": "bearer"},
            ],
        },
    }
    answer = mgmt("POST", consumer, "/transfers", body)
    assert answer.status_code == 201, answer.text
    done = wait_for(
        consumer, f"/transfers/{answer.json()['id']}", {"COMPLETED", "TERMINATED"}, timeout=30
    )
    assert done["state"] == "COMPLETED", done
    assert Platform.received == [("Bearer inbox-secret", JSONL)]
