"""Proof that one entry is part of the signed chain: its neighbours and the path to a checkpoint.

A proof carries the entry, the headers of its predecessor and of every entry after it up to the
nearest signed checkpoint at or after it (headers hold digests, not bodies), and that checkpoint.
Anyone can check it with :func:`check_proof`: the entry matches its hash, each header links to
the one before, the last hash is the checkpoint's head, and the checkpoint's signature holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.audit import checkpoint as cpmod
from connector.audit.checkpoint import Checkpoint
from connector.audit.event import AuditEntry, entry_hash, self_consistent

MAX_PATH = 10_000
"""Longest path a proof carries; farther checkpoints are not used."""


def header_record(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "time": entry.time,
        "type": entry.type,
        "body_digest": entry.body_digest,
        "hash": entry.hash,
    }


@dataclass(frozen=True)
class Proof:
    entry: AuditEntry
    previous: AuditEntry | None
    path: Sequence[AuditEntry]
    """The entries after ``entry`` up to and including the checkpoint's (headers are used)."""
    checkpoint: Checkpoint | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_record(),
            "previous": None if self.previous is None else header_record(self.previous),
            "next": header_record(self.path[0]) if self.path else None,
            "path": [header_record(e) for e in self.path],
            "checkpoint": None if self.checkpoint is None else self.checkpoint.to_record(),
        }


def check_proof(
    proof: Mapping[str, Any], trusted_keys: Mapping[str, Mapping[str, Any]] | None
) -> str | None:
    """``None`` if the proof (as :meth:`Proof.to_dict`) holds, else what fails."""
    entry = AuditEntry.from_record(proof["entry"])
    if not self_consistent(entry):
        return "the entry does not match its hash"
    previous = proof.get("previous")
    if previous is not None and previous.get("hash") != entry.prev_hash:
        return "the entry does not link to its predecessor"
    cp_record = proof.get("checkpoint")
    if cp_record is None:
        return "no signed checkpoint covers the entry yet"
    checkpoint = Checkpoint.from_record(cp_record)
    problem = cpmod.check(checkpoint, trusted_keys)
    if problem is not None:
        return problem
    seq, current = entry.seq, entry.hash
    for header in proof.get("path", []):
        recomputed = entry_hash(
            header["seq"],
            header["prev_hash"],
            header["time"],
            header["type"],
            header["body_digest"],
        )
        if (
            header["seq"] != seq + 1
            or header["prev_hash"] != current
            or recomputed != header["hash"]
        ):
            return f"the path breaks at {header['seq']}"
        seq, current = seq + 1, recomputed
    if seq != checkpoint.seq or current != checkpoint.head:
        return "the path does not end at the checkpoint's head"
    return None
