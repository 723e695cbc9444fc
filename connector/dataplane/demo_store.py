"""Write the Hagen demo data: one SQLite database plus GeoJSON, CSV and JSON Lines files.

Layout of the output directory (default ``<data_dir>/demo``)::

    hagen.db                                 all tables of the nine datasets, ``standorte``,
                                             the view ``pegelstaende`` and ``demo_manifest``
    <slug>-standorte.geojson                 measuring points per dataset
    energie-gebaeude-monat.csv               monthly building energy (open)
    industrie-co2.jsonl                      industrial CO2 (consortium only)
    manifest.json                            version, parameters, fingerprint, file hashes

Idempotent: the manifest records a fingerprint of (data version, seed, start, days); a second
run with the same parameters finds it, checks the files, and regenerates nothing. Rows stream
from the generators into the database in batches (``executemany``, one transaction per table,
WAL), so memory stays flat however long the period. Everything is built in a staging
directory and moved into place, the manifest last. This is a data file for the data plane,
hence the standard library's ``sqlite3`` rather than the connector's own database layer.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from connector.clock import utc_isoformat
from connector.dataplane.demo_catalog import DATASETS, DEMO_DATA_VERSION, Table, sites_geojson
from connector.dataplane.demo_data import DemoConfig, Row
from connector.errors import Conflict

DATABASE_NAME = "hagen.db"
MANIFEST_NAME = "manifest.json"
BATCH_SIZE = 5000


@dataclass(frozen=True)
class DemoStoreResult:
    """What :func:`write_demo_data` found or wrote."""

    directory: Path
    manifest: dict[str, Any]
    regenerated: bool
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        """The SQLite file."""
        return self.directory / DATABASE_NAME

    @property
    def files(self) -> list[Path]:
        """Every file listed in the manifest (the database first)."""
        return [self.directory / name for name in self.manifest["files"]]


def fingerprint(config: DemoConfig) -> str:
    """SHA-256 over the data version and the parameters: equal fingerprints, equal data."""
    parameters = {
        "version": DEMO_DATA_VERSION,
        "seed": config.seed,
        "start": utc_isoformat(config.start),
        "days": config.days,
    }
    return hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def current_manifest(directory: Path, config: DemoConfig) -> dict[str, Any] | None:
    """The manifest if ``directory`` already holds intact demo data for ``config``, else None."""
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("fingerprint") != fingerprint(config):
        return None
    for name, meta in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            return None
        if name != DATABASE_NAME and _sha256(path) != meta.get("sha256"):
            return None
    if _database_fingerprint(directory / DATABASE_NAME) != manifest["fingerprint"]:
        return None
    return manifest


def _database_fingerprint(path: Path) -> str | None:
    if not path.is_file():
        return None
    conn = sqlite3.connect(path)
    try:
        found = conn.execute("SELECT value FROM demo_manifest WHERE key = 'fingerprint'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return str(found[0]) if found else None


def _create_table(conn: sqlite3.Connection, tab: Table) -> str:
    cols = ", ".join(
        f"{c.name} {c.sql_type}{'' if c.nullable else ' NOT NULL'}" for c in tab.columns
    )
    conn.execute(
        f"CREATE TABLE {tab.name} ({cols}, PRIMARY KEY ({', '.join(tab.key)})) WITHOUT ROWID"
    )
    marks = ", ".join("?" for _ in tab.columns)
    return f"INSERT INTO {tab.name} VALUES ({marks})"  # noqa: S608 - names from the catalogue


class _FileSink:
    """Writes a table's rows also as CSV or JSON Lines."""

    def __init__(self, handle: TextIO, tab: Table) -> None:
        self._handle = handle
        self._names = tab.column_names
        self._csv = (
            csv.writer(handle, lineterminator="\n") if handle.name.endswith(".csv") else None
        )
        if self._csv is not None:
            self._csv.writerow(self._names)

    def write(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if self._csv is not None:
                self._csv.writerow(row)
            else:
                record = dict(zip(self._names, row, strict=True))
                self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")


class _Loader:
    """Streams one base table (and the table derived from it) into the database."""

    def __init__(self, conn: sqlite3.Connection, staging: Path, batch_size: int) -> None:
        self._conn = conn
        self._staging = staging
        self._batch = batch_size
        self.counts: dict[str, int] = {}
        self.files: list[str] = []

    def _sink(self, tab: Table, rows: list[Row], sql: str, handles: dict[str, _FileSink]) -> None:
        if not rows:
            return
        self._conn.executemany(sql, rows)
        self.counts[tab.name] = self.counts.get(tab.name, 0) + len(rows)
        if tab.name in handles:
            handles[tab.name].write(rows)
        rows.clear()

    def load(self, config: DemoConfig, base: Table, derived: Table | None) -> None:
        tabs = [base] if derived is None else [base, derived]
        sql = {tab.name: _create_table(self._conn, tab) for tab in tabs}
        opened = [tab for tab in tabs if tab.file]
        streams = [(self._staging / str(tab.file)).open("w", encoding="utf-8") for tab in opened]
        try:
            handles = {
                tab.name: _FileSink(stream, tab)
                for tab, stream in zip(opened, streams, strict=True)
            }
            assert base.generate is not None
            source = base.generate(config)
            self._conn.execute("BEGIN")
            if derived is None:
                while batch := list(islice(source, self._batch)):
                    self._sink(base, batch, sql[base.name], handles)
            else:
                assert derived.derive is not None
                pending: list[Row] = []
                out: list[Row] = []

                def feed() -> Iterator[Row]:
                    for row in source:
                        pending.append(row)
                        yield row

                for row in derived.derive(config, feed()):
                    out.append(row)
                    if len(pending) >= self._batch:
                        self._sink(base, pending, sql[base.name], handles)
                    if len(out) >= self._batch:
                        self._sink(derived, out, sql[derived.name], handles)
                self._sink(base, pending, sql[base.name], handles)
                self._sink(derived, out, sql[derived.name], handles)
            self._conn.execute("COMMIT")
        finally:
            for stream in streams:
                stream.close()
        self.files.extend(str(tab.file) for tab in opened)


def _write_sites(conn: sqlite3.Connection, staging: Path) -> list[str]:
    conn.execute(
        "CREATE TABLE standorte (dataset TEXT NOT NULL, site_id TEXT NOT NULL, name TEXT NOT NULL,"
        " lat REAL NOT NULL, lon REAL NOT NULL, properties TEXT NOT NULL,"
        " PRIMARY KEY (dataset, site_id)) WITHOUT ROWID"
    )
    names = []
    conn.execute("BEGIN")
    for item in DATASETS:
        if item.sites_file is None:
            continue
        collection = sites_geojson(item)
        rows = [
            (item.slug, s.site_id, s.name, s.lat, s.lon, json.dumps(f["properties"]))
            for s, f in zip(item.sites, collection["features"], strict=True)
        ]
        conn.executemany("INSERT INTO standorte VALUES (?, ?, ?, ?, ?, ?)", rows)
        text = json.dumps(collection, ensure_ascii=False, indent=1)
        (staging / item.sites_file).write_text(text + "\n", encoding="utf-8")
        names.append(item.sites_file)
    conn.execute("COMMIT")
    return names


def _write_extras(conn: sqlite3.Connection, config: DemoConfig, print_: str) -> None:
    conn.execute("BEGIN")
    conn.execute(  # every row served from the view carries the notice
        "CREATE VIEW pegelstaende AS SELECT timestamp, gauge_id, water_level_cm,"
        " 'keine amtliche Hochwasserwarnung' AS hinweis FROM pegelstaende_messwerte"
    )
    conn.execute("CREATE TABLE demo_manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    meta = {
        "fingerprint": print_,
        "version": DEMO_DATA_VERSION,
        "seed": str(config.seed),
        "start": utc_isoformat(config.start),
        "days": str(config.days),
        "synthetic": "true",
    }
    conn.executemany("INSERT INTO demo_manifest VALUES (?, ?)", sorted(meta.items()))
    conn.execute("COMMIT")


def _build(staging: Path, config: DemoConfig, print_: str, batch_size: int) -> _Loader:
    conn = sqlite3.connect(staging / DATABASE_NAME, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")  # a staging file: a crash means rebuild anyway
        conn.execute("PRAGMA cache_size = -32768")
        loader = _Loader(conn, staging, batch_size)
        tables = [tab for item in DATASETS for tab in item.tables]
        for base in (tab for tab in tables if tab.generate is not None):
            derived = [tab for tab in tables if tab.source == base.name]
            if len(derived) > 1:
                raise Conflict(f"more than one table derived from {base.name}")
            loader.load(config, base, derived[0] if derived else None)
        loader.files.extend(_write_sites(conn, staging))
        _write_extras(conn, config, print_)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()
    return loader


def _manifest(config: DemoConfig, print_: str, staging: Path, loader: _Loader) -> dict[str, Any]:
    datasets = []
    for item in DATASETS:
        datasets.append(
            {
                "slug": item.slug,
                "title": {"de": item.title_de, "en": item.title_en},
                "licence": item.licence,
                "access": item.access,
                "tables": {
                    t.name: {"rows": loader.counts.get(t.name, 0), "interval": t.interval}
                    for t in item.tables
                },
                "files": [
                    f
                    for f in loader.files
                    if f.startswith(item.slug) or any(f == t.file for t in item.tables)
                ],
                **({"notice": item.notice} if item.notice else {}),
            }
        )
    files = {
        name: {"bytes": (staging / name).stat().st_size, "sha256": _sha256(staging / name)}
        for name in [DATABASE_NAME, *loader.files]
    }
    return {
        "generator": "klimakommune-connector demo data for the City of Hagen",
        "synthetic": True,
        "notice": "Synthetische Demodaten, keine Messwerte / synthetic demo data, no measurements",
        "version": DEMO_DATA_VERSION,
        "fingerprint": print_,
        "seed": config.seed,
        "start": utc_isoformat(config.start),
        "end": utc_isoformat(config.end),
        "days": config.days,
        "database": DATABASE_NAME,
        "datasets": datasets,
        "files": files,
    }


def write_demo_data(
    directory: Path, config: DemoConfig, *, force: bool = False, batch_size: int = BATCH_SIZE
) -> DemoStoreResult:
    """Generate the demo data into ``directory`` unless it already holds this exact data."""
    directory.mkdir(parents=True, exist_ok=True)
    if not force and (manifest := current_manifest(directory, config)) is not None:
        return DemoStoreResult(directory, manifest, regenerated=False)
    print_ = fingerprint(config)
    staging = directory / f".staging-{print_[:16]}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        loader = _build(staging, config, print_, batch_size)
        manifest = _manifest(config, print_, staging, loader)
        (directory / MANIFEST_NAME).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):  # a stale WAL must never meet the new database
            (directory / f"{DATABASE_NAME}{suffix}").unlink(missing_ok=True)
        for name in manifest["files"]:
            os.replace(staging / name, directory / name)
        text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")
        os.replace(staging / MANIFEST_NAME, directory / MANIFEST_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return DemoStoreResult(directory, manifest, regenerated=True, tables=dict(loader.counts))
