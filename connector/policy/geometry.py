"""Geometries for ``spatialCoordinates``: WKT or GeoJSON, exact containment (shapely/GEOS).

Coordinates are longitude/latitude (GeoSPARQL default CRS84 order). A polygon is closed: a
point on its border is inside (``covers``, not ``contains``). Containment is exact on the given
coordinates, never a bounding-box approximation.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import shapely
import shapely.geometry
import shapely.wkt
from shapely.errors import GEOSException

from connector.policy.values import Incomparable

_CRS_PREFIX: Final = re.compile(r"^\s*<[^>]*>\s*")
MAX_VERTICES: Final = 100_000


def parse_geometry(text: str, *, geojson: bool = False) -> Any:
    """Parse WKT (an optional ``<crs>`` prefix must be CRS84) or GeoJSON into a geometry."""
    stripped = text.strip()
    try:
        if geojson or stripped.startswith("{"):
            geom = shapely.geometry.shape(json.loads(stripped))
        else:
            crs = _CRS_PREFIX.match(stripped)
            if crs:
                if "CRS84" not in crs.group(0) and "4326" not in crs.group(0):
                    raise Incomparable(f"unsupported coordinate reference system {crs.group(0)}")
                stripped = stripped[crs.end() :]
            geom = shapely.wkt.loads(stripped)
    except (GEOSException, ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, Incomparable):
            raise
        raise Incomparable(f"not a WKT/GeoJSON geometry: {text[:60]!r}") from exc
    if geom.is_empty:
        raise Incomparable("empty geometry")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise Incomparable("geometry has too many vertices")
    if not geom.is_valid:
        raise Incomparable(f"invalid geometry: {shapely.is_valid_reason(geom)}")
    shapely.prepare(geom)
    return geom


def covers(area: Any, geom: Any) -> bool:
    """Whether ``geom`` lies inside ``area`` (the border counts as inside)."""
    return bool(area.covers(geom))
