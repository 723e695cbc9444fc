"""Deterministic, realistic demo data for the City of Hagen's nine demo datasets.

Pure generators: each takes a :class:`DemoConfig` and yields rows as tuples (columns in the
order declared in :mod:`connector.dataplane.demo_catalog`), time-major (all series of one
instant, then the next instant). Randomness comes only from ``random.Random`` streams derived
from the seed (one per dataset), so the same config always yields the same rows and datasets do
not disturb each other. The datasets share one synthetic weather
(:mod:`connector.dataplane.demo_weather`), so rain shows up in water levels, soil moisture and
PV yield alike; traffic CO2 is computed from the traffic counts, monthly building energy from
the load profiles.

Timestamps are ISO 8601 UTC (``2025-01-01T00:00:00Z``) and mark the start of the interval.
All data is synthetic.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from connector.clock import utc_isoformat
from connector.dataplane import demo_sites as sites
from connector.dataplane.demo_weather import (
    Weather,
    berlin_time,
    day_kind,
    is_school_holiday,
    rng_for,
    season,
    sun_at,
    weather_for,
)
from connector.errors import Invalid

DEFAULT_SEED = 5914  # Hagen's municipality key is 05 9 14 000
DEFAULT_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
MAX_DAYS = 3660

TRAFFIC_CO2_METHOD = "hagen-verkehr-co2/1.0"
# g CO2 per vehicle-km, urban driving (rounded fleet averages in the spirit of HBEFA 4.2)
EMISSION_FACTORS_G_PER_KM = {
    "cars": 143.0,
    "vans": 215.0,
    "trucks": 690.0,
    "buses": 950.0,
    "motorcycles": 95.0,
    "bicycles": 0.0,
}
VEHICLE_CLASSES = tuple(EMISSION_FACTORS_G_PER_KM)
DIRECTIONS = ("stadteinwaerts", "stadtauswaerts")
MAX_VEHICLES_PER_15_MIN = 600
NO_FLOOD_WARNING = "keine amtliche Hochwasserwarnung"

Value = str | int | float | bool | None
Row = tuple[Value, ...]


def number(value: Value) -> float:
    """A numeric cell of a row as float (0 for an empty cell)."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


