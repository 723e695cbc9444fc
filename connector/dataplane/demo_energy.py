"""Energy demo data for Hagen: PV yield, municipal buildings, industrial CO2, smart meters.

Pure generators in the manner of :mod:`connector.dataplane.demo_data` (same config, same row
conventions). Consistency between datasets is built in: daily PV is the sum of the 15-min PV
values, the monthly building electricity the sum of the 15-min load profile, and heating energy
follows the shared weather's daily mean temperature.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator

from connector.dataplane import demo_sites as sites
from connector.dataplane.demo_data import DemoConfig, Row, bump, clamp, number, steps
from connector.dataplane.demo_weather import (
    berlin_time,
    clear_sky_ghi,
    day_kind,
    is_school_holiday,
    rng_for,
    season,
    sun_at,
)

PV_PERFORMANCE_RATIO = 0.80
HEATING_LIMIT_C = 15.0


def pv_yield(config: DemoConfig) -> Iterator[Row]:
    """``pv_ertrag``: 15-min PV energy per municipal building in kWh."""
    rng = rng_for(config.seed, "pv")
    weather = config.weather
    plants = []
    for b in sites.PV_BUILDINGS:
        tilt, azimuth = math.radians(b.params["tilt"]), math.radians(b.params["azimuth"])
        normal = (
            math.sin(tilt) * math.sin(azimuth),
            math.sin(tilt) * math.cos(azimuth),
            math.cos(tilt),
        )
        sky = (1.0 + math.cos(tilt)) / 2.0
        plants.append(
            (b.site_id, b.params["kwp"] * b.params["pv_factor"], b.params["kwp"], normal, sky)
        )
    half = dt.timedelta(minutes=7, seconds=30)
    for step in steps(config, 15):
        sun = sun_at(step.at + half)
        if sun.up <= 0.0:
            for site_id, *_ in plants:
                yield (step.stamp, site_id, 0.0)
            continue
        h = step.index // 4
        cloud = weather.cloud[h]
        ghi = clear_sky_ghi(sun.up) * (1.0 - 0.85 * cloud**1.6)
        diffuse_share = min(1.0, 0.16 + 0.84 * cloud**2)
        dni = ghi * (1.0 - diffuse_share) / max(sun.up, 0.065)
        air = weather.temperature_at(step.at)
        for site_id, kwp_eff, kwp, (nx, ny, nz), sky in plants:
            incidence = max(0.0, sun.east * nx + sun.north * ny + sun.up * nz)
            poa = dni * incidence + ghi * diffuse_share * sky + ghi * 0.2 * (1.0 - sky)
            poa *= clamp(rng.gauss(1.0, 0.04), 0.8, 1.2)
            derate = 1.0 - 0.004 * (air + 0.03 * poa - 25.0)
            kwh = kwp_eff * poa / 1000.0 * PV_PERFORMANCE_RATIO * derate * 0.25
            yield (step.stamp, site_id, round(clamp(kwh, 0.0, kwp * 0.25 * 0.95), 3))


def pv_daily(config: DemoConfig) -> Iterator[Row]:
    """``pv_ertrag_tag``: daily PV energy (UTC day) per building, with kWh per kWp."""
    return pv_daily_from(config, pv_yield(config))


def pv_daily_from(config: DemoConfig, quarter_hours: Iterable[Row]) -> Iterator[Row]:
    """``pv_ertrag_tag`` from the rows of ``pv_ertrag`` (time-major, as generated)."""
    kwp = {b.site_id: float(b.params["kwp"]) for b in sites.PV_BUILDINGS}
    day: str | None = None
    sums: dict[str, float] = {}

    def flush(date: str) -> Iterator[Row]:
        for site_id, peak in kwp.items():
            total = sums.get(site_id, 0.0)
            yield (date, site_id, round(total, 2), peak, round(total / peak, 3))

    for stamp, site_id, kwh in quarter_hours:
        date = str(stamp)[:10]
        if date != day:
            if day is not None:
                yield from flush(day)
            day, sums = date, {}
        sums[str(site_id)] = sums.get(str(site_id), 0.0) + number(kwh)
    if day is not None:
        yield from flush(day)


# --- 7 energy of municipal buildings ---------------------------------------------------------


def _window(hour: float, begin: float, end: float) -> float:
    return 1.0 / (1.0 + math.exp(-(hour - begin) * 3.0)) / (1.0 + math.exp(-(end - hour) * 3.0))


def occupancy(kind: str, hour: float, day: int, local_date: dt.date) -> float:
    """How busy a building of ``kind`` is (0…1) at a local hour on a day of kind ``day``."""
    holiday = is_school_holiday(local_date)
    if kind == "wache":
        return 0.55 + 0.35 * _window(hour, 7.0, 19.0)
    if kind == "bad":
        if holiday and local_date.month == 7:  # annual maintenance closure
            return 0.1
        return _window(hour, 6.5, 22.0) if day < 2 else _window(hour, 8.0, 18.0)
    if day > 0:
        return 0.04 if kind == "verwaltung" and day == 1 else 0.0
    if kind == "schule":
        if holiday:
            return 0.12 * _window(hour, 8.0, 15.0)
        return _window(hour, 7.5, 15.5) + 0.25 * _window(hour, 15.5, 17.5)
    if kind == "kita":
        return (0.4 if holiday else 1.0) * _window(hour, 7.0, 17.0)
    return _window(hour, 7.0, 18.5)


def building_load(config: DemoConfig) -> Iterator[Row]:
    """``energie_gebaeude_lastgang``: 15-min electricity per municipal building in kWh."""
    rng = rng_for(config.seed, "lastgang")
    weather = config.weather
    buildings = sites.BUILDINGS
    noise = [0.0] * len(buildings)
    daily = [1.0] * len(buildings)
    last_day = -1
    for step in steps(config, 15):
        h = step.index // 4
        if h // 24 != last_day:
            last_day = h // 24
            daily = [rng.gauss(1.0, 0.06) for _ in buildings]
        dark = 1.0 - min(1.0, max(0.0, sun_at(step.at).up) * 4.0)
        air = weather.temperature[h]
        for k, b in enumerate(buildings):
            p = b.params
            occ = occupancy(p["kind"], step.hour, step.kind, step.local_date)
            span = p["peak"] - p["base"]
            power = p["base"] + span * occ * daily[k] * (0.9 + 0.1 * dark)
            if p["kind"] == "verwaltung":
                power += max(0.0, air - 24.0) * 0.03 * p["peak"] * occ
            noise[k] = 0.7 * noise[k] + rng.gauss(0.0, 0.02 * p["peak"])
            power = max(0.3 * p["base"], power + noise[k])
            yield (step.stamp, b.site_id, round(power * 0.25, 3))


def _heat_per_day(config: DemoConfig) -> dict[tuple[str, str], tuple[float, int]]:
    """Heating energy (kWh) and covered days per (month, building), from daily temperatures."""
    rng = rng_for(config.seed, "waerme")
    result: dict[tuple[str, str], tuple[float, int]] = {}
    for d, mean_temp in enumerate(config.weather.day_temperature):
        noon = config.start + dt.timedelta(days=d, hours=12)
        local = berlin_time(noon)
        weekend = day_kind(local) > 0
        month = noon.strftime("%Y-%m")
        for b in sites.BUILDINGS:
            p = b.params
            factor = 1.0
            if p["kind"] in ("verwaltung", "schule", "kita") and weekend:
                factor = 0.8
            if p["kind"] == "schule" and is_school_holiday(local.date()):
                factor = 0.75
            hot_water = {"bad": 2400.0, "wache": 120.0}.get(p["kind"], 0.04 * p["heat_ua"])
            heat = p["heat_ua"] * max(0.0, HEATING_LIMIT_C - mean_temp) * factor + hot_water
            heat *= clamp(rng.gauss(1.0, 0.05), 0.8, 1.2)
            total, days = result.get((month, b.site_id), (0.0, 0))
            result[(month, b.site_id)] = (total + heat, days + 1)
    return result


def building_monthly(config: DemoConfig) -> Iterator[Row]:
    """``energie_gebaeude_monat``: monthly electricity (sum of the load profile) and heat."""
    return building_monthly_from(config, building_load(config))


def building_monthly_from(config: DemoConfig, load: Iterable[Row]) -> Iterator[Row]:
    """``energie_gebaeude_monat`` from the rows of ``energie_gebaeude_lastgang``."""
    heat = _heat_per_day(config)
    names = {b.site_id: b.name for b in sites.BUILDINGS}
    month: str | None = None
    sums: dict[str, float] = {}

    def flush(key: str) -> Iterator[Row]:
        for site_id, name in names.items():
            heat_kwh, days = heat[(key, site_id)]
            electricity = round(sums.get(site_id, 0.0), 1)
            yield (key, site_id, name, electricity, round(heat_kwh, 1), days)

    for stamp, site_id, kwh in load:
        key = str(stamp)[:7]
        if key != month:
            if month is not None:
                yield from flush(month)
            month, sums = key, {}
        sums[str(site_id)] = sums.get(str(site_id), 0.0) + number(kwh)
    if month is not None:
        yield from flush(month)


# --- 8 industrial CO2 ------------------------------------------------------------------------


def _months(config: DemoConfig) -> list[tuple[str, int, dt.datetime]]:
    """(``YYYY-MM``, days of the period in it, mid-month instant) for each month touched."""
    counts: dict[str, int] = {}
    for d in range(config.days):
        key = (config.start + dt.timedelta(days=d)).strftime("%Y-%m")
        counts[key] = counts.get(key, 0) + 1
    return [
        (k, n, dt.datetime(int(k[:4]), int(k[5:]), 15, tzinfo=dt.UTC)) for k, n in counts.items()
    ]


def company_ids(seed: int) -> list[str]:
    """Pseudonymous company ids (``U-`` and six hex digits), one per industry sector entry."""
    rng = rng_for(seed, "industrie-ids")
    ids: list[str] = []
    while len(ids) < len(sites.INDUSTRY_SECTORS):
        candidate = f"U-{rng.getrandbits(24):06X}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def industry_co2(config: DemoConfig) -> Iterator[Row]:
    """``industrie_co2``: monthly CO2 emissions (t) per pseudonymous company."""
    rng = rng_for(config.seed, "industrie")
    companies = sorted(zip(company_ids(config.seed), sites.INDUSTRY_SECTORS, strict=True))
    production = {8: 0.86, 12: 0.9, 1: 0.96}
    for month, days, mid in _months(config):
        s = season(mid)
        for company_id, (nace, label, annual) in companies:
            heating_share = 0.55 if nace == "D35" else 0.08
            factor = production.get(mid.month, 1.0) * (1.0 - heating_share * s)
            factor *= clamp(rng.gauss(1.0, 0.04), 0.85, 1.15)
            co2 = annual / 365.0 * days * factor
            ets = annual >= 20_000.0
            method = "gemessen" if ets else "berechnet"
            yield (month, company_id, nace, label, round(co2, 1), method, ets, days)


# --- 9 district smart meters -----------------------------------------------------------------


def household_profile(hour: float, day: int) -> float:
    """Relative household demand (daily mean ≈ 1) in the manner of the BDEW H0 profile."""
    morning = 7.0 if day == 0 else 9.0
    return (
        0.42
        + 0.55 * bump(hour, morning, 1.1)
        + 0.45 * bump(hour, 12.5, 1.6) * (1.4 if day else 1.0)
        + 1.05 * bump(hour, 19.3, 2.0)
        - 0.2 * bump(hour, 3.5, 1.5)
    )


def smartmeters(seed: int) -> list[tuple[str, str, str, float, float]]:
    """The meters: (meter id, block id, type, annual kWh, heat-pump kWh per Kelvin-hour)."""
    rng = rng_for(seed, "smartmeter-ids")
    meters: list[tuple[str, str, str, float, float]] = []
    seen: set[str] = set()
    for block in sites.SMARTMETER_BLOCKS:
        for n in range(block.params["meters"]):
            meter_id = f"SM-{rng.getrandbits(32):08X}"
            while meter_id in seen:
                meter_id = f"SM-{rng.getrandbits(32):08X}"
            seen.add(meter_id)
            kind = "gewerbe" if n == 0 and block.params["meters"] >= 7 else "haushalt"
            annual = rng.uniform(6000, 15000) if kind == "gewerbe" else rng.uniform(1400, 4800)
            heat_pump = rng.uniform(0.05, 0.09) if n % 4 == 3 else 0.0
            meters.append((meter_id, block.site_id, kind, annual, heat_pump))
    return meters


def smartmeter_readings(config: DemoConfig) -> Iterator[Row]:
    """``smartmeter_quartier``: 15-min consumption per meter (kWh), with district and block."""
    rng = rng_for(config.seed, "smartmeter")
    weather = config.weather
    meters = smartmeters(config.seed)
    district = sites.SMARTMETER_DISTRICT
    gauss, random = rng.gauss, rng.random
    for step in steps(config, 15):
        h = step.index // 4
        heating = max(0.0, HEATING_LIMIT_C - weather.temperature[h]) / 4.0
        winter = 1.0 - 0.18 * season(step.at)
        home = household_profile(step.hour, step.kind) * winter
        shop = 0.25 + 1.5 * _window(step.hour, 7.0, 19.0 if step.kind == 0 else 14.0)
        if step.kind == 2:
            shop = 0.25
        for meter_id, block_id, kind, annual, heat_pump in meters:
            base = annual / 35040.0 * (shop if kind == "gewerbe" else home)
            kwh = base * math.exp(gauss(0.0, 0.3) - 0.045)
            if random() < 0.025 * home:
                kwh += 0.15 + 0.4 * random()  # washing machine, oven, kettle …
            kwh += heat_pump * heating
            yield (step.stamp, meter_id, district, block_id, round(kwh, 3))
