"""Helpers that start real connector processes (uvicorn on loopback ports)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ConnectorProcess:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]


def connector_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        {
            "CONNECTOR_DATA_DIR": str(data_dir),
            "CONNECTOR_PORT": str(port),
            "CONNECTOR_MANAGEMENT_API_KEY": "it-management-key",
            "CONNECTOR_AUDITOR_API_KEY": "it-auditor-key",
            "CONNECTOR_PARTICIPANT_CONFIG": str(ROOT / "self-descriptions" / "hagen.toml"),
            "CONNECTOR_LOG_LEVEL": "warning",
        }
    )
    env.update(extra)
    return env


def launch(data_dir: Path, port: int, log_path: Path, env: dict[str, str]) -> ConnectorProcess:
    """``connector serve`` with ``env``, once it answers ``/readyz`` (output to ``log_path``)."""
    with log_path.open("ab") as log:
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
            raise AssertionError(log_path.read_text())
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return ConnectorProcess(url=url, data_dir=data_dir, process=process, env=env)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("connector did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a connector process (kill it if it does not stop within 10 s)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def start_connector(tmp_path: Path) -> Iterator[object]:
    started: list[ConnectorProcess] = []

    def start(name: str = "a", **extra: str) -> ConnectorProcess:
        port = free_port()
        data_dir = tmp_path / name
        env = connector_env(data_dir, port, **extra)
        handle = launch(data_dir, port, tmp_path / f"{name}.log", env)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        stop(handle.process)
