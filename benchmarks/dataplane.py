"""Data plane throughput: pull 1 GiB through the connector beside ``curl`` fetching directly.

Starts, in one run:

* an upstream HTTP server (asyncio, uvloop) serving N MiB with a ``Content-Length``;
* a provider and a consumer connector (real processes); the consumer negotiates two datasets
  of the provider — a **file** source (an N MiB CSV file in the provider's data dir) and an
  **HTTP upstream** source (the server above) — and starts a pull transfer for each.

Then ``curl`` fetches the same N MiB directly from the upstream (the baseline) and through
the provider's pull endpoint with the transfer's token, alternating, three times each. Prints
GB/s, the ratio connector/curl (target >= 0.5) and the growth of the provider's peak RSS while
streaming (``VmHWM`` after ``clear_refs``; target <= 64 MiB).

    .venv/bin/python benchmarks/dataplane.py            # 1 GiB
    .venv/bin/python benchmarks/dataplane.py --mib 256  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import connector_env, free_port  # noqa: E402
from tests.integration.dsp_helpers import (  # noqa: E402
    ENV,
    did_of,
    mgmt,
    negotiate,
    wait_for,
)

BLOCK = b"2025-01-01T00:00:00Z,LQ-BOE-01,417.3,31.2,18.4,7.1,81.0\n" * 18_000  # ~1 MiB


def serve_upstream(port: int, size: int) -> None:
    """The upstream: every GET answers ``size`` bytes of BLOCK."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % size
        )
        left = size
        while left > 0:
            part = BLOCK[: min(len(BLOCK), left)]
            writer.write(part)
            left -= len(part)
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def write_file(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        left = size
        while left > 0:
            part = BLOCK[: min(len(BLOCK), left)]
            handle.write(part)
            left -= len(part)


def start(name: str, base: Path, **extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = connector_env(base / name, port, **ENV, **extra)
    log = (base / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return url, proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{name} did not start: {(base / f'{name}.log').read_text()[-2000:]}")


def pull_address(consumer: str, provider: str, provider_did: str, dataset: str) -> tuple[str, str]:
    started = negotiate(consumer, provider, provider_did, dataset)
    done = wait_for(consumer, f"/negotiations/{started['id']}", {"FINALIZED", "TERMINATED"})
    assert done["state"] == "FINALIZED", done
    body = {
        "counterPartyAddress": provider + "/api/dsp",
        "counterPartyId": provider_did,
        "agreementId": done["agreementId"],
        "format": "HttpData-PULL",
    }
    pid = mgmt("POST", consumer, "/transfers", body).json()["id"]
    transfer = wait_for(consumer, f"/transfers/{pid}", {"STARTED", "TERMINATED"})
    props = {p["name"]: p["value"] for p in transfer["dataAddress"]["endpointProperties"]}
    return transfer["dataAddress"]["endpoint"], props["authorization"]


def curl(url: str, headers: dict[str, str] | None = None) -> tuple[float, int]:
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", url]
    for name, value in (headers or {}).items():
        args[1:1] = ["-H", f"{name}: {value}"]
    start_at = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start_at, int(float(out))


def peak_growth(pid: int, run: Any) -> tuple[Any, int]:
    """Run ``run()``; returns its result and the growth of the process's peak RSS (bytes)."""
    status = Path(f"/proc/{pid}/status")

    def field(name: str) -> int:
        for line in status.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = field("VmRSS")
    result = run()
    return result, max(0, field("VmHWM") - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=1024, help="size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed (apt-get install curl)")
    size = args.mib * 1024 * 1024
    base = Path(tempfile.mkdtemp(prefix="bench-dataplane-"))
    procs: list[subprocess.Popen[Any]] = []
    try:
        up_port = free_port()
        upstream = subprocess.Popen(
            [sys.executable, __file__, "--serve-upstream", str(up_port), str(size)]
        )
        procs.append(upstream)
        (base / "provider").mkdir(parents=True)
        write_file(base / "provider" / "big.csv", size)
        provider, provider_proc = start("provider", base)
        consumer, consumer_proc = start("consumer", base)
        procs += [provider_proc, consumer_proc]
        upstream_url = f"http://127.0.0.1:{up_port}/data.csv"
        for dataset, source in (
            ("bench-file", {"type": "file", "path": "big.csv", "mediaType": "text/csv"}),
            ("bench-http", {"type": "http", "url": upstream_url}),
        ):
            body = {
                "id": f"https://bench.example/{dataset}",
                "title": dataset,
                "source": source,
                "policy": "max-accesses",
            }
            body["policy"] = {
                "@context": "http://www.w3.org/ns/odrl.jsonld",
                "@type": "Set",
                "uid": f"https://bench.example/policy/{dataset}",
                "permission": [{"action": "use"}],
            }
            answer = mgmt("POST", provider, "/datasets", body)
            assert answer.status_code == 201, answer.text
        provider_did = did_of(provider)
        addresses = {
            kind: pull_address(
                consumer, provider, provider_did, f"https://bench.example/bench-{kind}"
            )
            for kind in ("file", "http")
        }
        curl(upstream_url)  # warm up
        print(f"pulling {args.mib} MiB, {args.rounds} rounds each (medians)")
        print(f"{'path':28s} {'GB/s':>7s} {'ratio':>7s} {'peak RSS growth':>16s}")
        direct = [curl(upstream_url) for _ in range(args.rounds)]
        base_rate = statistics.median(size / t for t, _ in direct) / 1e9
        print(f"{'curl -> upstream (direct)':28s} {base_rate:7.2f} {1.0:7.2f} {'-':>16s}")
        for kind, (endpoint, token) in addresses.items():
            rates, growth = [], []
            for _ in range(args.rounds):
                (elapsed, got), grew = peak_growth(
                    provider_proc.pid,
                    lambda e=endpoint, t=token: curl(e, {"Authorization": f"Bearer {t}"}),
                )
                assert got == size, f"{kind}: got {got} bytes, expected {size}"
                rates.append(size / elapsed / 1e9)
                growth.append(grew)
            rate = statistics.median(rates)
            label = f"curl -> connector ({kind})"
            print(
                f"{label:28s} {rate:7.2f} {rate / base_rate:7.2f} {max(growth) / 2**20:13.1f} MiB"
            )
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-upstream":
        serve_upstream(int(sys.argv[2]), int(sys.argv[3]))
    else:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        main()
