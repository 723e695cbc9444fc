"""The nine Hagen demo datasets: their tables, columns, units, ranges, rates, licences and files.

A declarative catalogue over the generators of :mod:`connector.dataplane.demo_data` and
:mod:`connector.dataplane.demo_energy`; :mod:`connector.dataplane.demo_store` writes what it
declares, the tests check the generated rows against it, ``docs/demo-data.md`` documents it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from connector.dataplane import demo_data as env
from connector.dataplane import demo_energy as energy
from connector.dataplane import demo_sites as sites
from connector.dataplane.demo_data import DemoConfig, Row

# Bump whenever a generator changes its output: stored demo data of another version is rebuilt.
DEMO_DATA_VERSION = "1"

DL_DE_BY_2_0 = "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
CC_BY_4_0 = "http://dcat-ap.de/def/licenses/cc-by/4.0"
CLOSED = "http://dcat-ap.de/def/licenses/other-closed"

Access = Literal["open", "partner", "consortium", "aggregates-only"]
SqlType = Literal["TEXT", "INTEGER", "REAL"]
Generate = Callable[[DemoConfig], Iterator[Row]]
Derive = Callable[[DemoConfig, Iterable[Row]], Iterator[Row]]

# Site parameters that are public metadata (the others only drive the generators).
_PUBLIC_PARAMS = ("kind", "kwp", "tilt", "azimuth", "species", "counter", "length_km", "meters")
_STEPS_PER_DAY = {"PT10M": 144, "PT15M": 96, "PT1H": 24, "P1D": 1}


@dataclass(frozen=True)
class Column:
    """One column: SQL type, unit and the closed range every value lies in (if numeric)."""

    name: str
    sql_type: SqlType
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One SQLite table; rows come from ``generate``, or ``derive`` over the ``source`` table."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    interval: str  # ISO 8601 duration of the sampling: PT10M, PT15M, PT1H, P1D, P1M
    series: int  # rows per interval (stations × directions …)
    generate: Generate | None = None
    derive: Derive | None = None
    source: str | None = None
    file: str | None = None  # also written as this file (.csv or .jsonl)
    access: Access | None = None  # when it differs from the dataset's access

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names in row order."""
        return tuple(c.name for c in self.columns)

    def expected_rows(self, config: DemoConfig) -> int:
        """How many rows this table has for ``config``."""
        if self.interval == "P1M":
            first = config.start.date().toordinal()
            days = (dt.date.fromordinal(first + d) for d in range(config.days))
            return len({(day.year, day.month) for day in days}) * self.series
        return config.days * _STEPS_PER_DAY[self.interval] * self.series


@dataclass(frozen=True)
class DemoDataset:
    """One of the nine demo datasets."""

    slug: str
    title_de: str
    title_en: str
    licence: str
    access: Access
    tables: tuple[Table, ...]
    sites: tuple[sites.Site, ...] = ()
    notice: str | None = None

    @property
    def sites_file(self) -> str | None:
        """Name of the GeoJSON file with the dataset's measuring points, if it has any."""
        return f"{self.slug}-standorte.geojson" if self.sites else None

    @property
    def files(self) -> tuple[str, ...]:
        """Every file (besides the database) that carries this dataset."""
        names = [self.sites_file] if self.sites_file else []
        return (*names, *(str(t.file) for t in self.tables if t.file))


def _ts() -> Column:
    return Column("timestamp", "TEXT", "ISO 8601 UTC")


def _c(name: str, unit: str, low: float, high: float, *, nullable: bool = False) -> Column:
    sql: SqlType = "INTEGER" if unit in {"Fahrzeuge", "Tage"} else "REAL"
    return Column(name, sql, unit, low, high, nullable)


def _id(name: str) -> Column:
    return Column(name, "TEXT")


_N_AIR = len(sites.AIR_STATIONS)
_N_COUNT = len(sites.TRAFFIC_COUNTERS) * len(env.DIRECTIONS)
_N_PV = len(sites.PV_BUILDINGS)
_N_METERS = sum(b.params["meters"] for b in sites.SMARTMETER_BLOCKS)
_VEH = "Fahrzeuge"

