"""Shaping while streaming: column projection, geofence, aggregate-only (with k-anonymity).

Each transform takes an iterator of records and returns one; none of them holds more than the
current aggregation bucket. :class:`Shaping` is what a dataset's delivery section declares and
what the policy check sees (``kk:aggregationPeriod`` etc. are declared from it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
import shapely.geometry
from shapely.errors import ShapelyError

from connector.dataplane.readers import Record
from connector.errors import Invalid


def project(records: Iterable[Record], columns: Sequence[str]) -> Iterator[Record]:
    """Keep only ``columns`` (for GeoJSON Features: only those ``properties``)."""
    keep = tuple(columns)
    for record in records:
        if record.get("type") == "Feature" and isinstance(record.get("properties"), dict):
            props = record["properties"]
            out = {k: v for k, v in record.items() if k != "properties"}
            out["properties"] = {k: props[k] for k in keep if k in props}
            yield out
        else:
            yield {k: record[k] for k in keep if k in record}


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value))
        except ValueError:
            return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Geofence:
    """Rows inside ``area`` (a shapely geometry; the border counts as inside)."""

    area: Any
    lon: str = "lon"
    lat: str = "lat"

    def geometry(self, record: Record) -> Any | None:
        """The record's geometry: a GeoJSON Feature's ``geometry`` or its lon/lat point."""
        geom = record.get("geometry")
        if record.get("type") == "Feature" and isinstance(geom, dict):
            try:
                return shapely.geometry.shape(geom)
            except (ValueError, TypeError, AttributeError, KeyError, ShapelyError):
                return None
        lon, lat = _number(record.get(self.lon)), _number(record.get(self.lat))
        if lon is None or lat is None:
            return None
        return shapely.Point(lon, lat)

    def apply(self, records: Iterable[Record]) -> Iterator[Record]:
        """Records whose geometry the area covers; records without coordinates are dropped."""
        shapely.prepare(self.area)
        for record in records:
            geom = self.geometry(record)
            if geom is not None and not geom.is_empty and self.area.covers(geom):
                yield record


def _floor(stamp: Any, seconds: int) -> str:
    try:
        at = dt.datetime.fromisoformat(str(stamp))
    except ValueError as exc:
        raise Invalid(f"not an ISO 8601 time: {str(stamp)[:40]!r}", reason="bad_source") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    epoch = int(at.timestamp())
    start = dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)
    return start.isoformat().replace("+00:00", "Z")


@dataclass
class _Cell:
    count: int = 0
    subjects: set[Any] = field(default_factory=set)
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Aggregation:
    """Means per time bucket of ``period_seconds`` and group (``by``), with k-anonymity.

    A cell is delivered only if at least ``k`` distinct ``subject`` values (or, without a
    subject column, ``k`` records) contribute. Input must be ordered by time.
    """

    period_seconds: int = 3600
    by: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    k: int = 1
    time: str = "timestamp"
    subject: str | None = None

    def apply(self, records: Iterable[Record]) -> Iterator[Record]:
        """The aggregated cells, in time order (then group order of first appearance)."""
        current: str | None = None
        cells: dict[tuple[Any, ...], _Cell] = {}
        for record in records:
            bucket = _floor(record.get(self.time), self.period_seconds)
            if current is not None and bucket < current:
                raise Invalid(
                    "aggregation needs records ordered by time", reason="source_not_ordered"
                )
            if bucket != current:
                if current is not None:
                    yield from self._emit(current, cells)
                current, cells = bucket, {}
            key = tuple(record.get(name) for name in self.by)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = _Cell()
            cell.count += 1
            if self.subject is not None:
                cell.subjects.add(record.get(self.subject))
            for name in self.values:
                number = _number(record.get(name))
                if number is not None:
                    cell.sums[name] = cell.sums.get(name, 0.0) + number
                    cell.counts[name] = cell.counts.get(name, 0) + 1
        if current is not None:
            yield from self._emit(current, cells)

    def _emit(self, bucket: str, cells: Mapping[tuple[Any, ...], _Cell]) -> Iterator[Record]:
        for key, cell in cells.items():
            contributors = len(cell.subjects) if self.subject is not None else cell.count
            if contributors < self.k:
                continue
            out: Record = {self.time: bucket}
            out.update(zip(self.by, key, strict=True))
            out["n"] = contributors
            for name in self.values:
                n = cell.counts.get(name, 0)
                out[name] = round(cell.sums[name] / n, 6) if n else None
            yield out
