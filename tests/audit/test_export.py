from __future__ import annotations

import csv
import io
import json

import pytest

from connector.audit.checkpoint import CheckpointSigner, trusted_keys
from connector.audit.export import ExportReader, csv_lines, jsonl_lines
from connector.audit.sink import MemoryAuditSink
from connector.audit.verification import Anchor, BreakKind, Head
from connector.audit.vocabulary import EventType, Result
from connector.clock import FixedClock
from connector.errors import Invalid
from connector.testing import throwaway_keyset

KEYS = throwaway_keyset()
SIGNER = CheckpointSigner(KEYS.p256, KEYS.method_id("p256"), KEYS.did)
PINNED = trusted_keys(SIGNER.public_jwk())


def _export(length: int = 6) -> list[str]:
    clock = FixedClock()
    sink = MemoryAuditSink(clock)
    for i in range(length):
        clock.advance(1)
        sink.record(
            EventType.POLICY_DECIDED,
            actor="system",
            participant="did:web:p.example",
            dataset="urn:dataset:1",
            result=Result.DENIED if i % 2 else Result.OK,
            details={
                "decision": "deny" if i % 2 else "permit",
                "report_digest": "ab" * 32,
                "explanation": 'Zweck „Forschung“ nicht erlaubt, ; "quoted"',
            },
        )
    entries = sink.entries
    cp = SIGNER.sign(seq=4, head=entries[3].hash, at=clock.now(), kind="periodic")
    return list(
        jsonl_lines(
            issuer=KEYS.did,
            exported_at="2026-01-01T00:00:10.000000Z",
            anchor=Anchor.genesis(),
            head=Head(entries[-1].seq, entries[-1].hash),
            checkpoints=[cp],
            entries=entries,
        )
    )


def test_export_verifies_offline() -> None:
    lines = _export()
    assert all(line.endswith("\n") for line in lines)
    assert json.loads(lines[0])["record"] == "audit-export"
    report = ExportReader.open(lines).verify(PINNED)
    assert report.ok and report.checked == 6 and report.checkpoints_verified == 1
    assert ExportReader.open(lines).verify(PINNED, from_seq=3).checked == 4
    other = trusted_keys(CheckpointSigner(throwaway_keyset().p256, "k", "i").public_jwk())
    assert ExportReader.open(lines).verify(other).broken is not None


def test_edited_swapped_and_missing_lines_are_located() -> None:
    lines = _export()
    edited = list(lines)
    record = json.loads(edited[4])  # entry 3
    record["details"]["decision"] = "deny"
    edited[4] = json.dumps(record) + "\n"
    broken = ExportReader.open(edited).verify(PINNED).broken
    assert broken is not None and (broken.position, broken.kind) == (3, BreakKind.EDITED)
    swapped = [*lines[:4], lines[5], lines[4], *lines[6:]]
    broken = ExportReader.open(swapped).verify(PINNED).broken
    assert broken is not None and (broken.position, broken.kind) == (3, BreakKind.REORDERED)
    missing = [*lines[:6], *lines[7:]]  # entry 5
    broken = ExportReader.open(missing).verify(PINNED).broken
    assert broken is not None and (broken.position, broken.kind) == (5, BreakKind.DELETED)
    truncated = lines[:-1]  # the head line in the header still names entry 6
    broken = ExportReader.open(truncated).verify(PINNED).broken
    assert broken is not None and (broken.position, broken.kind) == (6, BreakKind.DELETED)


def test_a_pruned_start_needs_its_signed_checkpoint() -> None:
    lines = _export()
    header = json.loads(lines[0])
    first = json.loads(lines[4])  # entry 3 becomes the first one exported
    header["anchor"] = {"seq": 2, "hash": first["prev_hash"], "source": "pruned checkpoint"}
    cut = [json.dumps(header) + "\n", lines[1], *lines[4:]]
    report = ExportReader.open(cut).verify(PINNED)
    assert report.ok and report.anchor.source == "unverified start"
    assert any("not covered" in w for w in report.warnings)


def test_malformed_exports_are_refused() -> None:
    lines = _export()
    with pytest.raises(Invalid):
        ExportReader.open([])
    with pytest.raises(Invalid):
        ExportReader.open(["{}\n"])
    with pytest.raises(Invalid):
        list(ExportReader.open([*lines, lines[1]]).entries())  # a checkpoint after entries
    with pytest.raises(Invalid):
        ExportReader.open([lines[0], "not json\n"])


def test_csv_export() -> None:
    lines = _export()
    entries = list(ExportReader.open(lines).entries())
    rows = list(csv.reader(io.StringIO("".join(csv_lines(entries)))))
    assert rows[0][:3] == ["seq", "time", "type"] and len(rows) == 7
    assert json.loads(rows[2][9])["decision"] == "deny"
    assert rows[2][8] == "denied" and rows[2][-1] == entries[1].hash
