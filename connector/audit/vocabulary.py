"""The audit trail's typed vocabulary: which events exist, which results, which details each needs.

Every decision and access the connector makes is one of these event types. The details a type
requires are checked when an event is built, so a caller cannot forget the number of bytes of a
data access or the reason of an authentication failure. Details hold identifiers, counts,
digests and short explanations, never payloads (see ``docs/audit.md``).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What happened (dotted, ``<subject>.<verb>``)."""

    CATALOG_REQUESTED = "catalog.requested"
    """A partner asked for the catalogue: how many datasets were shown and hidden."""
    NEGOTIATION_STATE_CHANGED = "negotiation.state_changed"
    """A contract negotiation moved (``from``/``to`` state and the DSP message that moved it)."""
    TRANSFER_STATE_CHANGED = "transfer.state_changed"
    """A transfer process moved (``from``/``to`` state and the DSP message)."""
    POLICY_DECIDED = "policy.decided"
    """A policy was evaluated: the decision, the compliance report's digest, the explanation."""
    AUTH_FAILED = "auth.failed"
    """A request was refused for its authentication (token, signature, credential, API key)."""
    DATA_ACCESSED = "data.accessed"
    """A data pull: agreement, dataset, bytes, duration and result."""
    POLICY_CHANGED = "policy.changed"
    """A policy was created, changed or withdrawn (old and new version hashes)."""
    DATASET_CHANGED = "dataset.changed"
    """A dataset's description was created, changed or withdrawn (old and new hashes)."""
    TRUST_LIST_CHANGED = "trust_list.changed"
    """The trusted participants or issuers changed (old and new list hashes)."""
    CREDENTIAL_CHANGED = "credential.changed"
    """A credential of this participant was issued, renewed or revoked."""
    KEY_ROTATED = "key.rotated"
    """A signing key was replaced (old and new key ids or thumbprints)."""
    AUDIT_PRUNED = "audit.pruned"
    """Retention removed old entries or their bodies (written by the audit store itself)."""


class Result(StrEnum):
    """How it ended."""

    OK = "ok"
    """Done or allowed."""
    DENIED = "denied"
    """Refused by a rule: policy, trust, authentication, limits."""
    ERROR = "error"
    """Failed for a technical reason (peer unreachable, source failing)."""


REQUIRED_DETAILS: dict[EventType, frozenset[str]] = {
    EventType.CATALOG_REQUESTED: frozenset({"shown", "hidden"}),
    EventType.NEGOTIATION_STATE_CHANGED: frozenset({"from", "to", "message"}),
    EventType.TRANSFER_STATE_CHANGED: frozenset({"from", "to", "message"}),
    EventType.POLICY_DECIDED: frozenset({"decision", "report_digest", "explanation"}),
    EventType.AUTH_FAILED: frozenset({"reason"}),
    EventType.DATA_ACCESSED: frozenset({"bytes", "duration_ms"}),
    EventType.POLICY_CHANGED: frozenset({"policy", "old_hash", "new_hash"}),
    EventType.DATASET_CHANGED: frozenset({"old_hash", "new_hash"}),
    EventType.TRUST_LIST_CHANGED: frozenset({"list", "old_hash", "new_hash"}),
    EventType.CREDENTIAL_CHANGED: frozenset({"credential", "change"}),
    EventType.KEY_ROTATED: frozenset({"old_key", "new_key"}),
    EventType.AUDIT_PRUNED: frozenset({"deleted_up_to", "deleted", "redacted"}),
}
"""The keys each event type's ``details`` must contain (more are allowed)."""

INTEGER_DETAILS: frozenset[str] = frozenset({"shown", "hidden", "bytes", "deleted"})
"""Details that must be non-negative integers when present."""
