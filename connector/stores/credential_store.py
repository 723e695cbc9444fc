"""The credentials this participant holds (given to it by issuers), in SQL.

Our Credential Service (``POST <dcp base>/presentations/query``) selects from here by type or
id. Rows keep the credential exactly as received (``body``: compact ``vc+jwt`` or the JSON
document) beside the columns it is selected by.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Engine, MetaData, String, Table, delete, select
from sqlalchemy.exc import IntegrityError

from connector.clock import Clock, utc_isoformat
from connector.errors import Conflict
from connector.stores.transactions import write_transaction

_meta = MetaData()
held_table = Table(
    "held_credentials",
    _meta,
    Column("id", String, primary_key=True),
    Column("format", String, nullable=False),
    Column("types", String, nullable=False),
    Column("issuer", String, nullable=False),
    Column("subject", String),
    Column("valid_until", String),
    Column("added_at", String, nullable=False),
    Column("body", String, nullable=False),
)


@dataclass(frozen=True)
class StoredCredential:
    id: str
    format: str
    """``vc+jwt`` or ``ldp_vc``."""
    types: tuple[str, ...]
    issuer: str
    subject: str | None
    valid_until: str | None
    added_at: str
    body: str


class SqlCredentialStore:
    """Add, list, select and remove held credentials."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def add(
        self,
        *,
        id: str,
        format: str,
        types: Sequence[str],
        issuer: str,
        subject: str | None,
        valid_until: str | None,
        body: str,
        replace: bool = False,
    ) -> StoredCredential:
        """Keep a credential; ``Conflict`` if one with this id is held (unless ``replace``)."""
        row = {
            "id": id,
            "format": format,
            "types": json.dumps(list(types)),
            "issuer": issuer,
            "subject": subject,
            "valid_until": valid_until,
            "added_at": utc_isoformat(self._clock.now()),
            "body": body,
        }
        try:
            with write_transaction(self._engine) as conn:
                if replace:
                    conn.execute(delete(held_table).where(held_table.c.id == id))
                conn.execute(held_table.insert().values(**row))
        except IntegrityError as exc:
            raise Conflict(f"a credential {id[:80]} is already held", reason="duplicate") from exc
        return _stored(row)

    def remove(self, credential_id: str) -> bool:
        with write_transaction(self._engine) as conn:
            result = conn.execute(delete(held_table).where(held_table.c.id == credential_id))
        return result.rowcount > 0

    def all(self) -> list[StoredCredential]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(held_table).order_by(held_table.c.added_at)).mappings()
            return [_stored(dict(r)) for r in rows]

    def matching(
        self, *, types: Sequence[str] = (), ids: Sequence[str] = ()
    ) -> list[StoredCredential]:
        """Credentials of any of ``types`` or with any of ``ids``."""
        wanted_types, wanted_ids = set(types), set(ids)
        return [c for c in self.all() if c.id in wanted_ids or wanted_types & set(c.types)]


def _stored(row: Mapping[str, object]) -> StoredCredential:
    return StoredCredential(
        id=str(row["id"]),
        format=str(row["format"]),
        types=tuple(json.loads(str(row["types"]))),
        issuer=str(row["issuer"]),
        subject=None if row["subject"] is None else str(row["subject"]),
        valid_until=None if row["valid_until"] is None else str(row["valid_until"]),
        added_at=str(row["added_at"]),
        body=str(row["body"]),
    )
