"""Typed values of constraint operands and how they compare.

Decisions (docs/policy.md): instants are compared after normalising time zones (a value without
a zone is UTC); an ``xsd:date`` stands for the whole day ``[00:00, next day 00:00)``; durations
with months/years are compared by adding them to the actual start instant when there is one,
otherwise by the XSD 1.1 partial order (four reference instants; disagreement = incomparable).
An incomparable pair makes a constraint unsatisfied, never satisfied.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from connector.policy.terms import GEO, IRI, RDF, XSD, BNode, Term
from connector.policy.vocabulary import (
    DURATION_TYPES,
    GEOMETRY_TYPES,
    INSTANT_TYPES,
    NUMERIC_TYPES,
    STRING_TYPES,
    Kind,
)

UTC: Final = dt.UTC


class Incomparable(ValueError):
    """A value cannot be read in the value space a left operand needs."""


@dataclass(frozen=True, slots=True)
class DateInterval:
    """An ``xsd:date``: the half-open interval of the whole day."""

    start: dt.datetime
    end: dt.datetime
    lexical: str


@dataclass(frozen=True, slots=True)
class Duration:
    """An ``xsd:duration`` split into months and (exact) seconds."""

    months: int
    seconds: Decimal
    lexical: str


@dataclass(frozen=True, slots=True)
class Elapsed:
    """Time elapsed between two instants; compared to a duration by adding it to ``start``."""

    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> Decimal:
        """The exact elapsed seconds."""
        delta = self.end - self.start
        return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6


_DT_RE: Final = re.compile(
    r"^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$"
)
_DATE_RE: Final = re.compile(r"^(-?\d{4,})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_DUR_RE: Final = re.compile(
    r"^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def _zone(text: str | None) -> dt.tzinfo:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise Incomparable(f"invalid time zone {text}")
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def parse_instant(lexical: str) -> dt.datetime:
    """An ``xsd:dateTime`` as an aware datetime (no zone = UTC; 24:00:00 = next day)."""
    m = _DT_RE.match(lexical.strip())
    if not m:
        raise Incomparable(f"not an xsd:dateTime: {lexical!r}")
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    frac = m.group(7) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    extra = dt.timedelta()
    if hour == 24 and minute == 0 and second == 0 and micro == 0:
        hour, extra = 0, dt.timedelta(days=1)
    try:
        value = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=_zone(m.group(8)))
    except ValueError as exc:
        raise Incomparable(f"not an xsd:dateTime: {lexical!r}") from exc
    return value + extra


def parse_date(lexical: str) -> DateInterval:
    """An ``xsd:date`` as the interval of that whole day in its zone (default UTC)."""
    m = _DATE_RE.match(lexical.strip())
    if not m:
        raise Incomparable(f"not an xsd:date: {lexical!r}")
    try:
        start = dt.datetime(
            int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=_zone(m.group(4))
        )
    except ValueError as exc:
        raise Incomparable(f"not an xsd:date: {lexical!r}") from exc
    return DateInterval(start, start + dt.timedelta(days=1), lexical)


def parse_duration(lexical: str) -> Duration:
    """An ``xsd:duration`` (also day-time and year-month durations)."""
    text = lexical.strip()
    m = _DUR_RE.match(text)
    if not m or text in ("P", "-P") or text.endswith("T"):
        raise Incomparable(f"not an xsd:duration: {lexical!r}")
    sign = -1 if m.group(1) else 1
    years, months, weeks, days, hours, minutes = (int(m.group(i) or 0) for i in range(2, 8))
    seconds = Decimal(m.group(8) or 0)
    total_months = sign * (years * 12 + months)
    total_seconds = sign * (
        Decimal((weeks * 7 + days) * 86400 + hours * 3600 + minutes * 60) + seconds
    )
    return Duration(total_months, total_seconds, lexical)


def add_duration(start: dt.datetime, duration: Duration) -> dt.datetime:
    """``start + duration`` with calendar months (day clamped to the month's end)."""
    value = start
    if duration.months:
        month_index = start.year * 12 + (start.month - 1) + duration.months
        year, month = divmod(month_index, 12)
        month += 1
        days_in_month = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        value = start.replace(year=year, month=month, day=min(start.day, days_in_month))
    return value + dt.timedelta(seconds=float(duration.seconds))


_REFERENCES: Final = tuple(
    dt.datetime(y, m, 1, tzinfo=UTC) for y, m in ((1696, 9), (1697, 2), (1903, 3), (1903, 7))
)


def compare_durations(left: Duration | Elapsed, right: Duration) -> int | None:
    """-1/0/1, or ``None`` when the XSD partial order leaves the pair incomparable."""
    if isinstance(left, Elapsed):
        limit = add_duration(left.start, right)
        return (left.end > limit) - (left.end < limit)
    if left.months == right.months:
        return (left.seconds > right.seconds) - (left.seconds < right.seconds)
    results = set()
    for ref in _REFERENCES:
        a, b = add_duration(ref, left), add_duration(ref, right)
        results.add((a > b) - (a < b))
    return results.pop() if len(results) == 1 else None


def parse_number(lexical: str) -> Decimal:
    """A numeric literal as an exact decimal."""
    try:
        value = Decimal(lexical.strip())
    except InvalidOperation as exc:
        raise Incomparable(f"not a number: {lexical!r}") from exc
    if not value.is_finite():
        raise Incomparable(f"not a finite number: {lexical!r}")
    return value


def parse_boolean(lexical: str) -> bool:
    """``true``/``1`` or ``false``/``0``."""
    text = lexical.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise Incomparable(f"not a boolean: {lexical!r}")


def coerce(term: Term, kind: Kind) -> Any:
    """Read ``term`` in the value space ``kind``; :class:`Incomparable` if it does not fit.

    A plain string is read in the left operand's space when its lexical form parses (the DSP
    examples write dates as plain strings); a literal of another explicit datatype never is.
    """
    if isinstance(term, (IRI, BNode)):
        if kind in (Kind.IRI, Kind.STRING):
            return str(term)
        raise Incomparable(f"an IRI ({term}) cannot be compared as {kind.value}")
    dtype, lex = term.datatype, term.lexical
    plain = dtype in STRING_TYPES
    if kind is Kind.INSTANT:
        if dtype == XSD.date or (plain and _DATE_RE.match(lex.strip())):
            return parse_date(lex)
        if dtype in INSTANT_TYPES or plain:
            return parse_instant(lex)
    elif kind is Kind.DURATION:
        if dtype in DURATION_TYPES or plain:
            return parse_duration(lex)
    elif kind is Kind.NUMBER:
        if dtype in NUMERIC_TYPES or plain:
            return parse_number(lex)
    elif kind is Kind.IRI:
        if dtype == XSD.anyURI or plain:
            return lex
    elif kind is Kind.STRING:
        if plain or dtype in (XSD.anyURI, XSD.language):
            return lex
    elif kind is Kind.BOOLEAN:
        if dtype == XSD.boolean or plain:
            return parse_boolean(lex)
    elif kind is Kind.GEOMETRY and (dtype in GEOMETRY_TYPES or plain):
        from connector.policy.geometry import parse_geometry

        return parse_geometry(lex, geojson=dtype in (GEO.geoJSONLiteral, RDF.JSON))
    raise Incomparable(f"a {_short(dtype)} value ({lex!r}) cannot be compared as {kind.value}")


def _short(dtype: str) -> str:
    for ns, prefix in ((str(XSD), "xsd:"), (str(GEO), "geo:"), (str(RDF), "rdf:")):
        if dtype.startswith(ns):
            return prefix + dtype[len(ns) :]
    return dtype


def instant_text(value: dt.datetime) -> str:
    """``xsd:dateTime`` lexical form: UTC as ``Z``, milliseconds only when present."""
    spec = (
        "seconds"
        if value.microsecond == 0
        else ("milliseconds" if value.microsecond % 1000 == 0 else "microseconds")
    )
    return value.isoformat(timespec=spec).replace("+00:00", "Z")


def render(value: Any) -> str:
    """A short human form of a typed value for reports and explanations."""
    if isinstance(value, dt.datetime):
        return instant_text(value)
    if isinstance(value, (DateInterval, Duration)):
        return value.lexical
    if isinstance(value, Elapsed):
        return f"{value.seconds.normalize():f} s"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral() else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "wkt"):
        return str(value.wkt)
    return str(value)
