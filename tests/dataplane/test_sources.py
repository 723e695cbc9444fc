"""File and SQL sources: confinement (traversal, symlinks), read-only SQL, bound narrowing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from connector.dataplane.confinement import SourceDirs
from connector.dataplane.narrowing import Narrowing
from connector.dataplane.source import FileSource, FileSpec, SqlSpec, parse_source
from connector.dataplane.sql_source import SqlSources
from connector.errors import Forbidden, Invalid, NotFound, Unavailable


@pytest.fixture
def dirs(tmp_path: Path) -> SourceDirs:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.jsonl").write_text('{"x": 1}\n{"x": 2}\n')
    (data / "sub" / "b.jsonl").write_text('{"x": 3}\n')
    (tmp_path / "secret.jsonl").write_text('{"password": "hunter2"}\n')
    return SourceDirs.of([], data)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "file", "path": "a.csv"},
        {"type": "file", "path": "a.csv", "mediaType": "text/csv", "extra": 1},
        {"type": "sql", "url": "mysql://x", "query": "SELECT 1"},
        {"type": "sql", "url": "sqlite:///x.db", "query": "SELECT 1; DROP TABLE t"},
        {"type": "http", "url": "ftp://x"},
        {"type": "http", "url": "https://x", "headers": {"a": 1}},
        {"type": "ftp", "url": "ftp://x"},
        {"type": "file", "path": "", "mediaType": "text/csv"},
        {"type": "file", "path": "a.pdf", "mediaType": "application/pdf"},
        [],
    ],
)
def test_anything_but_the_three_source_shapes_is_refused(raw: object) -> None:
    with pytest.raises(Invalid):
        parse_source(raw)  # type: ignore[arg-type]


def test_file_and_directory_sources(dirs: SourceDirs) -> None:
    single = FileSource(FileSpec("a.jsonl", "application/jsonl"), dirs)
    assert single.passthrough and b"".join(single.chunks()) == b'{"x": 1}\n{"x": 2}\n'
    folder = FileSource(FileSpec(str(dirs.base), "application/jsonl"), dirs)
    assert not folder.passthrough
    assert [r["x"] for r in folder.records()] == [1, 2, 3]


@pytest.mark.parametrize("path", ["../secret.jsonl", "sub/../../secret.jsonl", "/etc/passwd"])
def test_paths_outside_the_source_dirs_are_refused(dirs: SourceDirs, path: str) -> None:
    with pytest.raises(Forbidden):
        FileSource(FileSpec(path, "application/jsonl"), dirs)


def test_symlinks_are_resolved_before_the_check(dirs: SourceDirs, tmp_path: Path) -> None:
    (dirs.base / "escape.jsonl").symlink_to(tmp_path / "secret.jsonl")
    (dirs.base / "escape-dir").symlink_to(tmp_path)
    (dirs.base / "inside.jsonl").symlink_to(dirs.base / "a.jsonl")
    with pytest.raises(Forbidden):
        FileSource(FileSpec("escape.jsonl", "application/jsonl"), dirs)
    with pytest.raises(Forbidden):
        FileSource(FileSpec("escape-dir/secret.jsonl", "application/jsonl"), dirs)
    inside = FileSource(FileSpec("inside.jsonl", "application/jsonl"), dirs)
    assert [r["x"] for r in inside.records()] == [1, 2]
    # a directory source skips entries that lead outside
    listed = FileSource(FileSpec(".", "application/jsonl"), dirs)
    assert all("password" not in r for r in listed.records())
    loop = dirs.base / "loop"
    loop.symlink_to(loop)
    with pytest.raises(Forbidden):
        FileSource(FileSpec("loop", "application/jsonl"), dirs)


def test_a_symlink_swapped_in_after_the_check_is_not_followed(
    dirs: SourceDirs, tmp_path: Path
) -> None:
    source = FileSource(FileSpec("a.jsonl", "application/jsonl"), dirs)
    target = dirs.base / "a.jsonl"
    target.unlink()
    target.symlink_to(tmp_path / "secret.jsonl")
    with pytest.raises((Forbidden, OSError)):
        b"".join(source.chunks())


def test_missing_files_and_configured_source_dirs(dirs: SourceDirs, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        FileSource(FileSpec("nope.jsonl", "application/jsonl"), dirs)
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.jsonl").write_text('{"x": 9}\n')
    restricted = SourceDirs.of([str(other)], dirs.base)
    assert [
        r["x"]
        for r in FileSource(
            FileSpec(str(other / "c.jsonl"), "application/jsonl"), restricted
        ).records()
    ] == [9]
    with pytest.raises(Forbidden):  # the data dir is no longer allowed
        FileSource(FileSpec("a.jsonl", "application/jsonl"), restricted)


def test_sql_narrowing_is_bound_not_interpolated(demo_dir: Path) -> None:
    dirs = SourceDirs.of([], demo_dir.parent)
    sql = SqlSources(dirs)
    spec = SqlSpec("sqlite:///demo/hagen.db", "SELECT * FROM luftqualitaet")
    hostile = Narrowing(filters={"station_id": "x' OR '1'='1"})
    assert list(sql.records(spec, hostile, "timestamp")) == []
    narrowed = Narrowing(
        start="2025-01-01T01:00:00Z",
        end="2025-01-01T02:00:00Z",
        filters={"station_id": "LQ-BOE-01"},
        limit=4,
    )
    got = list(sql.records(spec, narrowed, "timestamp", ordered=True))
    con = sqlite3.connect(demo_dir / "hagen.db")
    expected = con.execute(
        "SELECT timestamp FROM luftqualitaet WHERE station_id = 'LQ-BOE-01'"
        " AND timestamp >= '2025-01-01T01:00:00Z' AND timestamp < '2025-01-01T02:00:00Z'"
        " ORDER BY timestamp LIMIT 4"
    ).fetchall()
    assert [r["timestamp"] for r in got] == [e[0] for e in expected]
    assert len(got) == 4
    sql.dispose()


def test_sql_sources_are_read_only_and_confined(demo_dir: Path, tmp_path: Path) -> None:
    dirs = SourceDirs.of([], demo_dir.parent)
    sql = SqlSources(dirs)
    before = (
        sqlite3.connect(demo_dir / "hagen.db")
        .execute("SELECT count(*) FROM bodenfeuchte")
        .fetchone()
    )
    for query in (
        "DELETE FROM bodenfeuchte RETURNING 1",
        "UPDATE bodenfeuchte SET sensor_id = 'x' RETURNING 1",
    ):
        with pytest.raises(Unavailable):
            list(sql.records(SqlSpec("sqlite:///demo/hagen.db", query), Narrowing(), None))
    after = (
        sqlite3.connect(demo_dir / "hagen.db")
        .execute("SELECT count(*) FROM bodenfeuchte")
        .fetchone()
    )
    assert before == after
    outside = tmp_path / "outside.db"
    sqlite3.connect(outside).execute("CREATE TABLE t (a)").connection.commit()
    with pytest.raises(Forbidden):
        list(sql.records(SqlSpec(f"sqlite:///{outside}", "SELECT * FROM t"), Narrowing(), None))
    sql.dispose()


def test_narrowing_refuses_unknown_parameters() -> None:
    with pytest.raises(Invalid):
        Narrowing.from_query(
            [("station_id; DROP", "x")], filters={}, time_column="t", passthrough=False
        )
    with pytest.raises(Invalid):
        Narrowing.from_query([("limit", "-1")], filters={}, time_column="t", passthrough=False)
    with pytest.raises(Invalid):
        Narrowing.from_query(
            [("from", "yesterday")], filters={}, time_column="t", passthrough=False
        )
    with pytest.raises(Invalid):
        Narrowing.from_query([("$filter", "x")], filters={}, time_column="t", passthrough=False)
    n = Narrowing.from_query(
        [("from", "2025-01-01"), ("station", "A"), ("format", "csv")],
        filters={"station": "station_id"},
        time_column="timestamp",
        passthrough=False,
    )
    assert n.start == "2025-01-01T00:00:00Z" and n.filters == {"station_id": "A"}
    rows = [
        {"timestamp": "2024-12-31T23:00:00Z", "station_id": "A"},
        {"timestamp": "2025-01-01T00:00:00Z", "station_id": "A"},
        {"timestamp": "2025-01-01T00:00:00Z", "station_id": "B"},
    ]
    assert list(n.apply(iter(rows), "timestamp")) == [rows[1]]
    assert json.dumps(n.passthrough) == "{}"


@pytest.mark.postgres
def test_postgresql_sources_stream_read_only(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from connector.stores.database import create_db_engine

    admin = create_db_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS dp_messwerte"))
        conn.execute(text("CREATE TABLE dp_messwerte (timestamp TEXT, station_id TEXT, v REAL)"))
        conn.execute(
            text("INSERT INTO dp_messwerte VALUES (:t, :s, :v)"),
            [
                {"t": f"2025-01-01T{h:02d}:00:00Z", "s": "A" if h % 2 else "B", "v": h}
                for h in range(24)
            ],
        )
    sql = SqlSources(SourceDirs.of([], tmp_path))
    spec = SqlSpec(postgres_url, "SELECT * FROM dp_messwerte")
    narrowed = Narrowing(start="2025-01-01T10:00:00Z", filters={"station_id": "A"}, limit=3)
    got = list(sql.records(spec, narrowed, "timestamp", ordered=True))
    assert [r["v"] for r in got] == [11, 13, 15]
    with pytest.raises(Unavailable):
        list(
            sql.records(
                SqlSpec(postgres_url, "DELETE FROM dp_messwerte RETURNING 1"), Narrowing(), None
            )
        )
    with admin.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dp_messwerte")).scalar() == 24
    sql.dispose()
    admin.dispose()
