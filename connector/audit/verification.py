"""Chain verification: stream entries, check every link and checkpoint, name the first break.

Each entry must carry the next sequence number, link to its predecessor's hash, match its own
hash, and (unless redacted) its body must match its digest. When one does not, a look at its
neighbours tells what happened at that position:

* ``deleted``   — a sequence number is missing (or the chain ends before the head/checkpoint);
* ``inserted``  — an entry that was not chained there; the ones after it moved up by one;
* ``reordered`` — two neighbouring entries changed places;
* ``edited``    — an entry's content no longer matches its hash, or the entry after it was
  chained to a different version of it, or its body was removed without a retention rule;
* ``rewritten`` — the chain is consistent but differs from a signed checkpoint (someone
  recomputed the hashes after the checkpoint was signed);
* ``bad_checkpoint`` — a checkpoint's signature does not verify or its key is not trusted.

Entries appended after the last signed checkpoint are protected by the chain only: a writer
with database access can re-hash them. Checkpoints (periodic and on demand) close that gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connector.audit import checkpoint as cpmod
from connector.audit.checkpoint import Checkpoint
from connector.audit.event import GENESIS, AuditEntry, self_consistent
from connector.audit.vocabulary import EventType


class BreakKind(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    REWRITTEN = "rewritten"
    BAD_CHECKPOINT = "bad_checkpoint"


@dataclass(frozen=True, slots=True)
class Break:
    position: int
    kind: BreakKind
    detail: str

    def line(self) -> str:
        return f"audit chain broken at position {self.position}: {self.kind} ({self.detail})"


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where verification starts: the entry before the first one checked."""

    seq: int
    hash: str
    source: str

    @classmethod
    def genesis(cls) -> Anchor:
        return cls(0, GENESIS, "genesis")


@dataclass(frozen=True, slots=True)
class Head:
    """What the storage says the last entry is (the head row, an export's last line)."""

    seq: int
    hash: str


@dataclass
class VerificationReport:
    anchor: Anchor
    checked: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS
    checkpoints_verified: int = 0
    redacted: int = 0
    broken: Break | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def line(self) -> str:
        if self.broken is not None:
            return self.broken.line()
        return (
            f"audit chain ok: entries {self.anchor.seq + 1}..{self.last_seq} "
            f"({self.checked} checked, {self.redacted} redacted), "
            f"{self.checkpoints_verified} signed checkpoints verified, head {self.head_hash}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "anchor": {
                "seq": self.anchor.seq,
                "hash": self.anchor.hash,
                "source": self.anchor.source,
            },
            "checked": self.checked,
            "last_seq": self.last_seq,
            "head_hash": self.head_hash,
            "checkpoints_verified": self.checkpoints_verified,
            "redacted": self.redacted,
            "broken": None
            if self.broken is None
            else {
                "position": self.broken.position,
                "kind": str(self.broken.kind),
                "detail": self.broken.detail,
            },
            "warnings": list(self.warnings),
            "summary": self.line(),
        }


class _Lookahead:
    def __init__(self, items: Iterable[AuditEntry]) -> None:
        self._it = iter(items)
        self._buffer: deque[AuditEntry] = deque()

    def peek(self, index: int = 0) -> AuditEntry | None:
        while len(self._buffer) <= index:
            item = next(self._it, None)
            if item is None:
                return None
            self._buffer.append(item)
        return self._buffer[index]

    def pop(self) -> AuditEntry | None:
        item = self.peek()
        if item is not None:
            self._buffer.popleft()
        return item


def _is_displaced(following: AuditEntry | None, expected: int, prev: str) -> bool:
    """Whether ``following`` is the genuine entry for position ``expected`` (pushed back)."""
    if following is None or following.prev_hash != prev:
        return False
    if following.seq == expected:
        return self_consistent(following)
    return following.seq == expected + 1 and self_consistent(following, seq=expected)


def _classify_mismatch(
    entry: AuditEntry, following: AuditEntry | None, expected: int, prev: str, before_prev: str
) -> Break:
    """An entry at the expected position fails its own hash: what happened there."""
    if (
        following is not None
        and following.seq == expected + 1
        and following.prev_hash == prev
        and self_consistent(following, seq=expected)
    ):
        if entry.prev_hash == following.hash and self_consistent(entry, seq=expected + 1):
            return Break(expected, BreakKind.REORDERED, f"entries {expected} and {expected + 1}")
        return Break(expected, BreakKind.INSERTED, "the entries after it moved up by one")
    if _is_displaced(following, expected, prev):
        return Break(expected, BreakKind.INSERTED, "an extra entry stands before it")
    if expected > 1 and entry.prev_hash == before_prev and self_consistent(entry, seq=expected - 1):
        return Break(expected - 1, BreakKind.INSERTED, "the entries after it moved up by one")
    return Break(expected, BreakKind.EDITED, "content does not match its hash")


