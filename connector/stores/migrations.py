"""The schema, as an ordered list of migrations. Append only; never edit an applied one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: Callable[[str], list[str]]
    """Statements for a dialect name (``sqlite`` or ``postgresql``)."""

    def statements(self, dialect: str) -> list[str]:
        return self.sql(dialect)


def _json(dialect: str) -> str:
    return "JSONB" if dialect == "postgresql" else "TEXT"


def _initial(dialect: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS connector_meta ("
        " key TEXT PRIMARY KEY,"
        f" value {_json(dialect)} NOT NULL)",
    ]


MIGRATIONS: list[Migration] = [
    Migration(1, "initial", _initial),
]