DATASETS: tuple[DemoDataset, ...] = (
    DemoDataset(
        "luftqualitaet-boele-eckesey",
        "Luftqualität Pilotstrecke Boele–Eckesey",
        "Air quality on the Boele–Eckesey pilot route",
        DL_DE_BY_2_0,
        "open",
        (
            Table(
                "luftqualitaet",
                (
                    _ts(),
                    _id("station_id"),
                    _c("co2_ppm", "ppm", 410, 600),
                    _c("no2_ug_m3", "µg/m³", 10, 120),
                    _c("pm10_ug_m3", "µg/m³", 5, 80),
                    _c("temperature_c", "°C", -15, 38),
                    _c("humidity_pct", "%", 20, 100),
                ),
                ("timestamp", "station_id"),
                "PT10M",
                _N_AIR,
                generate=env.air_quality,
            ),
        ),
        sites.AIR_STATIONS,
    ),
    DemoDataset(
        "verkehrszaehlung-ki",
        "KI-gestützte Verkehrszählung",
        "AI-based traffic counts",
        DL_DE_BY_2_0,
        "open",
        (
            Table(
                "verkehrszaehlung",
                (
                    _ts(),
                    _id("counter_id"),
                    _id("direction"),
                    *(_c(cls, _VEH, 0, env.MAX_VEHICLES_PER_15_MIN) for cls in env.VEHICLE_CLASSES),
                    _c("total", _VEH, 0, env.MAX_VEHICLES_PER_15_MIN),
                    _c("speed_mean_kmh", "km/h", 0, 90, nullable=True),
                    _c("speed_v85_kmh", "km/h", 0, 100, nullable=True),
                ),
                ("timestamp", "counter_id", "direction"),
                "PT15M",
                _N_COUNT,
                generate=env.traffic_counts,
            ),
        ),
        sites.TRAFFIC_COUNTERS,
    ),
    DemoDataset(
        "verkehr-co2-strassenabschnitte",
        "Verkehrsbedingte CO2-Emissionen je Straßenabschnitt",
        "Traffic CO2 emissions per road segment",
        CC_BY_4_0,
        "open",
        (
            Table(
                "verkehr_co2",
                (
                    _ts(),
                    _id("segment_id"),
                    _c("vehicles", _VEH, 0, 4 * 2 * env.MAX_VEHICLES_PER_15_MIN),
                    _c("co2_t_per_h", "t/h", 0, 10),
                    _id("method_version"),
                ),
                ("timestamp", "segment_id"),
                "PT1H",
                len(sites.ROAD_SEGMENTS),
                derive=env.traffic_co2_from,
                source="verkehrszaehlung",
            ),
        ),
        sites.ROAD_SEGMENTS,
    ),
    DemoDataset(
        "pv-ertrag-staedtische-gebaeude",
        "PV-Ertrag kommunaler Gebäude",
        "PV yield of municipal buildings",
        DL_DE_BY_2_0,
        "open",
        (
            Table(
                "pv_ertrag",
                (_ts(), _id("building_id"), _c("energy_kwh", "kWh", 0, 40)),
                ("timestamp", "building_id"),
                "PT15M",
                _N_PV,
                generate=energy.pv_yield,
            ),
            Table(
                "pv_ertrag_tag",
                (
                    Column("date", "TEXT", "ISO 8601 Datum (UTC)"),
                    _id("building_id"),
                    _c("energy_kwh", "kWh", 0, 1200),
                    _c("kwp", "kWp", 1, 1000),
                    _c("specific_yield_kwh_per_kwp", "kWh/kWp", 0, 8),
                ),
                ("date", "building_id"),
                "P1D",
                _N_PV,
                derive=energy.pv_daily_from,
                source="pv_ertrag",
            ),
        ),
        sites.PV_BUILDINGS,
    ),
    DemoDataset(
        "pegelstaende-baeche",
        "Pegelstände Hagener Bäche und Flüsse",
        "Stream water levels in Hagen",
        DL_DE_BY_2_0,
        "open",
        (
            Table(
                "pegelstaende_messwerte",
                (_ts(), _id("gauge_id"), _c("water_level_cm", "cm", 5, 300)),
                ("timestamp", "gauge_id"),
                "PT15M",
                len(sites.GAUGES),
                generate=env.water_levels,
            ),
        ),
        sites.GAUGES,
        notice=env.NO_FLOOD_WARNING,
    ),
    DemoDataset(
        "bodenfeuchte-strassenbaeume",
        "Bodenfeuchte an Stadtbäumen",
        "Soil moisture at street trees",
        DL_DE_BY_2_0,
        "open",
        (
            Table(
                "bodenfeuchte",
                (
                    _ts(),
                    _id("sensor_id"),
                    _c("soil_moisture_pct_vol", "%vol", 5, 45),
                    _c("soil_temperature_c", "°C", -10, 30),
                ),
                ("timestamp", "sensor_id"),
                "PT1H",
                len(sites.TREE_SENSORS),
                generate=env.soil_moisture,
            ),
        ),
        sites.TREE_SENSORS,
    ),
    DemoDataset(
        "energie-staedtische-gebaeude",
        "Energieverbrauch kommunaler Gebäude",
        "Energy consumption of municipal buildings",
        DL_DE_BY_2_0,
        "partner",
        (
            Table(
                "energie_gebaeude_lastgang",
                (_ts(), _id("building_id"), _c("energy_kwh", "kWh", 0, 100)),
                ("timestamp", "building_id"),
                "PT15M",
                len(sites.BUILDINGS),
                generate=energy.building_load,
                access="partner",
            ),
            Table(
                "energie_gebaeude_monat",
                (
                    Column("month", "TEXT", "YYYY-MM (UTC)"),
                    _id("building_id"),
                    _id("building_name"),
                    _c("electricity_kwh", "kWh", 0, 200_000),
                    _c("heat_kwh", "kWh", 0, 1_000_000),
                    _c("days_covered", "Tage", 1, 31),
                ),
                ("month", "building_id"),
                "P1M",
                len(sites.BUILDINGS),
                derive=energy.building_monthly_from,
                source="energie_gebaeude_lastgang",
                file="energie-gebaeude-monat.csv",
                access="open",
            ),
        ),
        sites.BUILDINGS,
    ),
    DemoDataset(
        "industrie-co2",
        "CO2-Emissionen der Industrie (pseudonymisiert)",
        "Industrial CO2 emissions (pseudonymised)",
        CLOSED,
        "consortium",
        (
            Table(
                "industrie_co2",
                (
                    Column("month", "TEXT", "YYYY-MM (UTC)"),
                    _id("company_id"),
                    _id("nace_division"),
                    _id("sector"),
                    _c("co2_t", "t", 0, 20_000),
                    _id("method"),
                    Column("eu_ets", "INTEGER", "0/1"),
                    _c("days_covered", "Tage", 1, 31),
                ),
                ("month", "company_id"),
                "P1M",
                len(sites.INDUSTRY_SECTORS),
                generate=energy.industry_co2,
                file="industrie-co2.jsonl",
            ),
        ),
    ),
    DemoDataset(
        "smart-meter-quartier",
        "Smart-Meter-Daten Quartier Wehringhausen",
        "District smart-meter data, Wehringhausen",
        CLOSED,
        "aggregates-only",
        (
            Table(
                "smartmeter_quartier",
                (
                    _ts(),
                    _id("meter_id"),
                    _id("district"),
                    _id("block_id"),
                    _c("energy_kwh", "kWh", 0, 10),
                ),
                ("timestamp", "meter_id"),
                "PT15M",
                _N_METERS,
                generate=energy.smartmeter_readings,
            ),
        ),
        sites.SMARTMETER_BLOCKS,
    ),
)


