"""Shaping against expectations computed another way (SQL GROUP BY, ray casting)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.dataplane.transforms import Aggregation, Geofence, project
from connector.errors import Invalid

HAGEN = [
    (7.3650, 51.3390), (7.4150, 51.2900), (7.5000, 51.2700), (7.5900, 51.3000),
    (7.6050, 51.3600), (7.5650, 51.4150), (7.4800, 51.4350), (7.4000, 51.4150),
]  # fmt: skip


def rows(db: Path, sql: str) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def test_hourly_means_per_station_match_sql_group_by(demo_dir: Path) -> None:
    db = demo_dir / "hagen.db"
    raw = rows(db, "SELECT * FROM luftqualitaet ORDER BY timestamp, station_id")
    agg = Aggregation(3600, ("station_id",), ("no2_ug_m3", "co2_ppm"), k=5)
    got = {(r["timestamp"], r["station_id"]): r for r in agg.apply(iter(raw))}
    expected = rows(
        db,
        "SELECT substr(timestamp, 1, 13) || ':00:00Z' AS hour, station_id, count(*) AS n,"
        " avg(no2_ug_m3) AS no2, avg(co2_ppm) AS co2 FROM luftqualitaet"
        " GROUP BY hour, station_id",
    )
    assert len(got) == len(expected) == 2 * 24 * 5
    for e in expected:
        cell = got[(e["hour"], e["station_id"])]
        assert cell["n"] == e["n"] == 6
        assert cell["no2_ug_m3"] == pytest.approx(e["no2"], abs=1e-6)
        assert cell["co2_ppm"] == pytest.approx(e["co2"], abs=1e-6)
        assert 10 <= cell["no2_ug_m3"] <= 120


def test_smart_meter_cells_need_five_distinct_meters(demo_dir: Path) -> None:
    db = demo_dir / "hagen.db"
    raw = rows(db, "SELECT * FROM smartmeter_quartier ORDER BY timestamp")
    agg = Aggregation(3600, ("block_id",), ("energy_kwh",), k=5, subject="meter_id")
    got = {(r["timestamp"], r["block_id"]): r for r in agg.apply(iter(raw))}
    expected = rows(
        db,
        "SELECT substr(timestamp, 1, 13) || ':00:00Z' AS hour, block_id,"
        " count(DISTINCT meter_id) AS meters, avg(energy_kwh) AS mean FROM smartmeter_quartier"
        " GROUP BY hour, block_id HAVING count(DISTINCT meter_id) >= 5",
    )
    assert {e["block_id"] for e in expected} == {"WH-B1", "WH-B2", "WH-B3"}
    assert len(got) == len(expected) == 48 * 3
    for e in expected:
        cell = got[(e["hour"], e["block_id"])]
        assert cell["n"] == e["meters"]
        assert cell["energy_kwh"] == pytest.approx(e["mean"], abs=1e-6)
    assert "meter_id" not in next(iter(got.values()))


def test_k_counts_records_without_a_subject_column() -> None:
    data = [{"timestamp": f"2025-01-01T00:{m:02d}:00Z", "g": "a", "v": m} for m in range(0, 60, 15)]
    assert list(Aggregation(3600, ("g",), ("v",), k=5).apply(iter(data))) == []
    out = list(Aggregation(3600, ("g",), ("v",), k=4).apply(iter(data)))
    assert out == [{"timestamp": "2025-01-01T00:00:00Z", "g": "a", "n": 4, "v": 22.5}]


def test_aggregation_refuses_unordered_input() -> None:
    data = [
        {"timestamp": "2025-01-01T02:00:00Z", "v": 1},
        {"timestamp": "2025-01-01T01:00:00Z", "v": 2},
    ]
    with pytest.raises(Invalid):
        list(Aggregation(3600, (), ("v",)).apply(iter(data)))


def _inside(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    """Ray casting, with points on an edge counted as inside (independent of GEOS)."""
    n = len(ring)
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if (
            abs(cross) < 1e-12
            and min(x1, x2) <= x <= max(x1, x2)
            and min(y1, y2) <= y <= max(y1, y2)
        ):
            return True
    inside = False
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(7.30, 7.65), st.floats(51.24, 51.46)), min_size=1, max_size=40))
def test_geofence_agrees_with_ray_casting(points: list[tuple[float, float]]) -> None:
    area = shapely.Polygon(HAGEN)
    data = [{"id": i, "lon": x, "lat": y} for i, (x, y) in enumerate(points)]
    kept = {r["id"] for r in Geofence(area).apply(iter(data))}
    assert kept == {i for i, (x, y) in enumerate(points) if _inside(x, y, HAGEN)}


def test_geofence_border_and_vertices_are_inside_and_missing_coordinates_dropped() -> None:
    area = shapely.Polygon(HAGEN)
    data = [
        {"id": "vertex", "lon": 7.5, "lat": 51.27},
        {"id": "dortmund", "lon": 7.4653, "lat": 51.5136},
        {"id": "nocoords", "lon": None, "lat": 51.3},
        {"id": "text", "lon": "7.47", "lat": "51.36"},
    ]
    kept = [r["id"] for r in Geofence(area).apply(iter(data))]
    assert kept == ["vertex", "text"]
    square = shapely.Polygon([(7.4, 51.3), (7.5, 51.3), (7.5, 51.4), (7.4, 51.4)])
    edge = [
        {"lon": 7.45, "lat": 51.3},
        {"lon": 7.5, "lat": 51.35},
        {"lon": 7.5000001, "lat": 51.35},
    ]
    assert list(Geofence(square).apply(iter(edge))) == edge[:2]


def test_geofence_on_geojson_features_needs_the_whole_geometry_inside() -> None:
    area = shapely.Polygon(HAGEN)
    inside = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[7.45, 51.35], [7.47, 51.36]]},
    }
    crossing = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[7.45, 51.35], [7.47, 51.60]]},
    }
    broken = {"type": "Feature", "geometry": {"type": "Nope"}}
    assert list(Geofence(area).apply(iter([inside, crossing, broken]))) == [inside]


def test_projection_keeps_only_covered_columns() -> None:
    data = [{"a": 1, "b": 2, "secret": 3}]
    assert list(project(iter(data), ["a", "b", "missing"])) == [{"a": 1, "b": 2}]
    feature = {"type": "Feature", "geometry": None, "properties": {"a": 1, "secret": 2}}
    assert list(project(iter([feature]), ["a"])) == [
        {"type": "Feature", "geometry": None, "properties": {"a": 1}}
    ]
