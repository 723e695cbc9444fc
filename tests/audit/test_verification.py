from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.audit.checkpoint import CheckpointSigner, trusted_keys
from connector.audit.event import AuditEntry, AuditEvent, entry_hash, redact, seal
from connector.audit.sink import MemoryAuditSink
from connector.audit.verification import Anchor, BreakKind, Head, verify_chain
from connector.audit.vocabulary import EventType, Result
from connector.clock import FixedClock
from connector.testing import throwaway_keyset

KEYS = throwaway_keyset()
SIGNER = CheckpointSigner(KEYS.ed25519, KEYS.method_id("ed25519"), KEYS.did)
PINNED = trusted_keys(SIGNER.public_jwk())


def _chain(length: int) -> list[AuditEntry]:
    clock = FixedClock()
    sink = MemoryAuditSink(clock)
    for i in range(length):
        clock.advance(1)
        sink.record(
            EventType.CATALOG_REQUESTED,
            actor="did:web:p.example",
            participant="did:web:p.example",
            result=Result.OK,
            details={"shown": i, "hidden": 0},
        )
    return sink.entries


def _forged(at: int, prev: str) -> AuditEntry:
    event = AuditEvent(EventType.AUTH_FAILED, actor="did:web:evil.example", details={"reason": "x"})
    return seal(event, seq=at, prev_hash=prev, at=FixedClock().now())


def _renumber(entries: list[AuditEntry], start: int) -> list[AuditEntry]:
    return [dataclasses.replace(e, seq=start + i) for i, e in enumerate(entries)]


def _tamper(chain: list[AuditEntry], op: str, n: int, careful: bool) -> list[AuditEntry]:
    i = n - 1
    rows = list(chain)
    if op == "edit":
        rows[i] = dataclasses.replace(rows[i], details={"shown": 999, "hidden": 0})
        if careful:  # recompute its own hash too (the next entry still points at the old one)
            e = rows[i]
            digest = __import__("connector.audit.event", fromlist=["body_digest"]).body_digest(
                e.body()
            )
            rows[i] = dataclasses.replace(
                e, body_digest=digest, hash=entry_hash(e.seq, e.prev_hash, e.time, e.type, digest)
            )
    elif op == "delete":
        del rows[i]
    elif op == "insert":
        prev = rows[i].prev_hash
        forged = _forged(n, prev if careful else "9" * 64)
        rows = [*rows[:i], forged, *_renumber(rows[i:], n + 1)]
    elif op == "insert_line":  # an extra line in a file, later numbers untouched
        forged = _forged(n, rows[i].prev_hash if careful else "9" * 64)
        rows = [*rows[:i], forged, *rows[i:]]
    elif op == "swap":  # contents exchanged, positions kept (database)
        a, b = rows[i], rows[i + 1]
        rows[i], rows[i + 1] = dataclasses.replace(b, seq=a.seq), dataclasses.replace(a, seq=b.seq)
    elif op == "swap_lines":  # two lines of a file exchanged
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    return rows


EXPECTED = {
    "edit": BreakKind.EDITED,
    "delete": BreakKind.DELETED,
    "insert": BreakKind.INSERTED,
    "insert_line": BreakKind.INSERTED,
    "swap": BreakKind.REORDERED,
    "swap_lines": BreakKind.REORDERED,
}


@settings(max_examples=150, deadline=None)
@given(
    length=st.integers(2, 9),
    op=st.sampled_from(sorted(EXPECTED)),
    where=st.floats(0, 1),
    careful=st.booleans(),
    with_head=st.booleans(),
)
def test_any_single_tampering_is_located(
    length: int, op: str, where: float, careful: bool, with_head: bool
) -> None:
    chain = _chain(length)
    last = length - 1 if op.startswith("swap") else length
    n = 1 + min(int(where * last), last - 1)
    head = Head(chain[-1].seq, chain[-1].hash) if with_head else None
    assert verify_chain(chain, head=head, trusted_keys=PINNED).ok
    tampered = _tamper(chain, op, n, careful)
    if op == "insert" and head is not None and careful:
        head = Head(head.seq + 1, head.hash)  # the forger moved the head as well
    report = verify_chain(tampered, head=head, trusted_keys=PINNED)
    if n == length and head is None and (op == "delete" or (op == "edit" and careful)):
        # Cutting or re-hashing the unsigned tail of a bare file is invisible … until the head
        # (or a checkpoint) says what the last entry was.
        assert report.ok
        report = verify_chain(tampered, head=Head(length, chain[-1].hash), trusted_keys=PINNED)
    assert report.broken is not None, (op, n)
    assert (report.broken.position, report.broken.kind) == (n, EXPECTED[op]), report.line()


def test_checkpoint_mismatch_is_a_rewrite() -> None:
    chain = _chain(6)
    signed = SIGNER.sign(seq=3, head=chain[2].hash, at=FixedClock().now(), kind="periodic")
    later = SIGNER.sign(seq=6, head="0" * 64, at=FixedClock().now(), kind="periodic")
    report = verify_chain(chain, checkpoints=[signed, later], trusted_keys=PINNED)
    assert report.broken is not None
    assert (report.broken.position, report.broken.kind) == (4, BreakKind.REWRITTEN)


def test_anchor_and_redaction_rules() -> None:
    chain = _chain(5)
    pruned = SIGNER.sign(seq=2, head=chain[1].hash, at=FixedClock().now(), kind="pruned")
    anchor = Anchor(2, chain[1].hash, "pruned checkpoint")
    report = verify_chain(chain[2:], anchor=anchor, checkpoints=[pruned], trusted_keys=PINNED)
    assert report.ok and report.checked == 3 and report.last_seq == 5
    wrong = verify_chain(chain[3:], anchor=anchor, checkpoints=[pruned], trusted_keys=PINNED)
    assert wrong.broken is not None and wrong.broken.kind == BreakKind.DELETED
    hidden = [*chain[:2], redact(chain[2]), *chain[3:]]
    report = verify_chain(hidden, trusted_keys=PINNED)
    assert report.broken is not None
    assert (report.broken.position, report.broken.kind) == (3, BreakKind.EDITED)
    assert "retention" in report.broken.detail


def test_unpinned_verification_warns() -> None:
    report = verify_chain(_chain(2))
    assert report.ok and report.warnings
    assert report.to_dict()["summary"].startswith("audit chain ok")