class _Redactions:
    """Redacted entries must be covered by a later ``audit.pruned`` event's rule."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[int, str]] = {}

    def saw_redacted(self, entry: AuditEntry) -> None:
        first, latest = self.pending.get(entry.type, (entry.seq, entry.time))
        self.pending[entry.type] = (first, max(latest, entry.time))

    def saw_pruning(self, details: Mapping[str, Any] | None) -> None:
        rules = (details or {}).get("redacted")
        if not isinstance(rules, Mapping):
            return
        for type_, (_first, latest) in list(self.pending.items()):
            rule = rules.get(type_)
            before = rule.get("before") if isinstance(rule, Mapping) else None
            if isinstance(before, str) and latest < before:
                del self.pending[type_]

    def first_uncovered(self) -> Break | None:
        if not self.pending:
            return None
        seq = min(first for first, _ in self.pending.values())
        return Break(seq, BreakKind.EDITED, "body removed without a recorded retention rule")


def verify_chain(
    entries: Iterable[AuditEntry],
    *,
    anchor: Anchor | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    head: Head | None = None,
    trusted_keys: Mapping[str, Mapping[str, Any]] | None = None,
) -> VerificationReport:
    """Verify ``entries`` (in storage order) after ``anchor`` against the signed checkpoints."""
    anchor = anchor or Anchor.genesis()
    report = VerificationReport(anchor=anchor, last_seq=anchor.seq, head_hash=anchor.hash)
    if trusted_keys is None:
        report.warnings.append("checkpoint keys not pinned: signatures prove integrity only")
    candidates: list[Break] = []
    by_seq: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        problem = cpmod.check(cp, trusted_keys)
        if problem is not None:
            candidates.append(Break(cp.seq, BreakKind.BAD_CHECKPOINT, problem))
            continue
        report.checkpoints_verified += 1
        if cp.seq >= anchor.seq:
            by_seq[cp.seq] = cp
    if anchor.seq in by_seq and by_seq[anchor.seq].head != anchor.hash:
        candidates.append(Break(anchor.seq + 1, BreakKind.EDITED, "does not follow the anchor"))
    stream = _Lookahead(entries)
    redactions = _Redactions()
    expected, prev, before_prev = anchor.seq + 1, anchor.hash, anchor.hash
    last_good_checkpoint = anchor.seq
    broken: Break | None = None
    while (entry := stream.pop()) is not None:
        if entry.seq > expected:
            nxt = stream.peek()
            if nxt is not None and nxt.seq == expected and nxt.prev_hash == prev:
                broken = Break(expected, BreakKind.REORDERED, f"entry {expected} comes later")
            else:
                broken = Break(expected, BreakKind.DELETED, f"next entry is {entry.seq}")
            break
        if entry.seq < expected:
            if (
                entry.seq == expected - 1
                and entry.prev_hash == before_prev
                and self_consistent(entry)
            ):
                broken = Break(entry.seq, BreakKind.INSERTED, "an extra entry stands before it")
            else:
                broken = Break(expected, BreakKind.INSERTED, f"entry {entry.seq} appears again")
            break
        beyond_head = head is not None and entry.seq > head.seq
        if not self_consistent(entry):
            broken = _classify_mismatch(entry, stream.peek(), expected, prev, before_prev)
            if beyond_head and broken.kind == BreakKind.EDITED:
                broken = Break(expected, BreakKind.INSERTED, "beyond the head")
            break
        if beyond_head:
            broken = Break(expected, BreakKind.INSERTED, "beyond the head")
            break
        if entry.prev_hash != prev:
            if _is_displaced(stream.peek(), expected, prev):
                broken = Break(expected, BreakKind.INSERTED, "an extra entry stands before it")
            elif expected - 1 > anchor.seq:
                detail = "the next entry was chained to a different version of it"
                broken = Break(expected - 1, BreakKind.EDITED, detail)
            else:
                broken = Break(expected, BreakKind.EDITED, f"does not follow the {anchor.source}")
            break
        signed = by_seq.get(expected)
        if signed is not None:
            if signed.head != entry.hash:
                detail = f"differs from the checkpoint signed at {signed.time}"
                broken = Break(last_good_checkpoint + 1, BreakKind.REWRITTEN, detail)
                break
            last_good_checkpoint = expected
        if entry.redacted:
            report.redacted += 1
            redactions.saw_redacted(entry)
        elif entry.type == EventType.AUDIT_PRUNED:
            redactions.saw_pruning(entry.details)
        report.checked += 1
        report.last_seq, report.head_hash = expected, entry.hash
        before_prev, prev, expected = prev, entry.hash, expected + 1
    if broken is None:
        broken = _tail_break(report, by_seq, head) or redactions.first_uncovered()
    if broken is not None:
        candidates.append(broken)
    if candidates:
        report.broken = min(candidates, key=lambda b: b.position)
    return report


def _tail_break(
    report: VerificationReport, by_seq: Mapping[int, Checkpoint], head: Head | None
) -> Break | None:
    last = report.last_seq
    beyond = [seq for seq in by_seq if seq > last]
    if beyond:
        return Break(last + 1, BreakKind.DELETED, f"checkpoint covers entries up to {max(beyond)}")
    if head is not None:
        if head.seq > last:
            return Break(last + 1, BreakKind.DELETED, f"head says the chain has {head.seq}")
        if head.seq < last:
            return Break(
                head.seq + 1, BreakKind.INSERTED, f"head says the chain ends at {head.seq}"
            )
        if head.hash != report.head_hash:
            return Break(last, BreakKind.EDITED, "the last entry differs from the head")
    return None


def entries_of(records: Iterable[Mapping[str, Any]]) -> Iterator[AuditEntry]:
    """Entries from their record form (export lines, API items)."""
    for record in records:
        yield AuditEntry.from_record(record)
