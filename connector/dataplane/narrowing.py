"""What a consumer may ask for on a pull: a time range, named filters, a row limit, and (for an
OGC SensorThings upstream) the ``$filter``/``$top``/``$skip``/``$orderby``/``$select`` options.

Which query parameters exist for a dataset is declared in its delivery section
(``time = "timestamp"``, ``filters = {station = "station_id"}``); anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from connector.dataplane.readers import Record
from connector.errors import Invalid

SENSORTHINGS_OPTIONS: Final = ("$filter", "$top", "$skip", "$orderby", "$select")
IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
RESERVED: Final = frozenset({"from", "to", "limit", "format", "purpose"})
MAX_LIMIT: Final = 10_000_000


def _instant(name: str, value: str) -> str:
    try:
        at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(f"{name}: not an ISO 8601 date or time", reason="bad_query") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Narrowing:
    """A validated narrowing of one pull."""

    start: str | None = None
    end: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    """column → required value"""
    limit: int | None = None
    passthrough: Mapping[str, str] = field(default_factory=dict)
    """SensorThings options, passed to an HTTP upstream as they are."""

    @classmethod
    def from_query(
        cls,
        query: Iterable[tuple[str, str]],
        *,
        filters: Mapping[str, str],
        time_column: str | None,
        passthrough: bool,
    ) -> Narrowing:
        """Validate query parameters against what the dataset declares."""
        start = end = None
        chosen: dict[str, str] = {}
        limit = None
        extra: dict[str, str] = {}
        for name, value in query:
            if name in ("from", "to"):
                if time_column is None:
                    raise Invalid("this dataset has no time range", reason="bad_query")
                if name == "from":
                    start = _instant(name, value)
                else:
                    end = _instant(name, value)
            elif name == "limit":
                if not value.isdigit() or not 0 < int(value) <= MAX_LIMIT:
                    raise Invalid("limit must be a positive integer", reason="bad_query")
                limit = int(value)
            elif name in filters:
                if len(value) > 200:
                    raise Invalid(f"{name}: value too long", reason="bad_query")
                chosen[filters[name]] = value
            elif name in SENSORTHINGS_OPTIONS and passthrough:
                if len(value) > 2000:
                    raise Invalid(f"{name}: value too long", reason="bad_query")
                extra[name] = value
            elif name in ("format", "purpose"):
                continue
            else:
                raise Invalid(f"unknown query parameter {name!r}", reason="bad_query")
        return cls(start, end, chosen, limit, extra)

    def apply(self, records: Iterable[Record], time_column: str | None) -> Iterator[Record]:
        """Filter records in Python (file sources); SQL sources bind the same conditions."""
        count = 0
        for record in records:
            if self.limit is not None and count >= self.limit:
                return
            if time_column is not None and (self.start or self.end):
                stamp = record.get(time_column)
                if stamp is None:
                    continue
                text = _instant(time_column, str(stamp)) if "T" in str(stamp) else str(stamp)
                if self.start and text < self.start:
                    continue
                if self.end and text >= self.end:
                    continue
            if any(str(record.get(col)) != val for col, val in self.filters.items()):
                continue
            count += 1
            yield record

    @property
    def empty(self) -> bool:
        """Nothing to narrow."""
        return not (self.start or self.end or self.filters or self.limit or self.passthrough)
