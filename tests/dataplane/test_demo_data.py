"""The Hagen demo data: deterministic, in range, at the stated rates, plausible, stored once."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from connector.cli_demo import demo
from connector.clock import SystemClock
from connector.dataplane import demo_catalog as catalog
from connector.dataplane import demo_sites as sites
from connector.dataplane.demo_catalog import DATASETS, Table
from connector.dataplane.demo_data import (
    EMISSION_FACTORS_G_PER_KM,
    NO_FLOOD_WARNING,
    DemoConfig,
    Row,
    number,
    traffic_co2_grams_per_km,
)
from connector.dataplane.demo_energy import pv_daily, pv_yield
from connector.dataplane.demo_store import (
    DATABASE_NAME,
    MANIFEST_NAME,
    current_manifest,
    write_demo_data,
)
from connector.dataplane.demo_weather import berlin_time, public_holidays, sun_at
from connector.errors import Invalid

ALL_TABLES = [t for d in DATASETS for t in d.tables]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "demo-data.md"
SOUTH, WEST, NORTH, EAST = sites.HAGEN_BBOX


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def table_rows(name: str, config: DemoConfig) -> list[Row]:
    return list(catalog.rows(name, config))


def check_rows(tab: Table, rows: list[Row]) -> None:
    """Every value has its column's type and lies in the column's stated range."""
    for row in rows:
        assert len(row) == len(tab.columns), (tab.name, row)
        for col, value in zip(tab.columns, row, strict=True):
            if value is None:
                assert col.nullable, (tab.name, col.name, row)
                continue
            if col.sql_type == "TEXT":
                assert isinstance(value, str) and value, (tab.name, col.name, row)
            elif col.sql_type == "INTEGER":
                assert isinstance(value, int), (tab.name, col.name, row)
            else:
                assert isinstance(value, float), (tab.name, col.name, row)
            if col.minimum is not None and col.maximum is not None:
                assert col.minimum <= number(value) <= col.maximum, (tab.name, col.name, row)


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [t.name for t in ALL_TABLES])
def test_same_seed_same_rows_other_seed_other_rows(name: str) -> None:
    config = DemoConfig(seed=7, days=2, start=utc("2025-05-30"))
    first = table_rows(name, config)
    assert first == table_rows(name, DemoConfig(seed=7, days=2, start=utc("2025-05-30")))
    assert first != table_rows(name, DemoConfig(seed=8, days=2, start=utc("2025-05-30")))


def test_datasets_have_independent_random_streams() -> None:
    """Rows of one dataset do not depend on whether another dataset was generated first."""
    config = DemoConfig(seed=3, days=1)
    alone = table_rows("bodenfeuchte", config)
    table_rows("luftqualitaet", config)
    assert table_rows("bodenfeuchte", config) == alone


# --- ranges, rates, places -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days"), [("2025-01-30", 3), ("2024-02-28", 2), ("2025-07-21", 7)]
)
def test_row_counts_follow_the_sampling_rates(start: str, days: int) -> None:
    config = DemoConfig(seed=11, days=days, start=utc(start))
    for tab in ALL_TABLES:
        rows = table_rows(tab.name, config)
        assert len(rows) == tab.expected_rows(config), tab.name
        check_rows(tab, rows)
        keys = [tuple(r[tab.column_names.index(k)] for k in tab.key) for r in rows]
        assert len(set(keys)) == len(keys), f"duplicate key in {tab.name}"
    stamps = sorted({str(r[0]) for r in table_rows("luftqualitaet", config)})
    assert stamps[0] == f"{start}T00:00:00Z"
    assert stamps[1] == f"{start}T00:10:00Z"
    assert len(table_rows("verkehrszaehlung", DemoConfig(days=1))) == 96 * 4 * 2


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    day=st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 12, 30)),
)
def test_any_seed_and_season_stays_in_range(seed: int, day: dt.date) -> None:
    config = DemoConfig(
        seed=seed, days=2, start=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    )
    for tab in ALL_TABLES:
        check_rows(tab, table_rows(tab.name, config))


def test_every_place_lies_in_hagen() -> None:
    for site in sites.all_sites():
        points = [(site.lon, site.lat), *site.line]
        for lon, lat in points:
            assert SOUTH <= lat <= NORTH and WEST <= lon <= EAST, site
    for item in DATASETS:
        for feature in catalog.sites_geojson(item)["features"]:
            geometry = feature["geometry"]
            coords = geometry["coordinates"]
            for lon, lat in [coords] if geometry["type"] == "Point" else coords:
                assert SOUTH <= lat <= NORTH and WEST <= lon <= EAST, feature


def test_identifiers_are_unique_and_pseudonymous() -> None:
    config = DemoConfig(days=40)
    companies = {r[1] for r in table_rows("industrie_co2", config)}
    assert len(companies) == len(sites.INDUSTRY_SECTORS)
    assert all(re.fullmatch(r"U-[0-9A-F]{6}", str(c)) for c in companies)
    meters: dict[str, set[Row]] = defaultdict(set)
    for row in table_rows("smartmeter_quartier", DemoConfig(days=1)):
        meters[str(row[1])].add(row[2:4])
    assert len(meters) == sum(b.params["meters"] for b in sites.SMARTMETER_BLOCKS)
    assert all(re.fullmatch(r"SM-[0-9A-F]{8}", m) for m in meters)
    assert all(len(places) == 1 for places in meters.values()), "a meter stays in its block"
    ids = [s.site_id for s in sites.all_sites() if s not in sites.PV_BUILDINGS]
    assert len(ids) == len(set(ids))


def test_config_is_validated() -> None:
    with pytest.raises(Invalid) as exc:
        DemoConfig(days=0)
    assert exc.value.reason == "demo_days"
    with pytest.raises(Invalid):
        DemoConfig(start=dt.datetime(2025, 1, 1, 6, tzinfo=dt.UTC))
    with pytest.raises(Invalid):
        DemoConfig(start=dt.datetime(2025, 1, 1))  # naive


# --- patterns --------------------------------------------------------------------------------


def test_local_time_and_holidays() -> None:
    assert berlin_time(utc("2025-03-30T00:59:00")).hour == 1
    assert berlin_time(utc("2025-03-30T01:00:00")).hour == 3
    assert berlin_time(utc("2025-10-26T00:59:00")).hour == 2
    assert berlin_time(utc("2025-10-26T01:00:00")).hour == 2
    assert dt.date(2025, 4, 18) in public_holidays(2025)  # Good Friday
    assert dt.date(2025, 6, 19) in public_holidays(2025)  # Corpus Christi (NRW)
    assert 0.87 < sun_at(utc("2025-06-21T11:32:00")).up < 0.89  # 62° elevation at solar noon
    assert sun_at(utc("2025-12-21T00:00:00")).up < 0


def test_pv_is_zero_at_night_and_higher_in_june_than_december() -> None:
    june = DemoConfig(days=14, start=utc("2025-06-08"))
    december = DemoConfig(days=14, start=utc("2025-12-08"))
    rows = list(pv_yield(june))
    for stamp, _, kwh in rows:
        if sun_at(utc(str(stamp)[:-1]) + dt.timedelta(minutes=7.5)).up <= 0:
            assert kwh == 0.0
    night = [kwh for stamp, _, kwh in rows if str(stamp)[11:13] in {"22", "23", "00", "01"}]
    assert night and set(night) == {0.0}
    assert sum(number(r[2]) for r in rows) > 3 * sum(number(r[2]) for r in pv_yield(december))


@pytest.mark.parametrize("seed", [5914, 1, 2])
def test_annual_pv_yield_per_kwp_is_realistic(seed: int) -> None:
    totals: dict[str, float] = defaultdict(float)
    for _, building, _, _, per_kwp in pv_daily(DemoConfig(seed=seed)):
        totals[str(building)] += number(per_kwp)
    assert set(totals) == {b.site_id for b in sites.PV_BUILDINGS}
    for building, per_kwp in totals.items():
        assert 800.0 <= per_kwp <= 1000.0, (seed, building, per_kwp)


def test_traffic_peaks_in_the_rush_hour_and_is_lower_on_sundays() -> None:
    # 2025-03-10 is a Monday; CET = UTC+1
    rows = table_rows("verkehrszaehlung", DemoConfig(days=7, start=utc("2025-03-10")))
    by_time: dict[str, int] = defaultdict(int)
    for row in rows:
        by_time[str(row[0])] += int(number(row[9]))
    for day in ("10", "11", "12", "13", "14"):
        rush = by_time[f"2025-03-{day}T07:00:00Z"] + by_time[f"2025-03-{day}T07:15:00Z"]
        night = by_time[f"2025-03-{day}T02:00:00Z"] + by_time[f"2025-03-{day}T02:15:00Z"]
        assert rush > 5 * night
    weekday = sum(v for k, v in by_time.items() if k.startswith("2025-03-12"))
    sunday = sum(v for k, v in by_time.items() if k.startswith("2025-03-16"))
    assert sunday < 0.75 * weekday


def test_weather_driven_patterns() -> None:
    config = DemoConfig(days=365)
    monthly = table_rows("energie_gebaeude_monat", config)
    heat = {(r[0], r[1]): number(r[4]) for r in monthly}
    assert heat[("2025-01", "LG-001")] > 3 * heat[("2025-07", "LG-001")]
    soil: dict[str, list[float]] = defaultdict(list)
    for row in table_rows("bodenfeuchte", config):
        soil[str(row[0])[5:7]].append(number(row[2]))
    assert sum(soil["02"]) / len(soil["02"]) > sum(soil["07"]) / len(soil["07"]) + 5


def test_water_levels_rise_after_heavy_rain() -> None:
    config = DemoConfig(days=120, start=utc("2025-05-01"))
    weather = config.weather
    wettest = max(range(len(weather.rain)), key=weather.rain.__getitem__)
    assert weather.rain[wettest] > 5
    levels = [r for r in table_rows("pegelstaende_messwerte", config) if r[1] == "PG-VOL-01"]
    before = number(levels[max(0, wettest * 4 - 4)][2])
    after = max(number(r[2]) for r in levels[wettest * 4 : wettest * 4 + 48])
    assert after > before + 5


# --- consistency between datasets ------------------------------------------------------------


def test_derived_tables_agree_with_their_sources() -> None:
    config = DemoConfig(days=3, start=utc("2025-04-29"))
    counts = table_rows("verkehrszaehlung", config)
    expected: dict[tuple[str, str], float] = defaultdict(float)
    length = {s.params["counter"]: (s.site_id, s.params["length_km"]) for s in sites.ROAD_SEGMENTS}
    for row in counts:
        segment, km = length[str(row[1])]
        factors = EMISSION_FACTORS_G_PER_KM.values()
        grams = sum(number(n) * ef for n, ef in zip(row[3:9], factors, strict=True))
        assert grams <= traffic_co2_grams_per_km(row) <= grams * 1.35
        expected[(str(row[0])[:13], segment)] += traffic_co2_grams_per_km(row) * km / 1e6
    co2 = table_rows("verkehr_co2", config)
    assert len(co2) == len(expected)
    for hour, segment_id, _, tonnes, method in co2:
        assert tonnes == pytest.approx(expected[(str(hour)[:13], str(segment_id))], abs=1e-4)
        assert method == "hagen-verkehr-co2/1.0"
    pv = table_rows("pv_ertrag", config)
    for date, building, kwh, kwp, per_kwp in table_rows("pv_ertrag_tag", config):
        day = sum(number(r[2]) for r in pv if r[1] == building and str(r[0]).startswith(str(date)))
        assert kwh == pytest.approx(day, abs=0.01)
        assert per_kwp == pytest.approx(day / number(kwp), abs=0.001)
    load = table_rows("energie_gebaeude_lastgang", config)
    for month, building, _, electricity, _, days in table_rows("energie_gebaeude_monat", config):
        in_month = [r for r in load if r[1] == building and str(r[0]).startswith(str(month))]
        assert electricity == pytest.approx(sum(number(r[2]) for r in in_month), abs=0.1)
        assert number(days) * 96 == len(in_month)


# --- store and command -----------------------------------------------------------------------


def test_store_writes_everything_once(tmp_path: Path) -> None:
    config = DemoConfig(days=2, start=utc("2025-08-31"))
    first = write_demo_data(tmp_path, config, batch_size=500)
    assert first.regenerated
    assert not list(tmp_path.glob(".staging*"))
    db = tmp_path / DATABASE_NAME
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for tab in ALL_TABLES:
            stored = conn.execute(f"SELECT * FROM {tab.name}").fetchall()
            generated = [
                tuple(int(v) if isinstance(v, bool) else v for v in row)
                for row in table_rows(tab.name, config)
            ]
            assert sorted(stored, key=repr) == sorted(generated, key=repr), tab.name
            assert first.tables[tab.name] == tab.expected_rows(config)
        hints = {h for (h,) in conn.execute("SELECT DISTINCT hinweis FROM pegelstaende")}
        assert hints == {NO_FLOOD_WARNING}
        places = conn.execute(
            "SELECT count(*), min(lat), max(lat), min(lon), max(lon) FROM standorte"
        ).fetchone()
        assert places[0] == sum(len(d.sites) for d in DATASETS)
        assert SOUTH <= places[1] <= places[2] <= NORTH and WEST <= places[3] <= places[4] <= EAST
    conn.close()
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["synthetic"] is True and manifest["days"] == 2
    assert [d["slug"] for d in manifest["datasets"]] == [d.slug for d in DATASETS]
    for item in DATASETS:
        for name in item.files:
            assert (tmp_path / name).is_file(), name
    monthly = (tmp_path / "energie-gebaeude-monat.csv").read_text("utf-8").splitlines()
    assert monthly[0] == "month,building_id,building_name,electricity_kwh,heat_kwh,days_covered"
    assert len(monthly) == 1 + 2 * len(sites.BUILDINGS)  # August and September
    industry = [
        json.loads(line)
        for line in (tmp_path / "industrie-co2.jsonl").read_text("utf-8").splitlines()
    ]
    assert {type(r["eu_ets"]) for r in industry} == {bool} and len(industry) == 2 * 10
    pegel = json.loads((tmp_path / "pegelstaende-baeche-standorte.geojson").read_text("utf-8"))
    assert {f["properties"]["hinweis"] for f in pegel["features"]} == {NO_FLOOD_WARNING}

    mtime = db.stat().st_mtime_ns
    again = write_demo_data(tmp_path, config)
    assert not again.regenerated and again.manifest == manifest
    assert db.stat().st_mtime_ns == mtime

    (tmp_path / "industrie-co2.jsonl").write_text("tampered\n", encoding="utf-8")
    assert current_manifest(tmp_path, config) is None
    assert write_demo_data(tmp_path, config).regenerated
    assert write_demo_data(
        tmp_path, DemoConfig(days=2, seed=1, start=utc("2025-08-31"))
    ).regenerated
    assert current_manifest(tmp_path, config) is None
    assert write_demo_data(tmp_path, config, force=False).regenerated
    assert write_demo_data(tmp_path, config, force=True).regenerated
    db.write_bytes(b"not a database")
    assert current_manifest(tmp_path, config) is None
    assert write_demo_data(tmp_path, config).regenerated
    assert current_manifest(tmp_path, config) is not None


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(demo)
    return app


def test_command_uses_the_data_dir_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(_cli(), ["--days", "1", "--seed", "42"])
    assert result.exit_code == 0, result.output
    assert (
        "demo data written" in result.output and "smartmeter_quartier 2,304 rows" in result.output
    )
    assert (tmp_path / "demo" / DATABASE_NAME).is_file()
    result = CliRunner().invoke(_cli(), ["--days", "1", "--seed", "42"])
    assert result.exit_code == 0 and "unchanged" in result.output
    bad = CliRunner().invoke(
        _cli(), ["--days", "1", "--start", "2025-02-30", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()


def test_full_year_demo_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default command (a full year) writes every table; the duration is printed, not judged."""
    clock = SystemClock()
    began = clock.monotonic()
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path)])
    seconds = clock.monotonic() - began
    assert result.exit_code == 0, result.output
    config = DemoConfig()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as conn:
        for tab in ALL_TABLES:
            (count,) = conn.execute(f"SELECT count(*) FROM {tab.name}").fetchone()
            assert count == tab.expected_rows(config), tab.name
            for col in tab.columns:
                if col.minimum is None or col.maximum is None:
                    continue
                low, high, nulls = conn.execute(
                    f"SELECT min({col.name}), max({col.name}), count(*) - count({col.name}) FROM {tab.name}"
                ).fetchone()
                assert col.minimum <= low <= high <= col.maximum, (tab.name, col.name, low, high)
                assert col.nullable or nulls == 0
        (first, last) = conn.execute(
            "SELECT min(timestamp), max(timestamp) FROM luftqualitaet"
        ).fetchone()
        assert (first, last) == ("2025-01-01T00:00:00Z", "2025-12-31T23:50:00Z")
    conn.close()
    size = (tmp_path / DATABASE_NAME).stat().st_size
    with capsys.disabled():
        print(f"\nfull-year demo run: {seconds:.1f} s, database {size / 2**20:.0f} MiB")


def test_docs_describe_every_dataset_table_and_column() -> None:
    text = DOCS.read_text("utf-8")
    for item in DATASETS:
        assert item.slug in text, item.slug
        for tab in item.tables:
            assert f"`{tab.name}`" in text, tab.name
            for col in tab.columns:
                assert f"`{col.name}`" in text, (tab.name, col.name)
    assert "keine amtliche Hochwasserwarnung" in text
    assert "synthetisch" in text.lower() and "synthetic" in text.lower()


def test_slugs_and_places_match_the_city_self_descriptions() -> None:
    """The demo data serves exactly the datasets the city describes in its self-descriptions."""
    config = Path(__file__).resolve().parents[2] / "self-descriptions" / "hagen.toml"
    if not config.is_file():
        pytest.skip(f"no self-description config at {config}")
    described = {d["slug"]: d for d in tomllib.loads(config.read_text("utf-8"))["datasets"]}
    assert set(described) == {d.slug for d in DATASETS}
    for item in DATASETS:
        bbox = described[item.slug].get("bbox")
        if bbox:
            west, south, east, north = bbox
            for site in item.sites:
                assert south <= site.lat <= north and west <= site.lon <= east, site
