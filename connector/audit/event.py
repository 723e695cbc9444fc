"""Audit events and chained entries, with their canonical serialisation (JCS, RFC 8785).

An :class:`AuditEvent` is what a caller records. Sealed into the chain it becomes an
:class:`AuditEntry` with a sequence number, a time, the hash of its predecessor and its own hash.

Two digests make an entry (all SHA-256, lowercase hex)::

    body_digest = sha256(JCS({"actor", "participant", "dataset", "agreement", "process",
                              "result", "details"}))
    hash        = sha256(JCS({"v": 1, "seq", "prev", "time", "type", "body": body_digest}))

The chain runs over the *header* (``hash`` covers ``prev``), and the header covers the body
through its digest. Retention can therefore remove an old entry's body (the personal-data-adjacent
part) and keep its header: the chain still verifies, and the removal shows (``redacted``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import rfc8785

from connector.audit.vocabulary import INTEGER_DETAILS, REQUIRED_DETAILS, EventType, Result
from connector.errors import Invalid

GENESIS = "0" * 64
"""The ``prev`` hash of the first entry of a chain."""

FORMAT_VERSION = 1
MAX_DETAILS_BYTES = 8192
"""Canonical details larger than this are refused: the log keeps digests, not payloads."""
MAX_IDENTIFIER = 1024

_BODY_FIELDS = ("actor", "participant", "dataset", "agreement", "process", "result", "details")


_SAFE_INT = 2**53


def _plain(value: Any) -> bool:
    """Whether ``json.dumps(sort_keys=True)`` gives the JCS form: no floats, safe integers,
    and object keys that sort the same by code point as by UTF-16 unit (below U+D800).
    Iterative (a hot path: every audit event and report digest passes here)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if not -_SAFE_INT < item < _SAFE_INT:
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not (key.isascii() or max(key) < "\ud800"):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif isinstance(item, str | bool):  # subclasses (StrEnum …) encode like their base
            continue
        elif isinstance(item, int):
            if not -_SAFE_INT < item < _SAFE_INT:
                return False
        elif isinstance(item, dict):
            stack.append(dict(item))
        elif isinstance(item, list):
            stack.append(list(item))
        else:
            return False
    return True


def canonical(value: Any) -> bytes:
    """JCS (RFC 8785) bytes of a JSON value; :class:`Invalid` if it is not one.

    Values without floats take a fast path through orjson (sorted keys, no whitespace, no ASCII
    escaping, control characters escaped as JCS does), which produces the same bytes (a property
    test compares both); the rest go through ``rfc8785``.
    """
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass  # a lone surrogate (not UTF-8): let rfc8785 refuse it
    try:
        data: bytes = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise Invalid(f"not canonicalisable JSON: {exc}", reason="audit_details") from exc
    return data


