"""Policies (immutable versions) and datasets of this participant's catalogue, in SQL.

A policy version is identified by ``(id, version)`` and by the hash of its canonical JSON;
saving the same content again returns the existing version, different content makes the next
version. Datasets are read in pages ordered by id (``WHERE id > :after``), so the cost of a
page does not grow with the size of the catalogue.

Audit: a new policy version is a ``policy.changed`` event, a dataset created, changed or removed
a ``dataset.changed`` event (old and new hashes: SHA-256 of the canonical JSON), appended in the
same transaction as the write. Saving unchanged content records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, text

from connector.audit.event import AuditEvent, canonical, sha256_hex
from connector.audit.vocabulary import EventType
from connector.clock import Clock, utc_isoformat
from connector.controlplane.policies import PolicyVersion, policy_hash
from connector.errors import Conflict
from connector.model.dataset import Dataset
from connector.stores import records
from connector.stores.audit_store import SqlAuditStore
from connector.stores.controlplane_store import dump_json, load_json
from connector.stores.transactions import run, write_transaction

ACTOR = "management"
"""Who changes policies and datasets: the operator (management API or configuration load)."""


def dataset_hash(body: Any) -> str:
    """SHA-256 (hex) of a stored dataset document in JCS."""
    return sha256_hex(canonical(body))


def _version(row: Any) -> PolicyVersion:
    return PolicyVersion(
        id=row[0], version=int(row[1]), hash=row[2], uid=row[3], body=load_json(row[4])
    )


def _dataset_event(dataset_id: str, old: str | None, new: str | None) -> AuditEvent:
    change = "created" if old is None else "removed" if new is None else "changed"
    return AuditEvent(
        EventType.DATASET_CHANGED,
        actor=ACTOR,
        dataset=dataset_id,
        details={"old_hash": old, "new_hash": new, "change": change},
    )


class SqlCatalogStore:
    """Policies and datasets (the catalogue's ``DatasetSource`` and the ``ListingStore``)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._by_hash: dict[str, PolicyVersion] = {}
        self.audit: SqlAuditStore | None = None
        """The audit trail changes are recorded in (set by the composition root)."""

    def _audit(self, conn: Connection, event: AuditEvent) -> None:
        if self.audit is not None:
            self.audit.append_in(conn, [event])

    # policies ----------------------------------------------------------------------------------

    def save_policy(
        self, policy_id: str, body: Mapping[str, Any], uid: str | None
    ) -> PolicyVersion:
        """Store ``body`` as the newest version of ``policy_id`` (unchanged content: no new one)."""
        digest = policy_hash(body)
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                text(
                    "SELECT id, version, hash, uid, body FROM cp_policies WHERE id = :id"
                    " ORDER BY version DESC LIMIT 1"
                ),
                {"id": policy_id},
            ).first()
            if row is not None and row[2] == digest:
                return _version(row)
            version = 1 if row is None else int(row[1]) + 1
            conn.execute(
                text(
                    "INSERT INTO cp_policies (id, version, hash, uid, created_at, body)"
                    " VALUES (:id, :v, :h, :uid, :at, :body)"
                ),
                {
                    "id": policy_id,
                    "v": version,
                    "h": digest,
                    "uid": uid,
                    "at": utc_isoformat(self._clock.now()),
                    "body": dump_json(dict(body)),
                },
            )
            details = {
                "policy": policy_id,
                "version": version,
                "old_hash": None if row is None else row[2],
                "new_hash": digest,
            }
            self._audit(conn, AuditEvent(EventType.POLICY_CHANGED, actor=ACTOR, details=details))
        return PolicyVersion(policy_id, version, digest, uid, dict(body))

    def policy(self, policy_id: str, version: int | None = None) -> PolicyVersion | None:
        """A version of a policy (the newest if ``version`` is ``None``); also found by uid."""
        with self.engine.connect() as conn:
            for column in ("id", "uid"):
                sql = f"SELECT id, version, hash, uid, body FROM cp_policies WHERE {column} = :id"  # noqa: S608 (constant column)
                params: dict[str, Any] = {"id": policy_id}
                if version is not None:
                    sql += " AND version = :v"
                    params["v"] = version
                row = conn.execute(text(sql + " ORDER BY version DESC LIMIT 1"), params).first()
                if row is not None:
                    return _version(row)
        return None

    def policy_by_hash(self, digest: str) -> PolicyVersion | None:
        """The policy version with this content hash (versions are immutable: cached)."""
        hit = self._by_hash.get(digest)
        if hit is not None:
            return hit
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT id, version, hash, uid, body FROM cp_policies WHERE hash = :h"
                    " ORDER BY version DESC LIMIT 1"
                ),
                {"h": digest},
            ).first()
        if row is None:
            return None
        found = _version(row)
        if len(self._by_hash) < 4096:
            self._by_hash[digest] = found
        return found

    def policies(self) -> list[PolicyVersion]:
        """The newest version of every policy, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT p.id, p.version, p.hash, p.uid, p.body FROM cp_policies p"
                    " WHERE p.version = (SELECT max(q.version) FROM cp_policies q"
                    " WHERE q.id = p.id) ORDER BY p.id"
                )
            ).all()
        return [_version(r) for r in rows]

    # datasets ----------------------------------------------------------------------------------

    def save_dataset(self, dataset: Dataset, *, access_hash: str | None, replace: bool) -> None:
        """Store a dataset; ``Conflict`` if its id exists and ``replace`` is false."""
        doc = records.dataset_json(dataset)
        params = {
            "id": dataset.id,
            "h": access_hash,
            "at": utc_isoformat(self._clock.now()),
            "body": dump_json(doc),
        }
        with write_transaction(self.engine) as conn:
            exists = conn.execute(
                text("SELECT body FROM cp_datasets WHERE id = :id"), {"id": dataset.id}
            ).first()
            old = None if exists is None else dataset_hash(load_json(exists[0]))
            new = dataset_hash(doc)
            if old != new:
                self._audit(conn, _dataset_event(dataset.id, old, new))
            if exists is not None and not replace:
                raise Conflict(f"dataset {dataset.id} exists", reason="dataset_exists")
            if exists is not None:
                conn.execute(
                    text("UPDATE cp_datasets SET access_hash = :h, body = :body WHERE id = :id"),
                    params,
                )
            else:
                conn.execute(
                    text(
                        "INSERT INTO cp_datasets (id, access_hash, created_at, body)"
                        " VALUES (:id, :h, :at, :body)"
                    ),
                    params,
                )

    def dataset(self, dataset_id: str) -> Dataset | None:
        """One dataset, or ``None``."""
        with self.engine.connect() as conn:
            row = run(
                conn,
                "SELECT CAST(body AS TEXT) FROM cp_datasets WHERE id = :id",
                {"id": dataset_id},
            ).first()
        return None if row is None else records.DATASETS.of(row[0])

    def delete_dataset(self, dataset_id: str) -> bool:
        """Remove a dataset; whether it existed."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                text("DELETE FROM cp_datasets WHERE id = :id RETURNING body"), {"id": dataset_id}
            ).first()
            if row is not None:
                self._audit(conn, _dataset_event(dataset_id, dataset_hash(load_json(row[0])), None))
        return row is not None

    def datasets_after(self, after: str | None, limit: int) -> list[Dataset]:
        """Up to ``limit`` datasets with ids greater than ``after``, ordered by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT body FROM cp_datasets WHERE id > :after ORDER BY id LIMIT :n"),
                {"after": after or "", "n": limit},
            ).all()
        return [records.dataset_from(load_json(r[0])) for r in rows]

    def datasets_before(self, before: str, limit: int) -> list[Dataset]:
        """Up to ``limit`` datasets with ids less than ``before``, in *descending* id order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT body FROM cp_datasets WHERE id < :before ORDER BY id DESC LIMIT :n"),
                {"before": before, "n": limit},
            ).all()
        return [records.dataset_from(load_json(r[0])) for r in rows]

    def count_datasets(
        self,
        *,
        after: str | None = None,
        upto: str | None = None,
        start: str | None = None,
        before: str | None = None,
    ) -> int:
        """How many datasets have ids ``> after``, ``<= upto``, ``>= start`` and ``< before``
        (each bound only if given)."""
        bounds = {"after": ">", "upto": "<=", "start": ">=", "before": "<"}
        given = {"after": after, "upto": upto, "start": start, "before": before}
        where = [f"id {bounds[k]} :{k}" for k, v in given.items() if v is not None]
        sql = "SELECT count(*) FROM cp_datasets"
        if where:
            sql += " WHERE " + " AND ".join(where)
        params = {k: v for k, v in given.items() if v is not None}
        with self.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())

    def iter_datasets(self, batch: int = 500) -> Iterator[Dataset]:
        """Every dataset, in id order."""
        after: str | None = None
        while True:
            page = self.datasets_after(after, batch)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].id
