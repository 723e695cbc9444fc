"""Streaming readers and writers: same records whatever the chunk boundaries."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.dataplane.readers import (
    media_kind,
    read_csv,
    read_json,
    read_jsonl,
    reader_for,
)
from connector.dataplane.writers import write
from connector.errors import Invalid, PayloadTooLarge

from .conftest import chunked

RECORDS = [
    {"timestamp": "2025-01-01T00:00:00Z", "station_id": "LQ-1", "no2": 31.5, "note": "Ä ö ü €"},
    {"timestamp": "2025-01-01T00:10:00Z", "station_id": "LQ-2", "no2": -1e-3, "note": 'a "q", b'},
    {"timestamp": "2025-01-01T00:20:00Z", "station_id": "LQ-3", "no2": 12345678901234, "note": ""},
]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
records = st.lists(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=5), max_size=8)
cuts = st.lists(st.integers(0, 10_000), max_size=12)


@settings(max_examples=60, deadline=None)
@given(records, cuts)
def test_json_lines_and_arrays_read_back_at_any_chunking(rows: list[dict], at: list[int]) -> None:
    jsonl = "".join(json.dumps(r) + "\n" for r in rows).encode()
    assert list(read_jsonl(chunked(jsonl, at))) == rows
    array = json.dumps(rows, indent=1).encode()
    assert list(read_json(chunked(array, at))) == rows
    wrapped = json.dumps({"@iot.count": len(rows), "value": rows, "x": [1, 2]}).encode()
    header: dict = {}
    assert list(read_json(chunked(wrapped, at), header)) == rows
    assert header == {"@iot.count": len(rows), "x": [1, 2]}


@settings(max_examples=40, deadline=None)
@given(cuts)
def test_csv_reads_quoted_multiline_fields_at_any_chunking(at: list[int]) -> None:
    text = 'a,b\n1,"x\ny"\n2,\n"3,5",z\n'
    got = list(read_csv(chunked(text.encode(), at)))
    assert got == [{"a": "1", "b": "x\ny"}, {"a": "2", "b": None}, {"a": "3,5", "b": "z"}]


def test_geojson_features_are_read_from_the_collection() -> None:
    doc = {
        "type": "FeatureCollection",
        "name": "x",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [7.4, 51.3]},
                "properties": {"id": 1},
            }
        ],
    }
    feats = list(read_json([json.dumps(doc).encode()]))
    assert feats == doc["features"]


def test_a_number_split_across_chunks_is_read_whole() -> None:
    assert list(read_json([b'[{"v": 12', b"34}]"])) == [{"v": 1234}]
    assert list(read_json([b'[{"v": 1}', b', {"v": 2.5', b"e3}]"])) == [{"v": 1}, {"v": 2500.0}]


@pytest.mark.parametrize(
    "bad",
    [b"[1, 2]", b'{"nothing": 1}', b'[{"a": 1} {"b": 2}]', b'[{"a": ', b'"text"'],
)
def test_malformed_json_is_refused(bad: bytes) -> None:
    with pytest.raises(Invalid):
        list(read_json([bad]))


def test_malformed_json_lines_are_refused() -> None:
    with pytest.raises(Invalid):
        list(read_jsonl([b'{"a": 1}\n[1]\n']))
    with pytest.raises(Invalid):
        list(read_jsonl([b'{"a": 1}\nnot json\n']))


def test_an_oversized_element_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import connector.dataplane.readers as readers

    monkeypatch.setattr(readers, "MAX_ELEMENT_BYTES", 100)
    with pytest.raises(PayloadTooLarge):
        list(read_jsonl([b"x" * 60, b"y" * 60]))
    with pytest.raises(PayloadTooLarge):
        list(read_json([b'[{"a": "' + b"z" * 200 + b'"}]']))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "json"])
def test_writers_round_trip(kind: str) -> None:
    data = b"".join(write(iter(RECORDS), kind))
    if kind == "csv":
        back = list(csv.DictReader(io.StringIO(data.decode())))
        assert [r["note"] for r in back] == [r["note"] for r in RECORDS]
        assert [float(r["no2"]) for r in back] == [r["no2"] for r in RECORDS]
    else:
        assert list(reader_for(f"application/{kind}")([data])) == RECORDS


def test_geojson_writer_makes_a_feature_collection() -> None:
    feature = {"type": "Feature", "geometry": None, "properties": {"a": 1}}
    doc = json.loads(b"".join(write(iter([feature, feature]), "geojson")))
    assert doc == {"type": "FeatureCollection", "features": [feature, feature]}


def test_empty_outputs_are_valid_documents() -> None:
    assert json.loads(b"".join(write(iter([]), "json"))) == []
    assert b"".join(write(iter([]), "jsonl")) == b""


def test_media_kinds() -> None:
    assert media_kind("text/csv; charset=utf-8") == "csv"
    assert media_kind("application/x-ndjson") == "jsonl"
    assert media_kind("application/geo+json") == "geojson"
    with pytest.raises(Invalid):
        media_kind("application/pdf")
