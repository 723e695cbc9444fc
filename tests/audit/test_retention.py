from __future__ import annotations

import datetime as dt

import pytest

from connector.audit.retention import RetentionPolicy, parse_rules
from connector.audit.vocabulary import EventType
from connector.errors import Invalid

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_cutoffs() -> None:
    policy = RetentionPolicy(
        delete_after=dt.timedelta(days=365),
        redact_after=parse_rules(["data.accessed=90", "auth.failed=30"]),
    )
    cut = policy.cutoffs(NOW)
    assert cut.delete_before == "2025-06-01T00:00:00.000000Z"
    assert cut.redact_before == {
        "auth.failed": "2026-05-02T00:00:00.000000Z",
        "data.accessed": "2026-03-03T00:00:00.000000Z",
    }
    assert RetentionPolicy().cutoffs(NOW).delete_before is None


@pytest.mark.parametrize("rule", ["data.accessed", "data.accessed=0", "nope=3", "auth.failed=x"])
def test_bad_rules(rule: str) -> None:
    with pytest.raises(Invalid):
        parse_rules([rule])


def test_bad_policies() -> None:
    with pytest.raises(Invalid):
        RetentionPolicy(delete_after=dt.timedelta(0))
    with pytest.raises(Invalid):
        RetentionPolicy(redact_after={EventType.AUDIT_PRUNED: dt.timedelta(days=1)})
