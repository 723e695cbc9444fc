"""Registering policies and datasets (the management API and the datasets config share this).

``POST /api/management/datasets`` bodies and the entries of a datasets config file both go
through :meth:`Listings.create_dataset`: ``{id?, title, description?, source{…},
policy (ODRL JSON-LD or a policy id), accessPolicy?, negotiation, transfer, formats?}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from connector.controlplane.negotiations import new_pid
from connector.controlplane.policies import (
    PolicyVersion,
    check_policy,
    offer_id,
    offer_rules,
    policy_uid,
)
from connector.dsp.conversion import RESERVED_DATASET_KEYS
from connector.errors import Invalid, NotFound
from connector.model.contract import Offer
from connector.model.dataset import PULL, PUSH, Dataset, Mode
from connector.model.source import Source

DATASET_KEYS = {
    "id",
    "title",
    "description",
    "source",
    "policy",
    "accessPolicy",
    "negotiation",
    "transfer",
    "formats",
    "properties",
}
"""The properties a dataset body may have; any other is refused (400)."""


class ListingStore(Protocol):
    def save_policy(
        self, policy_id: str, body: Mapping[str, Any], uid: str | None
    ) -> PolicyVersion: ...
    def policy(self, policy_id: str, version: int | None = None) -> PolicyVersion | None: ...
    def save_dataset(self, dataset: Dataset, *, access_hash: str | None, replace: bool) -> None: ...


def _text(body: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{key} must be a non-empty string", reason="invalid_field", field=key)
    return value


def _mode(body: Mapping[str, Any], key: str) -> Mode:
    value = body.get(key, "auto")
    try:
        return Mode(value)
    except ValueError:
        raise Invalid(f"{key} must be auto or manual", reason="invalid_field", field=key) from None


class Listings:
    """Policies and datasets of this participant."""

    def __init__(self, store: ListingStore, *, ids: Callable[[], str] = new_pid) -> None:
        self._store = store
        self._ids = ids

    def register_policy(self, body: Any, policy_id: str | None = None) -> PolicyVersion:
        """Store an ODRL policy (a new version if ``policy_id`` exists with other content)."""
        if not isinstance(body, Mapping):
            raise Invalid("a policy must be a JSON object", reason="invalid_policy", field="policy")
        check_policy(body)
        uid = policy_uid(body)
        name = policy_id or uid or self._ids()
        return self._store.save_policy(name, dict(body), uid)

    def resolve_policy(self, value: Any, *, field: str, fallback_id: str) -> PolicyVersion:
        """A policy given inline (registered on the way) or by id (its newest version)."""
        if isinstance(value, str):
            version = self._store.policy(value)
            if version is None:
                raise Invalid(f"unknown policy {value}", reason="unknown_policy", field=field)
            return version
        if isinstance(value, Mapping):
            return self.register_policy(value, policy_uid(value) or fallback_id)
        raise Invalid(f"{field} must be a policy object or id", reason="invalid_field", field=field)

    def create_dataset(self, body: Any, *, replace: bool = False) -> Dataset:
        """Validate a dataset request and store the dataset with its offer."""
        if not isinstance(body, Mapping):
            raise Invalid("a dataset must be a JSON object", reason="invalid_dataset")
        unknown = set(body) - DATASET_KEYS
        if unknown:
            name = sorted(unknown)[0]
            raise Invalid(f"unknown property {name}", reason="invalid_field", field=name)
        dataset_id = _text(body, "id") or self._ids()
        title = _text(body, "title", required=True) or ""
        description = _text(body, "description") or ""
        source = Source.parse(body.get("source"))
        if "policy" not in body:
            raise Invalid("policy is required", reason="missing_field", field="policy")
        policy = self.resolve_policy(
            body["policy"], field="policy", fallback_id=f"{dataset_id}#policy"
        )
        access: PolicyVersion | None = None
        if body.get("accessPolicy") is not None:
            access = self.resolve_policy(
                body["accessPolicy"], field="accessPolicy", fallback_id=f"{dataset_id}#access"
            )
        formats = body.get("formats", [PULL, PUSH])
        if (
            not isinstance(formats, list)
            or not formats
            or not all(isinstance(f, str) and f for f in formats)
        ):
            raise Invalid(
                "formats must be a list of strings", reason="invalid_field", field="formats"
            )
        properties = body.get("properties", {})
        if not isinstance(properties, Mapping):
            raise Invalid(
                "properties must be an object", reason="invalid_field", field="properties"
            )
        for key in properties:
            if not isinstance(key, str) or key.startswith("@") or key in RESERVED_DATASET_KEYS:
                raise Invalid(
                    f"properties must not set {key} (the connector writes it)",
                    reason="invalid_field",
                    field=f"properties.{key}",
                )
        offer = Offer(
            id=offer_id(dataset_id, policy.hash),
            target=dataset_id,
            policy=offer_rules(policy.body),
            policy_id=policy.id,
            policy_hash=policy.hash,
        )
        dataset = Dataset(
            id=dataset_id,
            title=title,
            description=description,
            offers=(offer,),
            formats=tuple(formats),
            access_policy=None
            if access is None
            else {"policyId": access.id, "version": access.version, "hash": access.hash},
            source=source.to_json(),
            negotiation=_mode(body, "negotiation"),
            transfer=_mode(body, "transfer"),
            properties=dict(properties),
        )
        self._store.save_dataset(
            dataset, access_hash=None if access is None else access.hash, replace=replace
        )
        return dataset

    def load_policy_folder(self, folder: Path) -> list[PolicyVersion]:
        """Register every ``*.jsonld`` policy of a folder under its file stem."""
        import json

        loaded = []
        for path in sorted(folder.glob("*.jsonld")):
            loaded.append(self.register_policy(json.loads(path.read_text("utf-8")), path.stem))
        return loaded


def require(value: Any, what: str, key: str) -> Any:
    """``NotFound`` for a missing entity."""
    if value is None:
        raise NotFound(f"{what} {key} not found", reason=f"unknown_{what}")
    return value
