"""Synthetic weather, sun and calendar for Hagen: the common drivers of the demo data.

Every demo dataset that depends on the weather (air temperature, PV yield, water levels, soil
moisture, heating energy) reads the same :class:`Weather`, so the datasets agree with each other:
a rainy day lowers PV output, raises the streams and wets the tree pits.

Pure functions only: randomness comes from a ``random.Random`` built from the seed, time from the
arguments. Local time is Europe/Berlin (CET/CEST, EU rule), computed without the tz database.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from functools import lru_cache

LATITUDE = 51.36
LONGITUDE = 7.47
_PHI = math.radians(LATITUDE)
_SIN_PHI = math.sin(_PHI)
_COS_PHI = math.cos(_PHI)

# NRW school holidays, approximated as (month, day) windows that recur every year.
_SCHOOL_HOLIDAYS = (
    ((1, 1), (1, 6)),
    ((4, 14), (4, 26)),
    ((7, 14), (8, 26)),
    ((10, 13), (10, 25)),
    ((12, 22), (12, 31)),
)


def rng_for(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream for one part of the demo data.

    String seeds are hashed with SHA-512 by :mod:`random`, so the stream does not depend on
    ``PYTHONHASHSEED`` or the platform.
    """
    return random.Random(f"hagen-demo/{seed}/{name}")  # noqa: S311 - demo data, not secrets


def _last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


@lru_cache(maxsize=64)
def _dst_window(year: int) -> tuple[dt.datetime, dt.datetime]:
    begin = _last_sunday(year, 3)
    end = _last_sunday(year, 10)
    return (
        dt.datetime(begin.year, begin.month, begin.day, 1, tzinfo=dt.UTC),
        dt.datetime(end.year, end.month, end.day, 1, tzinfo=dt.UTC),
    )


def berlin_time(at: dt.datetime) -> dt.datetime:
    """Local civil time in Hagen (naive) for a UTC instant: CET, or CEST in summer."""
    begin, end = _dst_window(at.year)
    offset = 2 if begin <= at < end else 1
    return (at + dt.timedelta(hours=offset)).replace(tzinfo=None)


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@lru_cache(maxsize=16)
def public_holidays(year: int) -> frozenset[dt.date]:
    """Public holidays in North Rhine-Westphalia."""
    easter = _easter(year)
    fixed = [(1, 1), (5, 1), (10, 3), (11, 1), (12, 25), (12, 26)]
    moving = [-2, 1, 39, 50, 60]  # Good Friday, Easter Monday, Ascension, Whit Monday, Corpus C.
    days = {dt.date(year, m, d) for m, d in fixed}
    days.update(easter + dt.timedelta(days=offset) for offset in moving)
    return frozenset(days)


def day_kind(local: dt.datetime) -> int:
    """0 working day, 1 Saturday, 2 Sunday or public holiday."""
    if local.weekday() == 6 or local.date() in public_holidays(local.year):
        return 2
    return 1 if local.weekday() == 5 else 0


def is_school_holiday(day: dt.date) -> bool:
    """True in the (approximated) NRW school holidays."""
    key = (day.month, day.day)
    return any(first <= key <= last for first, last in _SCHOOL_HOLIDAYS)


def season(at: dt.datetime) -> float:
    """-1 in mid-January (coldest) … +1 in mid-July (warmest), a cosine over the year."""
    doy = at.timetuple().tm_yday
    return -math.cos(2.0 * math.pi * (doy - 20) / 365.25)


@dataclass(frozen=True)
class Sun:
    """Direction of the sun as a unit vector (east, north, up)."""

    east: float
    north: float
    up: float


def sun_at(at: dt.datetime) -> Sun:
    """Position of the sun over Hagen at a UTC instant (NOAA approximation, ~0.5° accuracy)."""
    hour = at.hour + at.minute / 60.0 + at.second / 3600.0
    gamma = 2.0 * math.pi / 365.0 * (at.timetuple().tm_yday - 1 + (hour - 12.0) / 24.0)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    solar_minutes = hour * 60.0 + eqtime + 4.0 * LONGITUDE
    ha = math.radians(solar_minutes / 4.0 - 180.0)
    sin_d, cos_d, cos_h = math.sin(decl), math.cos(decl), math.cos(ha)
    return Sun(
        east=-cos_d * math.sin(ha),
        north=sin_d * _COS_PHI - cos_d * cos_h * _SIN_PHI,
        up=sin_d * _SIN_PHI + cos_d * cos_h * _COS_PHI,
    )


def clear_sky_ghi(up: float) -> float:
    """Clear-sky global horizontal irradiance in W/m² (Haurwitz) for sin(elevation) ``up``."""
    if up <= 0.0:
        return 0.0
    return 1098.0 * up * math.exp(-0.057 / up)


