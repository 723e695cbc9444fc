"""Real processes: push into a receiver, suspend/resume, token expiry and renewal, count limit,
and shaped deliveries (aggregates, k-anonymity, geofence) against expectations computed in SQL
and by ray casting."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from .dsp_helpers import ENV, did_of, mgmt, wait_for
from .test_dataplane_pull import DS, agreement_for, demo_data, start_transfer, token_of

pytestmark = pytest.mark.integration


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes, str]]] = []
    failures_left = 1

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if Receiver.failures_left > 0:  # the first attempt fails: the provider retries
            Receiver.failures_left -= 1
            self.send_response(503)
        else:
            Receiver.received.append(
                (self.headers.get("Authorization", ""), body, self.headers.get("Content-Type", ""))
            )
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    Receiver.failures_left = 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/inbox"
    server.shutdown()
    server.server_close()


def test_push_delivers_to_the_consumers_destination(
    start_connector: Any, tmp_path: Path, receiver: str
) -> None:
    demo = demo_data(tmp_path / "provider")
    provider = start_connector("provider", **ENV).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    agreement = agreement_for(
        consumer, provider, provider_did, DS + "verkehr-co2-strassenabschnitte"
    )
    destination = {
        "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
        "endpoint": receiver,
        "endpointProperties": [
            {"name": "authorization", "value": "consumer-secret"},
            {"name": "authType", "value": "bearer"},
        ],
    }
    body = {
        "counterPartyAddress": provider + "/api/dsp",
        "counterPartyId": provider_did,
        "agreementId": agreement,
        "format": "HttpData-PUSH",
        "dataDestination": destination,
    }
    answer = mgmt("POST", consumer, "/transfers", body)
    assert answer.status_code == 201, answer.text
    done = wait_for(
        consumer, f"/transfers/{answer.json()['id']}", {"COMPLETED", "TERMINATED"}, timeout=30
    )
    assert done["state"] == "COMPLETED", done
    assert len(Receiver.received) == 1
    auth, data, media = Receiver.received[0]
    assert auth == "Bearer consumer-secret" and media == "application/jsonl"
    rows = [json.loads(line) for line in data.decode().splitlines()]
    db = sqlite3.connect(demo / "hagen.db")
    assert len(rows) == db.execute("SELECT count(*) FROM verkehr_co2").fetchone()[0]


def test_push_to_a_refused_address_is_not_attempted(start_connector: Any, tmp_path: Path) -> None:
    demo_data(tmp_path / "provider")
    provider = start_connector(
        "provider",
        CONNECTOR_ALLOW_INSECURE_DID_WEB="true",
        CONNECTOR_ALLOW_PRIVATE_ADDRESSES="127.0.0.1/32",
    ).url
    consumer = start_connector("consumer", **ENV).url
    provider_did = did_of(provider)
    agreement = agreement_for(consumer, provider, provider_did, DS + "pegelstaende-baeche")
    body = {
        "counterPartyAddress": provider + "/api/dsp",
        "counterPartyId": provider_did,
        "agreementId": agreement,
        "format": "HttpData-PUSH",
        "dataDestination": {
            "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
            "endpoint": "http://169.254.169.254/latest/meta-data",
        },
    }
    answer = mgmt("POST", consumer, "/transfers", body)
    assert answer.status_code == 201, answer.text
    done = wait_for(
        consumer, f"/transfers/{answer.json()['id']}", {"COMPLETED", "TERMINATED"}, timeout=30
    )
    assert done["state"] == "TERMINATED", done


def _limited_policy(n: int) -> dict[str, Any]:
    return {
        "@context": [
            "http://www.w3.org/ns/odrl.jsonld",
            {"xsd": "http://www.w3.org/2001/XMLSchema#"},
        ],
        "@type": "Set",
        "uid": f"https://example.org/policies/max-{n}",
        "permission": [
            {
                "action": "read",
                "constraint": [
                    {
                        "leftOperand": "count",
                        "operator": "lteq",
                        "rightOperand": {"@value": str(n), "@type": "xsd:integer"},
                    }
                ],
            }
        ],
    }


def test_suspend_resume_expiry_and_renewal(start_connector: Any) -> None:
    provider_proc = start_connector("provider", CONNECTOR_DATA_TOKEN_TTL_SECONDS="10", **ENV)
    provider = provider_proc.url
    consumer = start_connector("consumer", **ENV).url
    (provider_proc.data_dir / "monat.csv").write_text("month,value\n2025-01,1\n2025-02,2\n")
    dataset = "https://example.org/dataset/limited"
    created = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": dataset,
            "title": "limited",
            "policy": "open-data-dl-de-by-2-0",
            "source": {"type": "file", "path": "monat.csv", "mediaType": "text/csv"},
        },
    )
    assert created.status_code == 201, created.text
    provider_did = did_of(provider)
    agreement = agreement_for(consumer, provider, provider_did, dataset)
    transfer = start_transfer(consumer, provider, provider_did, agreement)
    endpoint, token = token_of(transfer)

    def pull(tok: str) -> httpx.Response:
        return httpx.get(endpoint, headers={"Authorization": f"Bearer {tok}"}, timeout=10)

    assert pull(token).text == "month,value\n2025-01,1\n2025-02,2\n"  # access 1
    assert pull("kkdp_" + "x" * 43).status_code == 401
    pid, provider_pid = transfer["id"], transfer["providerPid"]
    assert mgmt("POST", consumer, f"/transfers/{pid}/suspend").status_code == 200
    wait_for(provider, f"/transfers/{provider_pid}", {"SUSPENDED"})
    refused = pull(token)
    assert refused.status_code == 401, refused.text  # at once, not at expiry
    assert mgmt("GET", consumer, f"/transfers/{pid}/data").status_code in (401, 403)
    assert mgmt("POST", provider, f"/transfers/{provider_pid}/start").status_code == 200
    resumed = wait_for(consumer, f"/transfers/{pid}", {"STARTED"})
    _, fresh = token_of(resumed)
    assert fresh != token and pull(token).status_code == 401
    assert pull(fresh).status_code == 200  # access 2
    time.sleep(10.5)
    expired = pull(fresh)
    assert expired.status_code == 401
    # the consumer's connector renews with its identity token while the transfer is STARTED
    renewed = mgmt("GET", consumer, f"/transfers/{pid}/data")
    assert renewed.status_code == 200, renewed.text  # access 3
    assert mgmt("POST", consumer, f"/transfers/{pid}/complete").status_code == 200
    wait_for(provider, f"/transfers/{provider_pid}", {"COMPLETED"})
    assert mgmt("GET", consumer, f"/transfers/{pid}/data").status_code in (401, 403)
    events = httpx.get(
        provider + "/api/audit/events",
        params={"type": "data.accessed"},
        headers={"X-Api-Key": "it-auditor-key"},
        timeout=10,
    )
    assert events.status_code == 200, events.text
    body = events.json()
    items = body.get("items", body.get("events", body)) if isinstance(body, dict) else body
    results = [e["result"] for e in items]
    assert results.count("ok") == 3 and results.count("denied") >= 4
    assert all(token not in json.dumps(e) and fresh not in json.dumps(e) for e in items)


def test_count_limit_is_enforced_on_every_pull(start_connector: Any) -> None:
    proc = start_connector("provider", **ENV)
    provider, provider_did = proc.url, did_of(proc.url)
    (proc.data_dir / "monat.csv").write_text("month,value\n2025-01,1\n")
    dataset = "https://example.org/dataset/limited"
    created = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": dataset,
            "title": "limited",
            "policy": _limited_policy(3),
            "source": {"type": "file", "path": "monat.csv", "mediaType": "text/csv"},
        },
    )
    assert created.status_code == 201, created.text
    tid, token = _provider_records(proc.data_dir, dataset, "did:web:partner.example", provider_did)
    url = f"{provider}/api/data/{tid}"
    codes = [
        httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10) for _ in range(5)
    ]
    assert [r.status_code for r in codes] == [200, 200, 200, 403, 403]
    assert "count lteq 3" in codes[3].json()["detail"]


def _provider_records(
    data_dir: Path, dataset_id: str, consumer_did: str, provider_did: str
) -> tuple[str, str]:
    """An agreement and a STARTED provider transfer written through the control plane's store,
    and a pull token through the data plane's store (both in the provider's database)."""
    from connector.clock import SystemClock
    from connector.dataplane.tokens import AccessTokens
    from connector.model import Agreement, Role, Transfer, TransferEvent
    from connector.stores.catalog_store import SqlCatalogStore
    from connector.stores.controlplane_store import SqlControlPlaneStore
    from connector.stores.database import create_db_engine
    from connector.stores.dataplane_store import SqlTokenStore

    engine = create_db_engine(f"sqlite:///{data_dir / 'connector.db'}")
    clock = SystemClock()
    dataset = SqlCatalogStore(engine, clock).dataset(dataset_id)
    assert dataset is not None
    offer = dataset.offers[0]
    now = clock.now()
    agreement = Agreement(
        id=f"urn:uuid:{uuid.uuid4()}",
        target=dataset_id,
        assigner=provider_did,
        assignee=consumer_did,
        timestamp=now - dt.timedelta(minutes=1),
        policy=offer.policy,
        offer_id=offer.id,
        policy_id=offer.policy_id,
        policy_hash=offer.policy_hash,
    )
    transfer = (
        Transfer.create(
            id=f"urn:uuid:{uuid.uuid4()}",
            role=Role.PROVIDER,
            counterparty_id=consumer_did,
            counterparty_address="http://127.0.0.1:9/api/dsp",
            agreement_id=agreement.id,
            format="HttpData-PULL",
            at=now,
            counterpart_pid=f"urn:uuid:{uuid.uuid4()}",
        )
        .receive(TransferEvent.REQUEST, at=now)
        .send(TransferEvent.START)
        .acknowledge(TransferEvent.START, at=now)
    )
    store = SqlControlPlaneStore(engine, clock)
    with store.transaction() as tx:
        tx.save_agreement(agreement, negotiation_id=f"urn:uuid:{uuid.uuid4()}")
        tx.save_transfer(transfer)
    token, _ = AccessTokens(SqlTokenStore(engine), clock).issue(
        transfer_id=transfer.id,
        agreement_id=agreement.id,
        consumer_did=consumer_did,
        dataset_id=dataset_id,
    )
    engine.dispose()
    return transfer.id, token


def _inside(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    inside = False
    for i in range(len(ring)):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % len(ring)]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def test_shaped_deliveries_match_independent_expectations(
    start_connector: Any, tmp_path: Path
) -> None:
    demo = demo_data(tmp_path / "provider")
    proc = start_connector("provider", **ENV)
    provider, provider_did = proc.url, did_of(proc.url)
    consumer = "did:web:partner.example"
    db = sqlite3.connect(demo / "hagen.db")
    db.row_factory = sqlite3.Row

    def pull(transfer_id: str, token: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{provider}/api/data/{transfer_id}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    # smart meters: hourly means per block, only blocks with >= 5 meters, purpose-bound
    tid, token = _provider_records(
        proc.data_dir, DS + "smart-meter-quartier", consumer, provider_did
    )
    denied = pull(tid, token)
    assert denied.status_code == 403 and "purpose" in denied.json()["detail"]
    got = pull(tid, token, purpose="kk:Energiemanagement")
    assert got.status_code == 200, got.text
    cells = [json.loads(line) for line in got.text.splitlines()]
    expected = db.execute(
        "SELECT substr(timestamp, 1, 13) || ':00:00Z' AS hour, block_id, avg(energy_kwh) AS mean,"
        " count(DISTINCT meter_id) AS meters FROM smartmeter_quartier GROUP BY hour, block_id"
        " HAVING count(DISTINCT meter_id) >= 5 ORDER BY hour, block_id"
    ).fetchall()
    assert [(c["timestamp"], c["block_id"], c["n"]) for c in cells] == [
        (e["hour"], e["block_id"], e["meters"]) for e in expected
    ]
    assert all(
        abs(c["energy_kwh"] - e["mean"]) < 1e-6 for c, e in zip(cells, expected, strict=True)
    )
    assert "WH-B4" not in got.text and "SM-" not in got.text

    # industrial CO2 is for the consortium: a party without a membership credential is refused
    tid, token = _provider_records(proc.data_dir, DS + "industrie-co2", consumer, provider_did)
    refused = pull(tid, token, purpose="kk:KommunaleCO2Bilanz")
    assert refused.status_code == 403 and "membershipCredential" in refused.json()["detail"]

    # air quality under aggregate-only: hourly means per station
    aq = "https://example.org/dataset/luft-aggregiert"
    created = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": aq,
            "title": "Luftqualität (Stundenmittel)",
            "policy": "aggregate-only",
            "source": {
                "type": "sql",
                "url": "sqlite:///demo/hagen.db",
                "query": "SELECT * FROM luftqualitaet",
            },
            "properties": {
                "delivery": {
                    "time": "timestamp",
                    "filters": {"station": "station_id"},
                    "aggregate": {
                        "period": "PT1H",
                        "by": ["station_id"],
                        "values": ["no2_ug_m3"],
                        "k": 5,
                    },
                }
            },
        },
    )
    assert created.status_code == 201, created.text
    tid, token = _provider_records(proc.data_dir, aq, consumer, provider_did)
    got = pull(tid, token, station="LQ-BOE-02", format="csv")
    assert got.status_code == 200, got.text
    lines = got.text.strip().splitlines()
    assert lines[0] == "timestamp,station_id,n,no2_ug_m3"
    expected = db.execute(
        "SELECT substr(timestamp, 1, 13) || ':00:00Z' AS hour, avg(no2_ug_m3) AS no2"
        " FROM luftqualitaet WHERE station_id = 'LQ-BOE-02' GROUP BY hour ORDER BY hour"
    ).fetchall()
    assert len(lines) - 1 == len(expected) == 48
    for line, e in zip(lines[1:], expected, strict=True):
        hour, station, n, no2 = line.split(",")
        assert (hour, station, n) == (e["hour"], "LQ-BOE-02", "6")
        assert abs(float(no2) - e["no2"]) < 1e-6

    # geofence: a polygon covering only part of the soil-moisture sensors
    sites = db.execute(
        "SELECT site_id, lon, lat FROM standorte WHERE dataset = 'bodenfeuchte-strassenbaeume'"
    ).fetchall()
    lons = sorted(s["lon"] for s in sites)
    cut = (lons[len(lons) // 2 - 1] + lons[len(lons) // 2]) / 2
    ring = [(7.30, 51.30), (cut, 51.30), (cut, 51.45), (7.30, 51.45)]
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in [*ring, ring[0]]) + "))"
    fence = {
        "@context": [
            "http://www.w3.org/ns/odrl.jsonld",
            {"geo": "http://www.opengis.net/ont/geosparql#"},
        ],
        "@type": "Set",
        "uid": "https://example.org/policies/west",
        "permission": [
            {
                "action": "use",
                "target": {
                    "@type": "AssetCollection",
                    "uid": "https://example.org/policies/west#sensors",
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
    geo = "https://example.org/dataset/bodenfeuchte-west"
    source = {
        "type": "sql",
        "url": "sqlite:///demo/hagen.db",
        "query": (
            "SELECT b.timestamp, b.sensor_id, b.soil_moisture_pct_vol, s.lon, s.lat FROM bodenfeuchte b"
            " JOIN standorte s ON s.dataset = 'bodenfeuchte-strassenbaeume' AND s.site_id = b.sensor_id"
            " ORDER BY b.timestamp, b.sensor_id"
        ),
    }
    created = mgmt(
        "POST",
        provider,
        "/datasets",
        {
            "id": geo,
            "title": "west",
            "policy": fence,
            "source": source,
            "properties": {
                "delivery": {
                    "time": "timestamp",
                    "geofence": {"lon": "lon", "lat": "lat"},
                    "columns": ["timestamp", "sensor_id", "soil_moisture_pct_vol"],
                }
            },
        },
    )
    assert created.status_code == 201, created.text
    tid, token = _provider_records(proc.data_dir, geo, consumer, provider_did)
    got = pull(tid, token)
    assert got.status_code == 200, got.text
    rows = [json.loads(line) for line in got.text.splitlines()]
    inside = {s["site_id"] for s in sites if _inside(s["lon"], s["lat"], ring)}
    assert 0 < len(inside) < len(sites)
    assert {r["sensor_id"] for r in rows} == inside
    per_sensor = db.execute(
        "SELECT count(*) FROM bodenfeuchte WHERE sensor_id = ?", (next(iter(inside)),)
    ).fetchone()[0]
    assert len(rows) == per_sensor * len(inside)
    assert set(rows[0]) == {"timestamp", "sensor_id", "soil_moisture_pct_vol"}