def _jcs_string(value: str | None) -> bytes:
    """JCS of a string or null (JSON escaping as :func:`canonical`'s fast path does)."""
    if value is None:
        return b"null"
    return orjson.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_time(at: dt.datetime) -> str:
    """``2026-01-01T00:00:00.000000Z``: UTC, microseconds, fixed width (sorts as text)."""
    if at.tzinfo is None:
        raise Invalid("audit times must carry a time zone", reason="naive_time")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened, before it is sealed into the chain.

    ``actor`` is who acted (a participant DID, ``management``, ``auditor`` or ``system``);
    ``participant`` the partner concerned (DID), ``dataset``, ``agreement`` and ``process``
    the identifiers it concerns; ``details`` what the event type requires (see
    :data:`connector.audit.vocabulary.REQUIRED_DETAILS`).
    """

    type: EventType
    actor: str
    result: Result = Result.OK
    participant: str | None = None
    dataset: str | None = None
    agreement: str | None = None
    process: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    _details_jcs: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType(self.type))
        object.__setattr__(self, "result", Result(self.result))
        object.__setattr__(self, "details", dict(self.details))
        if not self.actor:
            raise Invalid("an audit event needs an actor", reason="audit_actor")
        for name in ("actor", "participant", "dataset", "agreement", "process"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_IDENTIFIER):
                raise Invalid(f"audit {name} must be a string up to {MAX_IDENTIFIER} characters")
        missing = REQUIRED_DETAILS[self.type] - set(self.details)
        if missing:
            raise Invalid(
                f"{self.type} needs details {', '.join(sorted(missing))}",
                reason="audit_details",
            )
        for key in INTEGER_DETAILS & set(self.details):
            value = self.details[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise Invalid(f"audit detail {key} must be a non-negative integer")
        details_jcs = canonical(self.details)
        object.__setattr__(self, "_details_jcs", details_jcs)
        if len(details_jcs) > MAX_DETAILS_BYTES:
            raise Invalid(
                f"audit details over {MAX_DETAILS_BYTES} bytes: store a digest, not the payload",
                reason="audit_details",
            )

    def details_jcs(self) -> bytes:
        """``canonical(self.details)``, computed once when the event was made."""
        return self._details_jcs

    def body_jcs(self) -> bytes:
        """``canonical(self.body())``, assembled from the details' JCS bytes computed once
        (the body's keys are fixed and ASCII, so their order is known)."""
        try:
            parts = [
                b'{"actor":',
                _jcs_string(self.actor),
                b',"agreement":',
                _jcs_string(self.agreement),
                b',"dataset":',
                _jcs_string(self.dataset),
                b',"details":',
                self._details_jcs,
                b',"participant":',
                _jcs_string(self.participant),
                b',"process":',
                _jcs_string(self.process),
                b',"result":',
                _jcs_string(str(self.result)),
                b"}",
            ]
        except TypeError:  # a lone surrogate: canonical() refuses it with its error
            return canonical(self.body())
        return b"".join(parts)

    def body(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "participant": self.participant,
            "dataset": self.dataset,
            "agreement": self.agreement,
            "process": self.process,
            "result": str(self.result),
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An event sealed into the chain. ``redacted`` entries keep their header only.

    ``type`` and ``result`` are plain strings here: an entry read back from storage is
    verified as it is, even if someone wrote a value outside the vocabulary.
    """

    seq: int
    prev_hash: str
    hash: str
    time: str
    type: str
    body_digest: str
    actor: str | None = None
    participant: str | None = None
    dataset: str | None = None
    agreement: str | None = None
    process: str | None = None
    result: str | None = None
    details: Mapping[str, Any] | None = None
    redacted: bool = False

    @property
    def instant(self) -> dt.datetime:
        return dt.datetime.strptime(self.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)

    def body(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "participant": self.participant,
            "dataset": self.dataset,
            "agreement": self.agreement,
            "process": self.process,
            "result": self.result,
            "details": dict(self.details) if self.details is not None else None,
        }

    def header(self) -> dict[str, Any]:
        return header(self.seq, self.prev_hash, self.time, self.type, self.body_digest)

    def to_record(self) -> dict[str, Any]:
        """The entry as a flat JSON object (export line, API item)."""
        record: dict[str, Any] = {
            "seq": self.seq,
            "time": self.time,
            "type": self.type,
            "redacted": self.redacted,
        }
        if self.redacted:
            record.update(dict.fromkeys(_BODY_FIELDS))
        else:
            record.update(self.body())
        record.update(
            {"prev_hash": self.prev_hash, "body_digest": self.body_digest, "hash": self.hash}
        )
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AuditEntry:
        """Read :meth:`to_record` output back (field types checked, hashes not)."""
        try:
            seq = record["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise TypeError("seq")
            strings: dict[str, Any] = {
                name: record[name] for name in ("prev_hash", "hash", "time", "type", "body_digest")
            }
            if not all(isinstance(v, str) for v in strings.values()):
                raise TypeError("header")
            redacted = bool(record.get("redacted", False))
            optional: dict[str, Any] = {
                name: record.get(name) for name in _BODY_FIELDS if name != "details"
            }
            if not all(v is None or isinstance(v, str) for v in optional.values()):
                raise TypeError("body")
            details = record.get("details")
            if details is not None and not isinstance(details, Mapping):
                raise TypeError("details")
        except (KeyError, TypeError) as exc:
            raise Invalid(f"not an audit entry record ({exc})", reason="audit_record") from exc
        return cls(seq=seq, redacted=redacted, details=details, **strings, **optional)


def header(seq: int, prev_hash: str, time: str, type_: str, body_digest: str) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "seq": seq,
        "prev": prev_hash,
        "time": time,
        "type": type_,
        "body": body_digest,
    }


def body_digest(body: Mapping[str, Any]) -> str:
    return sha256_hex(canonical(dict(body)))


def entry_hash(seq: int, prev_hash: str, time: str, type_: str, digest: str) -> str:
    return sha256_hex(canonical(header(seq, prev_hash, time, type_, digest)))


def seal(event: AuditEvent, *, seq: int, prev_hash: str, at: dt.datetime) -> AuditEntry:
    """Chain ``event`` after the entry whose hash is ``prev_hash``."""
    time = format_time(at)
    digest = sha256_hex(event.body_jcs())
    return AuditEntry(
        seq=seq,
        prev_hash=prev_hash,
        hash=entry_hash(seq, prev_hash, time, str(event.type), digest),
        time=time,
        type=str(event.type),
        body_digest=digest,
        actor=event.actor,
        participant=event.participant,
        dataset=event.dataset,
        agreement=event.agreement,
        process=event.process,
        result=str(event.result),
        details=dict(event.details),
    )


def redact(entry: AuditEntry) -> AuditEntry:
    """The entry without its body (header and digests kept)."""
    return AuditEntry(
        seq=entry.seq,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        time=entry.time,
        type=entry.type,
        body_digest=entry.body_digest,
        redacted=True,
    )


def self_consistent(entry: AuditEntry, *, seq: int | None = None) -> bool:
    """Whether the entry's body matches its digest and its header its hash.

    ``seq`` recomputes the hash as if the entry stood at another position (used to tell an
    inserted or reordered entry from an edited one).
    """
    if not entry.redacted:
        try:
            if body_digest(entry.body()) != entry.body_digest:
                return False
        except Invalid:
            return False
    position = entry.seq if seq is None else seq
    try:
        recomputed = entry_hash(
            position, entry.prev_hash, entry.time, entry.type, entry.body_digest
        )
    except Invalid:
        return False
    return recomputed == entry.hash
