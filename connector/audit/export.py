"""Exports: JSON Lines (verifiable offline) and CSV (for spreadsheets), written as streams.

A JSON Lines export is, one JSON object per line::

    {"record": "audit-export", "v": 1, "issuer": ..., "exported_at": ...,
     "anchor": {"seq", "hash", "source"}, "head": {"seq", "hash"}}
    {"record": "checkpoint", ...}        every signed checkpoint, oldest first
    {"record": "entry", ...}             the entries, in chain order

``connector audit verify --export FILE`` checks it without the database: each entry's hash, the
links, the checkpoint signatures (pin the key with ``--public-key``) and the head.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connector.audit.checkpoint import Checkpoint
from connector.audit.event import GENESIS, AuditEntry, canonical
from connector.audit.verification import Anchor, Head, VerificationReport, verify_chain
from connector.errors import Invalid

CSV_COLUMNS = (
    "seq",
    "time",
    "type",
    "actor",
    "participant",
    "dataset",
    "agreement",
    "process",
    "result",
    "details",
    "redacted",
    "prev_hash",
    "body_digest",
    "hash",
)


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def jsonl_lines(
    *,
    issuer: str | None,
    exported_at: str,
    anchor: Anchor,
    head: Head,
    checkpoints: Iterable[Checkpoint],
    entries: Iterable[AuditEntry],
) -> Iterator[str]:
    """The export, line by line (each ends with a newline)."""
    yield _line(
        {
            "record": "audit-export",
            "v": 1,
            "issuer": issuer,
            "exported_at": exported_at,
            "anchor": {"seq": anchor.seq, "hash": anchor.hash, "source": anchor.source},
            "head": {"seq": head.seq, "hash": head.hash},
        }
    )
    for cp in checkpoints:
        yield _line({"record": "checkpoint", **cp.to_record()})
    for entry in entries:
        yield _line({"record": "entry", **entry.to_record()})


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """CSV with a header row; ``details`` as canonical JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush(row: list[Any]) -> str:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield flush(list(CSV_COLUMNS))
    for entry in entries:
        record = entry.to_record()
        details = record["details"]
        record["details"] = "" if details is None else canonical(details).decode("utf-8")
        yield flush(["" if record[c] is None else record[c] for c in CSV_COLUMNS])


@dataclass
class ExportReader:
    """Reads a JSON Lines export: header, checkpoints, then entries (streamed)."""

    header: dict[str, Any]
    checkpoints: list[Checkpoint]
    _first: dict[str, Any] | None
    _rest: Iterator[tuple[int, str]]

    @classmethod
    def open(cls, lines: Iterable[str]) -> ExportReader:
        numbered = ((n, line) for n, line in enumerate(lines, start=1) if line.strip())
        first = next(numbered, None)
        if first is None:
            raise Invalid("empty audit export", reason="audit_export")
        header = _parse(*first)
        if header.get("record") != "audit-export" or header.get("v") != 1:
            raise Invalid("not an audit export (first line)", reason="audit_export")
        checkpoints: list[Checkpoint] = []
        pending: dict[str, Any] | None = None
        for number, line in numbered:
            record = _parse(number, line)
            if record.get("record") == "checkpoint":
                checkpoints.append(Checkpoint.from_record(record))
                continue
            pending = record
            break
        return cls(header, checkpoints, pending, numbered)

    def entries(self) -> Iterator[AuditEntry]:
        if self._first is None:
            return
        yield _entry(self._first)
        for number, line in self._rest:
            record = _parse(number, line)
            if record.get("record") != "entry":
                raise Invalid(f"line {number}: expected an entry", reason="audit_export")
            yield _entry(record)

    def anchor(self) -> Anchor:
        declared = self.header.get("anchor") or {}
        seq, hash_ = declared.get("seq", 0), declared.get("hash", GENESIS)
        if not isinstance(seq, int) or not isinstance(hash_, str):
            raise Invalid("export anchor malformed", reason="audit_export")
        return resolve_anchor(seq, hash_, self.checkpoints)

    def head(self) -> Head | None:
        head = self.header.get("head")
        if isinstance(head, Mapping) and isinstance(head.get("seq"), int):
            return Head(head["seq"], str(head.get("hash")))
        return None

    def verify(
        self,
        trusted_keys: Mapping[str, Mapping[str, Any]] | None,
        *,
        from_seq: int | None = None,
    ) -> VerificationReport:
        """Verify the export (from entry ``from_seq``, trusting the entry before it)."""
        anchor = self.anchor()
        entries = self.entries()
        if from_seq is not None and from_seq > anchor.seq + 1:
            for entry in entries:
                if entry.seq == from_seq - 1:
                    anchor = Anchor(entry.seq, entry.hash, "unverified start")
                    break
            else:
                raise Invalid(f"the export has no entry {from_seq - 1}", reason="audit_export")
        report = verify_chain(
            entries,
            anchor=anchor,
            checkpoints=self.checkpoints,
            head=self.head(),
            trusted_keys=trusted_keys,
        )
        if anchor.source == "unverified start":
            report.warnings.append(
                f"export starts after entry {anchor.seq}: earlier entries are not covered"
            )
        return report


def resolve_anchor(seq: int, hash_: str, checkpoints: Iterable[Checkpoint]) -> Anchor:
    """Genesis, a signed ``pruned`` checkpoint, or (otherwise) an unverified starting point."""
    if seq == 0 and hash_ == GENESIS:
        return Anchor.genesis()
    for cp in checkpoints:
        if cp.kind == "pruned" and cp.seq == seq and cp.head == hash_:
            return Anchor(seq, hash_, "pruned checkpoint")
    return Anchor(seq, hash_, "unverified start")


def _parse(number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise Invalid(f"line {number}: not JSON", reason="audit_export") from exc
    if not isinstance(record, dict):
        raise Invalid(f"line {number}: not a JSON object", reason="audit_export")
    return record


def _entry(record: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry.from_record({k: v for k, v in record.items() if k != "record"})
