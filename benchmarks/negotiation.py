"""Negotiation and transfer latency between two local connector processes, and throughput.

Run: ``.venv/bin/python benchmarks/negotiation.py [--count 1000] [--workers 2]``. Starts a
provider and a consumer (``connector serve`` on loopback ports, SQLite each, ``--workers``
server processes each: ``CONNECTOR_WORKERS``) and prints

* p50/p95 of request → FINALIZED (consumer ``POST /negotiations`` until the consumer's
  management API reports FINALIZED; polled every 0.5 ms), one negotiation at a time;
* p50/p95 of transfer request → STARTED, the same way;
* sustained negotiations/s: ``--count`` negotiations started from ``--parallel`` threads as
  fast as the consumer takes them, until all are FINALIZED; and the CPU time both connectors
  spent per negotiation (all their processes). ``--rounds`` such rounds one after the other
  (default 3): each is printed, then the median and the range (the machine is noisy).

Targets (issue 4): p50 <= 50 ms for the whole negotiation; >= 100 negotiations/s on SQLite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dsp_processes import KEY, Connector, postgres_schemas, two_connectors

WARM_UP = 5
POLICY = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/bench",
    "permission": [{"action": "use"}],
}


def _wait(consumer: Connector, path: str, states: set[str], poll: float = 0.0005) -> dict[str, Any]:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        body: dict[str, Any] = consumer.mgmt("GET", path).json()
        if body.get("state") in states:
            return body
        time.sleep(poll)
    raise RuntimeError(f"{path} did not reach {states}")


def _negotiate(
    consumer: Connector, provider: Connector, offer: dict[str, Any], poll: float = 0.0005
) -> tuple[float, str]:
    start = time.perf_counter()
    answer = consumer.mgmt(
        "POST",
        "/negotiations",
        {
            "counterPartyAddress": provider.url + "/api/dsp",
            "counterPartyId": provider.did,
            "offer": offer,
        },
    ).json()
    done = _wait(consumer, f"/negotiations/{answer['id']}", {"FINALIZED", "TERMINATED"}, poll)
    if done["state"] != "FINALIZED":
        raise RuntimeError(f"negotiation ended {done['state']}")
    return time.perf_counter() - start, str(done["agreementId"])


def _transfer(consumer: Connector, provider: Connector, agreement: str) -> float:
    start = time.perf_counter()
    answer = consumer.mgmt(
        "POST",
        "/transfers",
        {
            "counterPartyAddress": provider.url + "/api/dsp",
            "counterPartyId": provider.did,
            "agreementId": agreement,
            "format": "HttpData-PULL",
        },
    ).json()
    _wait(consumer, f"/transfers/{answer['id']}", {"STARTED"})
    return time.perf_counter() - start


def _poster(connector: Connector, path: str, body: dict[str, Any]) -> Callable[[int], int]:
    """POST ``body`` to ``path`` over one keep-alive connection per thread (the standard
    library's client: the load generator should spend little of the machine's CPU)."""
    local = threading.local()
    payload = json.dumps(body).encode()
    headers = {**KEY, "content-type": "application/json"}

    def post(_: int) -> int:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(urlsplit(connector.url).netloc)
        conn.request("POST", path, body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status}")
        return response.status

    return post


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000, help="negotiations in the sustained run")
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument(
        "--sequential", type=int, default=100, help="one-at-a-time runs for the latencies"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="use CONNECTOR_TEST_POSTGRES_URL (two schemas)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="CONNECTOR_WORKERS of each connector (default 2)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="sustained rounds (the median is reported)"
    )
    args = parser.parse_args()
    if args.postgres:
        with postgres_schemas(os.environ["CONNECTOR_TEST_POSTGRES_URL"]) as urls:
            run(args, urls)
    else:
        run(args, None)


def run(args: argparse.Namespace, urls: tuple[str, str] | None) -> None:
    """Measure with SQLite (``urls`` None) or the two PostgreSQL URLs."""
    with two_connectors(urls, workers=args.workers) as (provider, consumer):
        provider.mgmt(
            "POST",
            "/datasets",
            {
                "id": "bench",
                "title": "Benchmark",
                "policy": POLICY,
                "source": {"type": "http", "url": "https://example.org/x.csv"},
                "negotiation": "auto",
                "transfer": "auto",
            },
        )
        catalog = consumer.mgmt(
            "POST",
            "/catalog/request",
            {"counterPartyAddress": provider.url + "/api/dsp", "counterPartyId": provider.did},
        ).json()
        offer = {**catalog["dataset"][0]["hasPolicy"][0], "target": "bench"}
        for _ in range(WARM_UP):  # DID resolution, connection pools
            _negotiate(consumer, provider, offer)
        negotiations: list[float] = []
        transfers: list[float] = []
        for _ in range(args.sequential):
            elapsed, agreement = _negotiate(consumer, provider, offer)
            negotiations.append(elapsed)
            transfers.append(_transfer(consumer, provider, agreement))
        print(
            f"negotiation request -> FINALIZED: p50 {_ms(negotiations, 0.5):.1f} ms, "
            f"p95 {_ms(negotiations, 0.95):.1f} ms (n={len(negotiations)})"
        )
        print(
            f"transfer request -> STARTED:      p50 {_ms(transfers, 0.5):.1f} ms, "
            f"p95 {_ms(transfers, 0.95):.1f} ms"
        )
        done = WARM_UP + args.sequential  # all FINALIZED (else _negotiate raised)
        rates: list[float] = []
        cpu: list[float] = []
        for round_ in range(1, args.rounds + 1):
            rate, per = _sustained(consumer, provider, offer, args, done)
            done += args.count
            rates.append(rate)
            cpu.append(sum(per))
            print(
                f"sustained, round {round_}: {rate:.0f} negotiations/s ({args.count} started from"
                f" {args.parallel} threads, {args.workers} worker(s) per connector); CPU per"
                f" negotiation: provider {per[0]:.1f} ms user + {per[1]:.1f} ms system, consumer"
                f" {per[2]:.1f} + {per[3]:.1f} ms"
            )
        print(
            f"sustained: median {statistics.median(rates):.0f} negotiations/s over {args.rounds}"
            f" round(s) (range {min(rates):.0f}-{max(rates):.0f}); CPU per negotiation, both"
            f" connectors: median {statistics.median(cpu):.1f} ms"
        )


def _sustained(
    consumer: Connector,
    provider: Connector,
    offer: dict[str, Any],
    args: argparse.Namespace,
    done: int,
) -> tuple[float, tuple[float, float, float, float]]:
    """One round: start ``args.count`` negotiations from ``args.parallel`` threads as fast as
    the consumer takes them, then check every 50 ms whether the last one is FINALIZED (one row:
    polling must not steal server CPU). ``done``: negotiations FINALIZED before this round.
    Returns negotiations/s and the CPU ms per negotiation (provider user, system, consumer
    user, system)."""
    last = f"/negotiations?state=FINALIZED&limit=1&offset={done + args.count - 1}"
    body = {
        "counterPartyAddress": provider.url + "/api/dsp",
        "counterPartyId": provider.did,
        "offer": offer,
    }
    cpu = (provider.cpu_seconds(), consumer.cpu_seconds())
    start = time.perf_counter()
    post = _poster(consumer, "/api/management/negotiations", body)
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(post, range(args.count)))
    while not consumer.mgmt("GET", last).json():
        if time.perf_counter() - start > 300:
            raise RuntimeError("negotiations did not finish")
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    (pu, ps), (cu, cs) = (
        (now[0] - then[0], now[1] - then[1])
        for now, then in zip((provider.cpu_seconds(), consumer.cpu_seconds()), cpu, strict=True)
    )
    per = tuple(1000 * value / args.count for value in (pu, ps, cu, cs))
    return args.count / elapsed, (per[0], per[1], per[2], per[3])


if __name__ == "__main__":
    main()
