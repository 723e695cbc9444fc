"""Two local connector processes for the DSP benchmarks (provider and consumer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
KEY = {"X-Api-Key": "bench-management-key"}


@dataclass
class Connector:
    url: str
    did: str
    client: httpx.Client
    pid: int = 0

    def cpu_seconds(self) -> tuple[float, float]:
        """User and system CPU seconds the connector's processes (the server and its workers)
        have used so far (Linux /proc; zeros elsewhere)."""
        tick = os.sysconf("SC_CLK_TCK")
        user = system = 0.0
        for pid in _tree(self.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
        return user, system

    def mgmt(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, "/api/management" + path, json=body, headers=KEY)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc/<pid>/task/*/children``)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _tree(int(child))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(
    name: str, folder: Path, extra: dict[str, str], workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        {
            "CONNECTOR_DATA_DIR": str(folder / name),
            "CONNECTOR_PORT": str(port),
            "CONNECTOR_MANAGEMENT_API_KEY": KEY["X-Api-Key"],
            "CONNECTOR_AUDITOR_API_KEY": "bench-auditor-key",
            "CONNECTOR_ALLOW_INSECURE_DID_WEB": "true",
            "CONNECTOR_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1",
            "CONNECTOR_LOG_LEVEL": "warning",
            "CONNECTOR_WORKERS": str(workers),
            **extra,
        }
    )
    log = (folder / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((folder / f"{name}.log").read_text())
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start")


@contextmanager
def two_connectors(
    database_urls: tuple[str, str] | None = None, *, workers: int = 1
) -> Iterator[tuple[Connector, Connector]]:
    """A provider and a consumer on loopback ports (SQLite each, or the two database URLs),
    each with ``workers`` server processes; stopped on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = []
        for index, name in enumerate(("provider", "consumer")):
            extra = (
                {} if database_urls is None else {"CONNECTOR_DATABASE_URL": database_urls[index]}
            )
            started.append(_start(name, folder, extra, workers))
        try:
            pair = []
            for process, url in started:
                client = httpx.Client(base_url=url, timeout=30)
                did = client.get("/.well-known/did.json").json()["id"]
                pair.append(Connector(url, did, client, process.pid))
            yield pair[0], pair[1]
        finally:
            for process, _url in started:
                process.terminate()
                process.wait(timeout=15)


@contextmanager
def postgres_schemas(base_url: str) -> Iterator[tuple[str, str]]:
    """Two throwaway schemas on a PostgreSQL server, as database URLs."""
    import uuid

    from sqlalchemy import text

    from connector.stores.database import create_db_engine

    admin = create_db_engine(base_url, pool_size=1)
    names = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f"CREATE SCHEMA {name}"))
    sep = "&" if "?" in base_url else "?"
    try:
        yield (
            f"{base_url}{sep}options=-csearch_path%3D{names[0]}",
            f"{base_url}{sep}options=-csearch_path%3D{names[1]}",
        )
    finally:
        with admin.begin() as conn:
            for name in names:
                conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()
