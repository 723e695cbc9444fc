"""The auditor's read-only view of the contract tables: policy versions and agreements.

Which policy version was in force when (a version is valid from its creation until the next
version of the same policy was created), and under which policy version each agreement was
concluded (matched by the policy hash the agreement carries).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from connector.stores.controlplane_store import load_json


def policy_versions(engine: Engine, policy_id: str | None = None) -> list[dict[str, Any]]:
    """Every stored policy version (of ``policy_id`` if given) with hash and validity."""
    sql = "SELECT id, version, hash, uid, created_at FROM cp_policies"
    params: dict[str, Any] = {}
    if policy_id is not None:
        sql += " WHERE id = :id"
        params["id"] = policy_id
    with engine.connect() as conn:
        rows = conn.execute(text(sql + " ORDER BY id, version"), params).all()
    items: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        superseded = following is not None and following[0] == row[0]
        items.append(
            {
                "policy": row[0],
                "version": int(row[1]),
                "hash": row[2],
                "uid": row[3],
                "valid_from": row[4],
                "valid_until": following[4] if superseded and following is not None else None,
                "current": not superseded,
            }
        )
    return items


def agreements(
    engine: Engine,
    *,
    participant: str | None = None,
    dataset: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Agreements (ordered by id, ``id > after``) with the policy version they were made under;
    ``participant`` matches the assigner or the assignee."""
    where = ["a.id > :after"]
    params: dict[str, Any] = {"after": after or "", "n": limit}
    if participant is not None:
        where.append("(a.assigner = :p OR a.assignee = :p)")
        params["p"] = participant
    if dataset is not None:
        where.append("a.dataset_id = :ds")
        params["ds"] = dataset
    columns = "a.id, a.negotiation_id, a.dataset_id, a.assigner, a.assignee, a.created_at, a.body"
    condition = " AND ".join(where)  # constant fragments; values are bound parameters
    sql = f"SELECT {columns} FROM cp_agreements a WHERE {condition} ORDER BY a.id LIMIT :n"  # noqa: S608
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
        versions: dict[str, tuple[str, int]] = {}
        for row in conn.execute(text("SELECT hash, id, version FROM cp_policies")):
            versions.setdefault(row[0], (row[1], int(row[2])))
    items: list[dict[str, Any]] = []
    for row in rows:
        body = load_json(row[6])
        digest = body.get("policyHash")
        known = versions.get(digest) if digest else None
        items.append(
            {
                "id": row[0],
                "negotiation": row[1],
                "dataset": row[2],
                "assigner": row[3],
                "assignee": row[4],
                "concluded_at": row[5],
                "policy": body.get("policyId") or (known[0] if known else None),
                "policy_hash": digest,
                "policy_version": None if known is None else {"id": known[0], "version": known[1]},
            }
        )
    return items