@dataclass(frozen=True)
class DemoConfig:
    """What to generate: ``days`` days from ``start`` (UTC midnight) with random ``seed``."""

    seed: int = DEFAULT_SEED
    days: int = 365
    start: dt.datetime = DEFAULT_START

    def __post_init__(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise Invalid(f"days must be 1…{MAX_DAYS}, not {self.days}", reason="demo_days")
        start = self.start
        if start.tzinfo is None or start.utcoffset() != dt.timedelta(0):
            raise Invalid("start must be a UTC instant", reason="demo_start")
        if (start.hour, start.minute, start.second, start.microsecond) != (0, 0, 0, 0):
            raise Invalid("start must be midnight UTC", reason="demo_start")

    @property
    def end(self) -> dt.datetime:
        """First instant after the period."""
        return self.start + dt.timedelta(days=self.days)

    @property
    def weather(self) -> Weather:
        """The shared synthetic weather of this period."""
        return weather_for(self.seed, self.start, self.days)


@dataclass(frozen=True, slots=True)
class Step:
    """One sampling instant with the calendar facts the generators need."""

    index: int
    at: dt.datetime
    stamp: str
    hour: float  # local (Europe/Berlin) hour of day, fractional
    kind: int  # 0 working day, 1 Saturday, 2 Sunday/holiday
    local_date: dt.date


def steps(config: DemoConfig, minutes: int) -> Iterator[Step]:
    """The sampling instants of the period every ``minutes`` minutes."""
    delta = dt.timedelta(minutes=minutes)
    for i in range(config.days * 24 * 60 // minutes):
        at = config.start + i * delta
        local = berlin_time(at)
        yield Step(
            i,
            at,
            utc_isoformat(at),
            local.hour + local.minute / 60.0,
            day_kind(local),
            local.date(),
        )


def bump(x: float, centre: float, width: float) -> float:
    """A Gaussian bump of height 1 at ``centre``."""
    return math.exp(-0.5 * ((x - centre) / width) ** 2)


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to ``low``…``high``."""
    return low if value < low else high if value > high else value


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation above)."""
    if mean <= 0.0:
        return 0
    if mean > 12.0:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def traffic_level(hour: float, kind: int, inbound: bool) -> float:
    """Relative traffic volume (peak ≈ 1) by local hour, day kind and direction."""
    if kind == 0:
        day = 1.0 / (1.0 + math.exp(-(hour - 5.5) * 1.5)) / (1.0 + math.exp(-(21.5 - hour) * 0.9))
        morning = 0.55 if inbound else 0.3
        evening = 0.3 if inbound else 0.5
        return 0.02 + 0.45 * day + morning * bump(hour, 7.75, 0.9) + evening * bump(hour, 16.9, 1.3)
    if kind == 1:
        return 0.03 + 0.6 * bump(hour, 12.5, 3.5) + 0.08 * bump(hour, 20.0, 2.0)
    return 0.025 + 0.42 * bump(hour, 15.0, 3.6)


def season_traffic(day: dt.date) -> float:
    """Traffic factor of the calendar: quieter in school holidays and around Christmas."""
    if (day.month, day.day) >= (12, 23) or (day.month, day.day) <= (1, 2):
        return 0.78
    return 0.88 if is_school_holiday(day) else 1.0


# --- 1 air quality ---------------------------------------------------------------------------


def air_quality(config: DemoConfig) -> Iterator[Row]:
    """``luftqualitaet``: 10-min values per station on the Boele–Eckesey route."""
    rng = rng_for(config.seed, "luftqualitaet")
    weather = config.weather
    stations = sites.AIR_STATIONS
    noise = [[0.0, 0.0, 0.0] for _ in stations]
    episode, last_day = 0.0, -1
    for step in steps(config, 10):
        h = step.index // 6
        s = season(step.at)
        if h // 24 != last_day:
            last_day = h // 24
            episode = 0.75 * episode + rng.gauss(0.0, 5.0)
        cloud, rain = weather.cloud[h], weather.rain[h]
        temp = weather.temperature_at(step.at)
        night = 1.0 if step.hour >= 21.0 or step.hour < 6.0 else 0.3
        inversion = (1.0 - cloud) * night * (1.0 - 0.5 * s)
        traffic = traffic_level(step.hour, step.kind, True) * season_traffic(step.local_date)
        background = max(8.0, 17.0 - 4.0 * s + max(episode, -6.0))
        washout = 0.65 if rain > 0.3 else 1.0
        for k, station in enumerate(stations):
            exposure = station.params["exposure"]
            state = noise[k]
            state[0] = 0.9 * state[0] + rng.gauss(0.0, 2.6)
            state[1] = 0.85 * state[1] + rng.gauss(0.0, 2.0)
            state[2] = 0.85 * state[2] + rng.gauss(0.0, 1.3)
            co2 = 417.0 - 6.0 * s + 28.0 * inversion + exposure * 130.0 * traffic + state[0]
            no2 = 13.0 - 5.0 * s + 10.0 * inversion + state[1]
            no2 += exposure * 62.0 * traffic * (1.0 + 0.5 * inversion)
            pm10 = background * washout + exposure * 13.0 * traffic + state[2]
            yield (
                step.stamp,
                station.site_id,
                round(clamp(co2, 410.0, 600.0), 1),
                round(clamp(no2, 10.0, 120.0), 1),
                round(clamp(pm10, 5.0, 80.0), 1),
                round(clamp(temp + 0.4 * exposure + rng.gauss(0.0, 0.15), -15.0, 38.0), 1),
                round(clamp(weather.humidity[h] + rng.gauss(0.0, 1.0), 20.0, 100.0), 1),
            )


# --- 2 traffic counts, 3 traffic CO2 --------------------------------------------------------


def traffic_counts(config: DemoConfig) -> Iterator[Row]:
    """``verkehrszaehlung``: 15-min AI counts per counter and direction, by class, with speeds."""
    rng = rng_for(config.seed, "verkehrszaehlung")
    weather = config.weather
    counters = sites.TRAFFIC_COUNTERS
    daily = [1.0] * (len(counters) * 2)
    last_day = -1
    for step in steps(config, 15):
        h = step.index // 4
        if h // 24 != last_day:
            last_day = h // 24
            daily = [rng.gauss(1.0, 0.05) for _ in daily]
        s = season(step.at)
        rain = weather.rain[h] > 0.2
        seasonal = season_traffic(step.local_date)
        truck_share = (0.045, 0.015, 0.004)[step.kind]
        night = step.hour < 5.0 or step.hour >= 22.0
        for c, counter in enumerate(counters):
            capacity = counter.params["capacity"]
            bike_share = 0.03 * counter.params["bikes"] * (1.0 + 0.7 * s) * (0.35 if rain else 1.0)
            for d, direction in enumerate(DIRECTIONS):
                level = traffic_level(step.hour, step.kind, d == 0) * seasonal * daily[c * 2 + d]
                total = poisson(rng, capacity * level)
                trucks = poisson(rng, total * truck_share)
                buses = poisson(rng, total * 0.014 * (0.3 if night else 1.0))
                motorcycles = poisson(rng, total * 0.012 * (1.0 + 0.8 * s) * (0.3 if rain else 1))
                bicycles = poisson(rng, total * bike_share * (0.2 if night else 1.0))
                vans = poisson(rng, total * 0.085)
                cars = max(0, total - trucks - buses - motorcycles - bicycles - vans)
                total = min(MAX_VEHICLES_PER_15_MIN, cars + vans + trucks + buses + motorcycles)
                cars = total - vans - trucks - buses - motorcycles
                total += bicycles
                if total > MAX_VEHICLES_PER_15_MIN:
                    bicycles -= total - MAX_VEHICLES_PER_15_MIN
                    total = MAX_VEHICLES_PER_15_MIN
                motor = total - bicycles
                if motor:
                    load = min(1.2, motor / capacity)
                    free = 54.0 if night else 48.5
                    mean = clamp(free - 26.0 * load**2.5 + rng.gauss(0.0, 1.5), 8.0, 70.0)
                    v85: float | None = round(mean + 6.5 + abs(rng.gauss(0.0, 1.2)), 1)
                    speed: float | None = round(mean, 1)
                else:
                    speed = v85 = None
                yield (
                    step.stamp,
                    counter.site_id,
                    direction,
                    cars,
                    vans,
                    trucks,
                    buses,
                    motorcycles,
                    bicycles,
                    total,
                    speed,
                    v85,
                )


def _speed_factor(speed: float | None) -> float:
    """Emission factor multiplier for congested flow (stop and go burns more per km)."""
    if speed is None:
        return 1.0
    return 1.0 + 0.35 * max(0.0, (35.0 - speed) / 35.0)


def traffic_co2_grams_per_km(row: Row) -> float:
    """CO2 of one traffic-count row in g per km of road (the ``verkehr_co2`` method)."""
    counts = row[3:9]
    grams = sum(
        number(n) * EMISSION_FACTORS_G_PER_KM[cls]
        for n, cls in zip(counts, VEHICLE_CLASSES, strict=True)
    )
    speed = row[10]
    return grams * _speed_factor(None if speed is None else number(speed))


def traffic_co2(config: DemoConfig) -> Iterator[Row]:
    """``verkehr_co2``: hourly CO2 per road segment in t/h, computed from the traffic counts."""
    return traffic_co2_from(config, traffic_counts(config))


def traffic_co2_from(config: DemoConfig, counts: Iterable[Row]) -> Iterator[Row]:
    """``verkehr_co2`` from the rows of ``verkehrszaehlung`` (time-major, as generated)."""
    segment_of = {seg.params["counter"]: seg for seg in sites.ROAD_SEGMENTS}
    order = [seg.site_id for seg in sites.ROAD_SEGMENTS]
    hour_stamp: str | None = None
    totals: dict[str, list[float]] = {}

    def flush(stamp: str) -> Iterator[Row]:
        for seg_id in order:
            vehicles, grams = totals.get(seg_id, [0.0, 0.0])
            yield (stamp, seg_id, int(vehicles), round(grams / 1e6, 4), TRAFFIC_CO2_METHOD)

    for row in counts:
        stamp = str(row[0])
        if stamp[14:16] == "00" and stamp != hour_stamp:
            if hour_stamp is not None:
                yield from flush(hour_stamp)
            hour_stamp, totals = stamp, {}
        segment = segment_of[str(row[1])]
        acc = totals.setdefault(segment.site_id, [0.0, 0.0])
        acc[0] += number(row[9])
        acc[1] += traffic_co2_grams_per_km(row) * segment.params["length_km"]
    if hour_stamp is not None:
        yield from flush(hour_stamp)


# --- 5 water levels --------------------------------------------------------------------------


def water_levels(config: DemoConfig) -> Iterator[Row]:
    """``pegelstaende_messwerte``: 15-min water level per stream gauge in cm.

    Rain runs off through two linear reservoirs (fast) plus a slow groundwater store; the
    level is a seasonal base plus a power of the stored water. Not an official flood warning.
    """
    rng = rng_for(config.seed, "pegel")
    weather = config.weather
    gauges = sites.GAUGES
    state = [[0.0, 0.0, 6.0, 0.0] for _ in gauges]  # fast 1, fast 2, slow, noise
    for step in steps(config, 15):
        h = step.index // 4
        s = season(step.at)
        rain = weather.rain[h] / 4.0
        for g, gauge in enumerate(gauges):
            p = gauge.params
            st = state[g]
            tau = p["tau"] * 4.0  # in 15-min steps
            st[0] += rain * p["runoff"] * (1.0 - 0.35 * s)
            out1 = st[0] / (tau * 0.4)
            st[0] += -out1
            st[1] += out1 - st[1] / tau
            st[2] += rain * 0.12 - st[2] / 1600.0
            st[3] = 0.97 * st[3] + rng.gauss(0.0, 0.25)
            base = p["base"] * (1.0 - 0.22 * s) * (0.6 + 0.4 * min(st[2] / 6.0, 2.5))
            level = base + p["gain"] * st[1] ** 0.85 + st[3] * (0.3 + p["base"] / 50.0)
            yield (step.stamp, gauge.site_id, round(clamp(level, 5.0, 300.0), 1))


# --- 6 soil moisture -------------------------------------------------------------------------


def soil_moisture(config: DemoConfig) -> Iterator[Row]:
    """``bodenfeuchte``: hourly soil moisture (%vol) and soil temperature at street trees.

    Rain fills the tree pit, evapotranspiration (sun, warmth) dries it, water above field
    capacity drains; in dry summer spells the city waters the trees (working days, 10:00).
    """
    rng = rng_for(config.seed, "bodenfeuchte")
    weather = config.weather
    trees = sites.TREE_SENSORS
    moisture = [t.params["fc"] * 0.85 for t in trees]
    soil_temp = [weather.day_temperature[0]] * len(trees)
    for step in steps(config, 60):
        h = step.index
        rain, cloud, air = weather.rain[h], weather.cloud[h], weather.temperature[h]
        up = max(0.0, sun_at(step.at + dt.timedelta(minutes=30)).up)
        pet = 0.38 * up * (0.5 + max(0.0, air) / 20.0) * (1.0 - 0.5 * cloud)  # mm/h
        month = step.local_date.month
        watering_hour = step.kind == 0 and 5 <= month <= 9 and 10.0 <= step.hour < 11.0
        for k, tree in enumerate(trees):
            p = tree.params
            theta = moisture[k] + rain * p["capture"] * (1.0 - moisture[k] / 50.0)
            available = clamp((theta - 6.0) / (p["fc"] * 0.6 - 6.0), 0.0, 1.0)
            theta -= 0.33 * pet * available
            if theta > p["fc"]:
                theta -= (theta - p["fc"]) * 0.08
            if watering_hour and theta < 14.0 and rng.random() < 0.35:
                theta += rng.uniform(8.0, 14.0)
            moisture[k] = clamp(theta, 5.0, 45.0)
            soil_temp[k] += (air - soil_temp[k]) * 0.03
            yield (
                step.stamp,
                tree.site_id,
                round(clamp(moisture[k] + rng.gauss(0.0, 0.2), 5.0, 45.0), 1),
                round(soil_temp[k] + rng.gauss(0.0, 0.05), 1),
            )
