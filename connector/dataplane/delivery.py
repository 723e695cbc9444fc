"""How a dataset is delivered: narrowing it offers and shaping it can apply when a policy asks.

Declared per dataset (``delivery`` in the datasets config, kept in ``Dataset.properties``)::

    [datasets.delivery]
    time = "timestamp"                       # the time column (from/to narrowing, aggregation)
    filters = { station = "station_id" }     # query parameter → column
    columns = ["timestamp", "station_id"]    # the columns the offers cover (projection)
    [datasets.delivery.aggregate]            # applied when the agreement asks for aggregates
    period = "PT1H"; by = ["station_id"]; values = ["no2_ug_m3"]; k = 5
    subject = "meter_id"; always = true      # always: raw rows never leave
    [datasets.delivery.geofence]             # applied when the agreement has a geofence
    lon = "lon"; lat = "lat"

Which shaping applies to one access is decided by the agreement's policy
(:mod:`connector.dataplane.policy_terms`); the shaping applied is declared to the policy
engine (``kk:aggregationPeriod``/``kk:aggregationFunction``/``kk:kAnonymity``), so a policy
that asks for more than the data plane delivers refuses the access.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.dataplane.narrowing import IDENTIFIER, RESERVED
from connector.errors import Invalid

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def duration_seconds(text: str) -> int:
    """Seconds of a day/time ISO 8601 duration (``PT1H``, ``PT15M``, ``P1D``)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        raise Invalid(f"not a day/time duration: {text!r}", reason="invalid_delivery")
    d, h, m, s = (int(g or 0) for g in match.groups())
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise Invalid("aggregation period must be positive", reason="invalid_delivery")
    return seconds


def _names(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise Invalid(f"delivery {what} must be a list of column names", reason="invalid_delivery")
    for name in value:
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise Invalid(f"delivery {what}: bad column name {name!r}", reason="invalid_delivery")
    return tuple(value)


def _name(value: Any, what: str, default: str | None = None) -> str | None:
    if value is None:
        return default
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise Invalid(f"delivery {what}: bad column name {value!r}", reason="invalid_delivery")
    return value


@dataclass(frozen=True)
class AggregateSpec:
    period: str = "PT1H"
    by: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    k: int = 1
    subject: str | None = None
    function: str = "mean"
    always: bool = False
    """Aggregate every access, whatever the agreement says (raw rows never leave)."""

    @property
    def period_seconds(self) -> int:
        return duration_seconds(self.period)


@dataclass(frozen=True)
class GeofenceSpec:
    lon: str = "lon"
    lat: str = "lat"
    polygon: str | None = None
    """A fixed WKT polygon; normally the agreement's geofence is used."""


@dataclass(frozen=True)
class Delivery:
    time: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    aggregate: AggregateSpec | None = None
    geofence: GeofenceSpec | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Delivery:
        """Validate a delivery section (``None``: nothing declared)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise Invalid("delivery must be a table", reason="invalid_delivery")
        unknown = set(raw) - {"time", "filters", "columns", "aggregate", "geofence"}
        if unknown:
            raise Invalid(f"unknown delivery keys {sorted(unknown)}", reason="invalid_delivery")
        filters = raw.get("filters") or {}
        if not isinstance(filters, Mapping):
            raise Invalid("delivery filters must be a table", reason="invalid_delivery")
        for param, column in filters.items():
            if param in RESERVED or not IDENTIFIER.match(str(param)):
                raise Invalid(f"bad filter parameter {param!r}", reason="invalid_delivery")
            _name(column, "filters")
        aggregate = None
        if raw.get("aggregate") is not None:
            agg = raw["aggregate"]
            if not isinstance(agg, Mapping):
                raise Invalid("delivery aggregate must be a table", reason="invalid_delivery")
            k = agg.get("k", 1)
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise Invalid("aggregate k must be a positive integer", reason="invalid_delivery")
            if agg.get("function", "mean") != "mean":
                raise Invalid("only the mean is supported", reason="invalid_delivery")
            aggregate = AggregateSpec(
                period=str(agg.get("period", "PT1H")),
                by=_names(agg.get("by"), "aggregate.by"),
                values=_names(agg.get("values"), "aggregate.values"),
                k=k,
                subject=_name(agg.get("subject"), "aggregate.subject"),
                always=bool(agg.get("always", False)),
            )
            duration_seconds(aggregate.period)
            if not aggregate.values:
                raise Invalid("aggregate needs values to average", reason="invalid_delivery")
        geofence = None
        if raw.get("geofence") is not None:
            geo = raw["geofence"]
            if not isinstance(geo, Mapping):
                raise Invalid("delivery geofence must be a table", reason="invalid_delivery")
            polygon = geo.get("polygon")
            geofence = GeofenceSpec(
                lon=_name(geo.get("lon"), "geofence.lon", "lon") or "lon",
                lat=_name(geo.get("lat"), "geofence.lat", "lat") or "lat",
                polygon=str(polygon) if polygon is not None else None,
            )
        time = _name(raw.get("time"), "time")
        if aggregate is not None and time is None:
            raise Invalid("aggregation needs the time column", reason="invalid_delivery")
        return cls(
            time=time,
            filters={str(k): str(v) for k, v in filters.items()},
            columns=_names(raw.get("columns"), "columns"),
            aggregate=aggregate,
            geofence=geofence,
        )
