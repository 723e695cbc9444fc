"""Tamper-evident audit trail: hash-chained events, signed checkpoints, verification, exports."""
