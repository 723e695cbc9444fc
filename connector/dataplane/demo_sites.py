"""Where the demo data is measured: stations, counters, buildings, gauges, sensors in Hagen.

All places are fictitious measuring points with real Hagen place names; every coordinate lies
in :data:`HAGEN_BBOX`. Each site carries the parameters its generator needs (capacity, kWp,
base level …) so the generators stay free of magic numbers per site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (south, west, north, east) in WGS 84 degrees.
HAGEN_BBOX = (51.33, 7.40, 51.40, 7.55)


@dataclass(frozen=True)
class Site:
    """One measuring point (or a building, a road segment, a block of flats)."""

    site_id: str
    name: str
    lat: float
    lon: float
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    line: tuple[tuple[float, float], ...] = ()  # (lon, lat) vertices for road segments


AIR_STATIONS = (
    Site("LQ-BOE-01", "Boele, Schwerter Straße / Markt", 51.3907, 7.4668, {"exposure": 1.0}),
    Site("LQ-BOE-02", "Boele-Kabel, Schwerter Straße", 51.3861, 7.4652, {"exposure": 0.85}),
    Site("LQ-ECK-03", "Eckesey, Eckeseyer Straße", 51.3792, 7.4621, {"exposure": 0.95}),
    Site("LQ-ECK-04", "Eckesey, Alexanderstraße", 51.3748, 7.4603, {"exposure": 0.6}),
    Site("LQ-ALT-05", "Altenhagen, Altenhagener Brücke", 51.3705, 7.4679, {"exposure": 0.8}),
)

# capacity: vehicles per 15 min per direction at the peak; bikes: bicycle share factor
TRAFFIC_COUNTERS = (
    Site("KI-01", "Schwerter Straße, Boele", 51.3884, 7.4661, {"capacity": 560, "bikes": 0.6}),
    Site("KI-02", "Eckeseyer Straße, Eckesey", 51.3770, 7.4612, {"capacity": 470, "bikes": 0.8}),
    Site(
        "KI-03", "Altenhagener Straße, Altenhagen", 51.3702, 7.4745, {"capacity": 380, "bikes": 1.0}
    ),
    Site(
        "KI-04",
        "Wehringhauser Straße, Wehringhausen",
        51.3545,
        7.4525,
        {"capacity": 240, "bikes": 1.6},
    ),
)

# One road segment per counter; length in km, the counter's traffic flows along the whole segment.
ROAD_SEGMENTS = (
    Site(
        "AB-01",
        "Schwerter Straße (Boele Markt – Kabeler Straße)",
        51.3884,
        7.4661,
        {"counter": "KI-01", "length_km": 1.15},
        ((7.4672, 51.3935), (7.4665, 51.3890), (7.4650, 51.3838)),
    ),
    Site(
        "AB-02",
        "Eckeseyer Straße (Eckesey – Hauptbahnhof)",
        51.3770,
        7.4612,
        {"counter": "KI-02", "length_km": 1.40},
        ((7.4628, 51.3826), (7.4612, 51.3770), (7.4606, 51.3700)),
    ),
    Site(
        "AB-03",
        "Altenhagener Straße (Altenhagener Brücke – Friedensstraße)",
        51.3702,
        7.4745,
        {"counter": "KI-03", "length_km": 0.95},
        ((7.4680, 51.3694), (7.4745, 51.3702), (7.4805, 51.3725)),
    ),
    Site(
        "AB-04",
        "Wehringhauser Straße (Bodelschwinghplatz – Haspe)",
        51.3545,
        7.4525,
        {"counter": "KI-04", "length_km": 1.80},
        ((7.4600, 51.3560), (7.4525, 51.3545), (7.4400, 51.3510)),
    ),
)

# kind drives the load profile; base/peak in kW; heat_ua in kWh per Kelvin-day; kwp: PV plant
BUILDINGS = (
    Site(
        "LG-001",
        "Rathaus an der Volme",
        51.3597,
        7.4736,
        {
            "kind": "verwaltung",
            "base": 38.0,
            "peak": 165.0,
            "heat_ua": 520.0,
            "kwp": 99.0,
            "tilt": 25.0,
            "azimuth": 185.0,
            "pv_factor": 0.99,
        },
    ),
    Site(
        "LG-002",
        "Gymnasium Hohenlimburg",
        51.3521,
        7.5452,
        {
            "kind": "schule",
            "base": 14.0,
            "peak": 95.0,
            "heat_ua": 610.0,
            "kwp": 145.0,
            "tilt": 30.0,
            "azimuth": 170.0,
            "pv_factor": 0.98,
        },
    ),
    Site(
        "LG-003",
        "Grundschule Boele",
        51.3928,
        7.4712,
        {
            "kind": "schule",
            "base": 6.0,
            "peak": 38.0,
            "heat_ua": 240.0,
            "kwp": 49.5,
            "tilt": 35.0,
            "azimuth": 200.0,
            "pv_factor": 0.98,
        },
    ),
    Site(
        "LG-004",
        "Gesamtschule Haspe",
        51.3462,
        7.4175,
        {
            "kind": "schule",
            "base": 16.0,
            "peak": 110.0,
            "heat_ua": 680.0,
            "kwp": 120.0,
            "tilt": 15.0,
            "azimuth": 180.0,
            "pv_factor": 1.01,
        },
    ),
    Site(
        "LG-005",
        "Stadtbücherei auf der Springe",
        51.3586,
        7.4691,
        {"kind": "verwaltung", "base": 9.0, "peak": 42.0, "heat_ua": 190.0},
    ),
    Site(
        "LG-006",
        "Feuer- und Rettungswache Wehringhausen",
        51.3538,
        7.4518,
        {
            "kind": "wache",
            "base": 22.0,
            "peak": 48.0,
            "heat_ua": 260.0,
            "kwp": 60.0,
            "tilt": 30.0,
            "azimuth": 135.0,
            "pv_factor": 1.01,
        },
    ),
    Site(
        "LG-007",
        "Hallenbad Hengstey",
        51.3975,
        7.4902,
        {
            "kind": "bad",
            "base": 55.0,
            "peak": 120.0,
            "heat_ua": 900.0,
            "kwp": 80.0,
            "tilt": 10.0,
            "azimuth": 225.0,
            "pv_factor": 1.04,
        },
    ),
    Site(
        "LG-008",
        "Kita Altenhagen",
        51.3712,
        7.4801,
        {"kind": "kita", "base": 2.5, "peak": 14.0, "heat_ua": 95.0},
    ),
)

PV_BUILDINGS = tuple(b for b in BUILDINGS if "kwp" in b.params)

# base: mean water level in cm; gain: cm per mm of effective storage; tau: recession hours;
# runoff: share of rain that reaches the stream quickly
GAUGES = (
    Site(
        "PG-VOL-01",
        "Volme, Pegel Eckesey",
        51.3766,
        7.4592,
        {"base": 48.0, "gain": 5.0, "tau": 10.0, "runoff": 0.45},
    ),
    Site(
        "PG-ENN-02",
        "Ennepe, Pegel Haspe",
        51.3483,
        7.4302,
        {"base": 38.0, "gain": 4.2, "tau": 9.0, "runoff": 0.40},
    ),
    Site(
        "PG-LEN-03",
        "Lenne, Pegel Hohenlimburg",
        51.3562,
        7.5475,
        {"base": 92.0, "gain": 3.3, "tau": 30.0, "runoff": 0.55},
    ),
    Site(
        "PG-HAS-04",
        "Hasper Bach, Pegel Hasper Talsperre-Unterlauf",
        51.3436,
        7.4108,
        {"base": 16.0, "gain": 4.5, "tau": 4.0, "runoff": 0.35},
    ),
    Site(
        "PG-SEL-05",
        "Selbecker Bach, Pegel Eilpe",
        51.3381,
        7.4853,
        {"base": 13.0, "gain": 4.0, "tau": 3.0, "runoff": 0.30},
    ),
)

# capture: %vol per mm of rain reaching the tree pit; fc: field capacity %vol
TREE_SENSORS = (
    Site(
        "BF-01",
        "Linde, Friedrich-Ebert-Platz",
        51.3601,
        7.4713,
        {"species": "Tilia cordata", "capture": 0.40, "fc": 36.0},
    ),
    Site(
        "BF-02",
        "Platane, Bodelschwinghplatz Wehringhausen",
        51.3549,
        7.4489,
        {"species": "Platanus × hispanica", "capture": 0.55, "fc": 38.0},
    ),
    Site(
        "BF-03",
        "Spitzahorn, Boeler Markt",
        51.3912,
        7.4680,
        {"species": "Acer platanoides", "capture": 0.35, "fc": 33.0},
    ),
    Site(
        "BF-04",
        "Stieleiche, Hüttenplatz Haspe",
        51.3468,
        7.4139,
        {"species": "Quercus robur", "capture": 0.50, "fc": 40.0},
    ),
    Site(
        "BF-05",
        "Robinie, Altenhagener Straße",
        51.3705,
        7.4762,
        {"species": "Robinia pseudoacacia", "capture": 0.30, "fc": 31.0},
    ),
    Site(
        "BF-06",
        "Linde, Volmepark",
        51.3540,
        7.4775,
        {"species": "Tilia × europaea", "capture": 0.60, "fc": 42.0},
    ),
    Site(
        "BF-07",
        "Feldahorn, Eckeseyer Straße",
        51.3781,
        7.4617,
        {"species": "Acer campestre", "capture": 0.32, "fc": 32.0},
    ),
    Site(
        "BF-08",
        "Hainbuche, Lennestraße Hohenlimburg",
        51.3533,
        7.5430,
        {"species": "Carpinus betulus", "capture": 0.45, "fc": 37.0},
    ),
)

SMARTMETER_DISTRICT = "Wehringhausen"

# Blocks of the smart-meter district; meters: how many meters the block has (one block is
# deliberately smaller than a typical k so k-anonymous aggregates must suppress it).
SMARTMETER_BLOCKS = (
    Site("WH-B1", "Wehringhausen, Block Lange Straße", 51.3551, 7.4478, {"meters": 9}),
    Site("WH-B2", "Wehringhausen, Block Augustastraße", 51.3539, 7.4503, {"meters": 7}),
    Site("WH-B3", "Wehringhausen, Block Pelmkestraße", 51.3526, 7.4462, {"meters": 5}),
    Site("WH-B4", "Wehringhausen, Block Minervastraße", 51.3517, 7.4521, {"meters": 3}),
)

# Industrial sectors of the (pseudonymous) companies: NACE division, label, t CO2 per year.
# Only the division is given: a full NACE class would identify a company in a city of Hagen's size.
INDUSTRY_SECTORS = (
    ("C24", "Metallerzeugung und -bearbeitung", 118_000.0),
    ("C24", "Metallerzeugung und -bearbeitung", 21_000.0),
    ("C17", "Herstellung von Papier, Pappe und Waren daraus", 64_000.0),
    ("C20", "Herstellung von chemischen Erzeugnissen", 27_500.0),
    ("C25", "Herstellung von Metallerzeugnissen", 8_900.0),
    ("C25", "Herstellung von Metallerzeugnissen", 12_400.0),
    ("C22", "Herstellung von Gummi- und Kunststoffwaren", 6_300.0),
    ("C10", "Herstellung von Nahrungs- und Futtermitteln", 4_100.0),
    ("C28", "Maschinenbau", 5_600.0),
    ("D35", "Energieversorgung (Wärme)", 41_000.0),
)


def all_sites() -> tuple[Site, ...]:
    """Every site with a coordinate (for checks such as "all of them lie in Hagen")."""
    return (
        AIR_STATIONS
        + TRAFFIC_COUNTERS
        + ROAD_SEGMENTS
        + BUILDINGS
        + GAUGES
        + TREE_SENSORS
        + SMARTMETER_BLOCKS
    )
