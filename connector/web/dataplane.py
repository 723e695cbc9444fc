"""Composition of the data plane: token store, access counter, sources, enforcement, push,
and the ``DataAddressIssuer`` the control plane calls (one per process)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine

from connector.audit.sink import AuditSink
from connector.clock import Clock
from connector.controlplane.ports import Caller, Facts, ParticipantFacts
from connector.dataplane.confinement import SourceDirs
from connector.dataplane.enforcement import Enforcer
from connector.dataplane.issuer import DataPlaneIssuer
from connector.dataplane.pipeline import DataSources, UpstreamSecrets
from connector.dataplane.push import Pusher
from connector.dataplane.service import DataPlane
from connector.dataplane.sql_source import SqlSources
from connector.dataplane.tokens import AccessTokens
from connector.errors import ConnectorError
from connector.http.guard import OutboundGuard
from connector.http.upstream import UpstreamClient
from connector.model import Agreement, Dataset, Transfer
from connector.settings import Settings
from connector.stores.dataplane_store import SqlAccessCounter, SqlTokenStore

log = structlog.get_logger("connector.dataplane")


class ControlPlaneContracts:
    """``connector.dataplane.service.Contracts`` over the control plane's stores (read-only
    queries, no row locks). ``plane`` is resolved late: the control plane is built after."""

    def __init__(self, plane: Callable[[], Any]) -> None:
        self._plane = plane

    def transfer(self, transfer_id: str) -> Transfer | None:
        found: Transfer | None = self._plane().queries.transfer(transfer_id)
        return found

    def agreement(self, agreement_id: str) -> Agreement | None:
        found = self._plane().queries.agreement(agreement_id)
        return None if found is None else found[0]

    def dataset(self, dataset_id: str) -> Dataset | None:
        found: Dataset | None = self._plane().catalog_store.dataset(dataset_id)
        return found

    def stored_policy(self, policy_hash: str) -> Mapping[str, Any] | None:
        version = self._plane().catalog_store.policy_by_hash(policy_hash)
        return None if version is None else version.body


@dataclass
class DataPlaneParts:
    """What the data routes use."""

    plane: DataPlane
    issuer: DataPlaneIssuer
    pusher: Pusher
    client: UpstreamClient
    counter: SqlAccessCounter
    sql: SqlSources
    consumer_tokens: dict[str, str] = field(default_factory=dict)
    """Renewed pull tokens of our consumer transfers (transfer id → token), this process."""

    def close(self) -> None:
        self.sql.dispose()


def _facts(source: ParticipantFacts | None) -> Callable[[str], Facts | None] | None:
    if source is None:
        return None

    def lookup(did: str) -> Facts | None:
        try:
            return source.facts(Caller(did))
        except ConnectorError as exc:
            log.info("participant_facts_unavailable", reason=exc.reason)
            return None

    return lookup


def build_dataplane(
    settings: Settings,
    clock: Clock,
    engine: Engine,
    audit: AuditSink,
    *,
    controlplane: Callable[[], Any],
    participant_facts: ParticipantFacts | None = None,
) -> DataPlaneParts:
    """Wire the data plane; ``controlplane()`` returns the control plane once it exists."""
    dirs = SourceDirs.of(settings.source_dirs, settings.data_dir)
    guard = OutboundGuard.from_allowlist(settings.allow_private_addresses)
    client = UpstreamClient(
        guard,
        connect_timeout=settings.http_timeout_seconds,
        read_timeout=max(settings.http_timeout_seconds, 30.0),
        max_bytes=settings.upstream_max_bytes,
    )
    secrets_dir = settings.upstream_secrets_dir or settings.data_dir / "secrets"
    sql = SqlSources(dirs)
    sources = DataSources(dirs, sql=sql, upstream=client, secrets=UpstreamSecrets(secrets_dir))
    tokens = AccessTokens(
        SqlTokenStore(engine), clock, lifetime_seconds=settings.data_token_ttl_seconds
    )
    counter = SqlAccessCounter(engine)
    contracts = ControlPlaneContracts(controlplane)
    enforcer = Enforcer(
        counter, clock, stored_policy=contracts.stored_policy, facts=_facts(participant_facts)
    )
    plane = DataPlane(
        tokens=tokens,
        enforcer=enforcer,
        sources=sources,
        contracts=contracts,
        audit=audit,
        clock=clock,
    )

    def delivered(transfer_id: str) -> None:
        try:
            controlplane().transfers.act(transfer_id, "complete")
        except ConnectorError as exc:
            log.warning("push_complete_failed", transfer=transfer_id, reason=exc.reason)

    def failed(transfer_id: str, reason: str) -> None:
        try:
            controlplane().transfers.act(transfer_id, "terminate", reason=reason)
        except ConnectorError as exc:
            log.warning("push_terminate_failed", transfer=transfer_id, reason=exc.reason)

    pusher = Pusher(plane, client, on_delivered=delivered, on_failed=failed)
    issuer = DataPlaneIssuer(tokens, settings.base_url, pusher)
    return DataPlaneParts(plane, issuer, pusher, client, counter, sql)
