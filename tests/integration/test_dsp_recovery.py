"""Durability between real processes: the outbox survives a crash and is retried until the
counterpart is back."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from .conftest import connector_env, free_port, launch
from .dsp_helpers import ENV, add_dataset, did_of, mgmt, offer_for, wait_for


def _serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return launch(data_dir, port, log, connector_env(data_dir, port, **ENV)).process


def test_a_queued_request_survives_a_crash_and_an_absent_provider(tmp_path: Path) -> None:
    ports = {"provider": free_port(), "consumer": free_port()}
    dirs = {name: tmp_path / name for name in ports}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    running: list[subprocess.Popen[bytes]] = []
    try:
        provider = _serve(dirs["provider"], ports["provider"], logs["provider"])
        running.append(provider)
        consumer = _serve(dirs["consumer"], ports["consumer"], logs["consumer"])
        running.append(consumer)
        provider_did = did_of(urls["provider"])
        add_dataset(urls["provider"], "energy")
        offer: dict[str, Any] = offer_for(
            urls["consumer"], urls["provider"], provider_did, "energy"
        )
        provider.terminate()
        provider.wait(timeout=15)
        started = mgmt(
            "POST",
            urls["consumer"],
            "/negotiations",
            {
                "counterPartyAddress": urls["provider"] + "/api/dsp",
                "counterPartyId": provider_did,
                "offer": offer,
            },
        )
        assert started.status_code == 201
        pid = started.json()["id"]
        time.sleep(0.5)  # a few failed attempts; the request stays queued
        assert mgmt("GET", urls["consumer"], f"/negotiations/{pid}").json()["state"] == "INITIAL"
        consumer.send_signal(signal.SIGKILL)  # crash: nothing is shut down cleanly
        consumer.wait(timeout=15)
        running.append(_serve(dirs["provider"], ports["provider"], logs["provider"]))
        running.append(_serve(dirs["consumer"], ports["consumer"], logs["consumer"]))
        done = wait_for(
            urls["consumer"], f"/negotiations/{pid}", {"FINALIZED", "TERMINATED"}, timeout=60
        )
        assert done["state"] == "FINALIZED", done
        assert done["history"][0]["to"] == "REQUESTED"
    finally:
        for process in running:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)
