"""The trust list kept in SQL: participants an operator trusts without a credential.

Entries added through ``/api/management/trust/participants`` live here; the ones configured
with ``CONNECTOR_TRUSTED_PARTICIPANTS`` are added on top by
:class:`connector.identity.trust.TrustList` and cannot be removed through the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Engine, MetaData, String, Table, delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from connector.clock import Clock, utc_isoformat
from connector.errors import Unavailable
from connector.stores.transactions import write_transaction

_meta = MetaData()
trusted_table = Table(
    "trusted_participants",
    _meta,
    Column("did", String, primary_key=True),
    Column("added_at", String, nullable=False),
    Column("note", String),
)


@dataclass(frozen=True)
class TrustedParticipant:
    did: str
    added_at: str
    note: str | None = None


class SqlTrustStore:
    """Add, remove and list trusted participant DIDs."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def add(self, did: str, note: str | None = None) -> bool:
        """Trust ``did``; ``False`` if it was already on the list."""
        row = {"did": did, "added_at": utc_isoformat(self._clock.now()), "note": note}
        try:
            with write_transaction(self._engine) as conn:
                conn.execute(trusted_table.insert().values(**row))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise Unavailable("trust store unavailable", reason="database") from exc
        return True

    def remove(self, did: str) -> bool:
        """Stop trusting ``did``; ``False`` if it was not on the list."""
        with write_transaction(self._engine) as conn:
            result = conn.execute(delete(trusted_table).where(trusted_table.c.did == did))
        return result.rowcount > 0

    def contains(self, did: str) -> bool:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(trusted_table.c.did).where(trusted_table.c.did == did)
            ).first()
        return found is not None

    def entries(self) -> list[TrustedParticipant]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(trusted_table).order_by(trusted_table.c.did)).all()
        return [TrustedParticipant(r.did, r.added_at, r.note) for r in rows]
