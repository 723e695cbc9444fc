"""Composition of the control plane: stores, use cases, the outbox runner (one per process)."""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine

from connector.clock import Clock
from connector.controlplane.catalog import Catalogue
from connector.controlplane.listings import Listings
from connector.controlplane.negotiations import Negotiations
from connector.controlplane.ports import DataAddressIssuer, TokenSource
from connector.controlplane.runner import Runner
from connector.controlplane.transfers import Transfers
from connector.errors import ConnectorError
from connector.http.client import GuardedJsonClient
from connector.http.guard import OutboundGuard
from connector.settings import Settings
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.stores.outbox_store import SqlOutbox
from connector.stores.process_queries import SqlProcessQueries
from connector.threads import Workers

log = structlog.get_logger("connector.controlplane")

POLICY_FOLDER = Path("policies")
DATASETS_CONFIG = Path("datasets/hagen-demo.toml")


DSP_WORKERS = 8
"""Threads per process for DSP requests and the frequent management calls (see
:attr:`ControlPlane.workers`)."""


@dataclass
class ControlPlane:
    """What the DSP and management routers use."""

    store: SqlControlPlaneStore
    catalog_store: SqlCatalogStore
    queries: SqlProcessQueries
    catalogue: Catalogue
    listings: Listings
    negotiations: Negotiations
    transfers: Transfers
    runner: Runner
    http: GuardedJsonClient
    dsp_url: str
    workers: Workers = field(default_factory=lambda: Workers(DSP_WORKERS, name="dsp"))
    """Where DSP requests and the frequent management calls (start and read a negotiation or a
    transfer) do their blocking work, off the event loop. Eight threads: more made the process
    slower under load (threads taking turns on the GIL; 16 cost ~6 % more CPU per negotiation),
    and at most four of them wait for a pending message's outcome (``settling.MAX_WAITING``)."""

    def close(self) -> None:
        """Stop the runner, the DSP workers and close the HTTP pool."""
        self.runner.stop()
        self.workers.shutdown(wait=True)
        self.http.close()


def dsp_url(settings: Settings) -> str:
    """This connector's DSP base URL (the consumer's ``callbackAddress``)."""
    return settings.base_url + settings.dsp_path


def build_controlplane(
    settings: Settings,
    clock: Clock,
    engine: Engine,
    *,
    own_did: str,
    tokens: TokenSource,
    issuer: DataAddressIssuer | None = None,
) -> ControlPlane:
    """Wire the control plane for one process (the runner is not started yet)."""
    base = dsp_url(settings)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    store = SqlControlPlaneStore(engine, clock, owner=owner)
    catalog_store = SqlCatalogStore(engine, clock)
    guard = OutboundGuard.from_allowlist(settings.allow_private_addresses)
    http = GuardedJsonClient(guard, timeout_seconds=settings.http_timeout_seconds)
    queries = SqlProcessQueries(engine)
    outbox = SqlOutbox(engine)

    def delivering(kind: str) -> Callable[[str], bool]:
        return lambda pid: outbox.in_delivery(kind, pid, clock.now().timestamp())

    negotiations = Negotiations(
        store,
        clock,
        catalog_store,
        own_did=own_did,
        callback_url=base,
        in_delivery=delivering("negotiation"),
    )
    transfers = Transfers(
        store,
        clock,
        catalog_store,
        issuer,
        own_did=own_did,
        callback_url=base,
        in_delivery=delivering("transfer"),
    )
    runner = Runner(
        outbox,
        http,
        tokens,
        {"negotiation": negotiations, "transfer": transfers},
        clock,
        owner=owner,
    )
    store.on_enqueue(runner.accept)
    return ControlPlane(
        store=store,
        catalog_store=catalog_store,
        queries=queries,
        catalogue=Catalogue(catalog_store, clock, participant_id=own_did, dsp_url=base),
        listings=Listings(catalog_store),
        negotiations=negotiations,
        transfers=transfers,
        runner=runner,
        http=http,
        dsp_url=base,
    )


def load_demo_catalogue(
    plane: ControlPlane,
    *,
    policies: Path = POLICY_FOLDER,
    config: Path = DATASETS_CONFIG,
    data_dir: Path | None = None,
) -> int:
    """Register the city's policies and the datasets of the config (if present)."""
    if policies.is_dir():
        plane.listings.load_policy_folder(policies)
    if not config.is_file():
        return 0
    document: dict[str, Any] = tomllib.loads(config.read_text("utf-8"))
    count = 0
    for raw in document.get("datasets", []):
        entry = _expand(raw, data_dir)
        try:
            plane.listings.create_dataset(entry, replace=True)
            count += 1
        except ConnectorError as exc:
            log.warning(
                "demo_dataset_skipped", id=entry.get("id"), reason=exc.reason, detail=exc.detail
            )
    return count


def _expand(entry: dict[str, Any], data_dir: Path | None) -> dict[str, Any]:
    """``{data_dir}`` in source paths/URLs becomes the connector's data directory."""
    source = entry.get("source")
    if data_dir is None or not isinstance(source, dict):
        return entry
    expanded = {
        k: v.replace("{data_dir}", str(data_dir)) if isinstance(v, str) else v
        for k, v in source.items()
    }
    return {**entry, "source": expanded}