@dataclass(frozen=True)
class Weather:
    """Hourly weather for the demo period, index 0 = the period's first hour (UTC).

    ``cloud`` is the cloud cover 0…1, ``rain`` precipitation in mm per hour, ``temperature``
    the air temperature in °C, ``humidity`` relative humidity in %, ``day_temperature`` the
    daily mean temperature (per day index).
    """

    start: dt.datetime
    temperature: tuple[float, ...]
    humidity: tuple[float, ...]
    cloud: tuple[float, ...]
    rain: tuple[float, ...]
    day_temperature: tuple[float, ...]

    def hour_index(self, at: dt.datetime) -> int:
        """Index of the hour containing ``at``."""
        return int((at - self.start).total_seconds() // 3600)

    def temperature_at(self, at: dt.datetime) -> float:
        """Air temperature interpolated linearly between the hourly values."""
        pos = (at - self.start).total_seconds() / 3600.0
        i = int(pos)
        nxt = min(i + 1, len(self.temperature) - 1)
        frac = pos - i
        return self.temperature[i] * (1.0 - frac) + self.temperature[nxt] * frac


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _rain_events(rng: random.Random, summer: bool, cloud: float) -> list[tuple[int, int, float]]:
    """Rain events of one day as (start hour, duration h, intensity mm/h)."""
    if rng.random() >= min(0.95, max(0.0, (cloud - 0.45) * 1.7)):
        return []
    events = []
    for _ in range(1 + (rng.random() < 0.3)):
        if summer and rng.random() < 0.55:  # convective shower
            start, hours = rng.randrange(11, 21), rng.randint(1, 3)
            mm = rng.expovariate(1 / 2.4)
            if rng.random() < 0.04:  # Starkregen
                mm = rng.uniform(12.0, 30.0)
        else:  # stratiform rain
            start, hours = rng.randrange(0, 24), rng.randint(2, 10)
            mm = rng.expovariate(1 / 1.0)
        events.append((start, hours, mm))
    return events


def _build_weather(seed: int, start: dt.datetime, days: int) -> Weather:
    rng = rng_for(seed, "wetter")
    hours = days * 24
    temperature = [0.0] * hours
    humidity = [0.0] * hours
    cloud = [0.0] * hours
    rain = [0.0] * (hours + 48)
    day_mean: list[float] = []
    cloud_state = rng.gauss(0.0, 1.0)
    anomaly = rng.gauss(0.0, 3.0)
    hourly_noise = 0.0
    for day in range(days):
        midday = start + dt.timedelta(days=day, hours=12)
        s = season(midday)
        cloud_state = 0.6 * cloud_state + rng.gauss(0.0, 0.8)
        day_cloud = _sigmoid(0.75 - 0.45 * s + 1.6 * cloud_state)
        anomaly = 0.8 * anomaly + rng.gauss(0.0, 2.4)
        mean = 9.8 + 8.5 * s + anomaly + (0.5 - day_cloud) * 3.0 * s
        day_mean.append(mean)
        amplitude = (2.0 + 6.0 * (1.0 - day_cloud)) * (0.75 + 0.25 * s)
        for start_h, length, mm in _rain_events(rng, s > 0.2, day_cloud):
            for h in range(start_h, start_h + length):
                rain[day * 24 + h] += round(mm * rng.uniform(0.5, 1.5), 1)
        for hour in range(24):
            i = day * 24 + hour
            local_hour = berlin_time(start + dt.timedelta(hours=i)).hour
            hourly_noise = 0.8 * hourly_noise + rng.gauss(0.0, 0.06)
            c = min(1.0, max(0.0, day_cloud + hourly_noise))
            t = mean + amplitude * math.cos(2.0 * math.pi * (local_hour - 15) / 24.0)
            t = min(38.0, max(-15.0, t + rng.gauss(0.0, 0.3)))
            wet = 18.0 if rain[i] > 0 else 0.0
            rh = 74.0 - 6.0 * s - 2.8 * (t - mean) + 12.0 * (c - 0.6) + wet
            cloud[i] = c
            temperature[i] = t
            humidity[i] = min(100.0, max(25.0, rh + rng.gauss(0.0, 2.0)))
    return Weather(
        start=start,
        temperature=tuple(temperature),
        humidity=tuple(humidity),
        cloud=tuple(cloud),
        rain=tuple(rain[:hours]),
        day_temperature=tuple(day_mean),
    )


@lru_cache(maxsize=4)
def weather_for(seed: int, start: dt.datetime, days: int) -> Weather:
    """The (cached) weather of a demo period; the same arguments always give the same weather."""
    return _build_weather(seed, start, days)
