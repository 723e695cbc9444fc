"""The thread budget of a server process: waiting DSP requests cannot take every worker."""

from __future__ import annotations

from connector.controlplane.settling import MAX_WAITING
from connector.web.controlplane import DSP_WORKERS


def test_workers_stay_free_while_messages_wait_for_an_outcome() -> None:
    assert DSP_WORKERS - MAX_WAITING >= 2