def dataset(slug: str) -> DemoDataset:
    """The demo dataset with this slug (KeyError if there is none)."""
    for item in DATASETS:
        if item.slug == slug:
            return item
    raise KeyError(slug)


def table(name: str) -> Table:
    """The demo table with this name (KeyError if there is none)."""
    for item in DATASETS:
        for tab in item.tables:
            if tab.name == name:
                return tab
    raise KeyError(name)


def rows(name: str, config: DemoConfig) -> Iterator[Row]:
    """The rows of one table, generated or derived from its source table."""
    tab = table(name)
    if tab.generate is not None:
        return tab.generate(config)
    assert tab.derive is not None and tab.source is not None
    return tab.derive(config, rows(tab.source, config))


def sites_geojson(item: DemoDataset) -> dict[str, Any]:
    """The dataset's measuring points (or road segments, blocks) as a GeoJSON FeatureCollection."""
    features = []
    for site in item.sites:
        geometry: dict[str, Any]
        if site.line:
            geometry = {"type": "LineString", "coordinates": [list(p) for p in site.line]}
        else:
            geometry = {"type": "Point", "coordinates": [site.lon, site.lat]}
        properties: dict[str, Any] = {"id": site.site_id, "name": site.name}
        properties.update({k: site.params[k] for k in _PUBLIC_PARAMS if k in site.params})
        if item.notice:
            properties["hinweis"] = item.notice
        properties["synthetisch"] = True
        features.append(
            {"type": "Feature", "id": site.site_id, "geometry": geometry, "properties": properties}
        )
    return {"type": "FeatureCollection", "name": item.slug, "features": features}
