from __future__ import annotations

from connector.audit.query import AuditQuery
from connector.audit.sink import AuditSink, MemoryAuditSink, NullAuditSink
from connector.audit.vocabulary import EventType, Result
from connector.clock import FixedClock


def _use(sink: AuditSink) -> None:
    sink.record(
        EventType.NEGOTIATION_STATE_CHANGED,
        actor="did:web:c.example",
        participant="did:web:c.example",
        process="urn:uuid:n1",
        details={"from": "REQUESTED", "to": "AGREED", "message": "ContractAgreementMessage"},
    )
    sink.record(
        EventType.AUTH_FAILED,
        actor="unknown",
        result=Result.DENIED,
        details={"reason": "bad_token"},
    )


def test_memory_sink_keeps_a_real_chain() -> None:
    sink = MemoryAuditSink(FixedClock())
    _use(sink)
    assert sink.types() == ["negotiation.state_changed", "auth.failed"]
    assert sink.entries[1].prev_hash == sink.entries[0].hash
    assert sink.verify().ok
    denied = [e for e in sink.entries if AuditQuery(result=Result.DENIED).matches(e)]
    assert [e.seq for e in denied] == [2]
    assert not AuditQuery(process="urn:uuid:other").matches(sink.entries[0])


def test_null_sink_records_nothing() -> None:
    sink = NullAuditSink(FixedClock())
    _use(sink)
    entry = sink.record(
        EventType.KEY_ROTATED, actor="system", details={"old_key": "a", "new_key": "b"}
    )
    assert entry.seq == 0 and entry.type == "key.rotated"
