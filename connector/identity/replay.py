"""An in-memory :class:`~connector.identity.tokens.ReplayStore` for one process (tests, tools).

Replicas must share :class:`connector.stores.replay_store.SqlReplayStore` instead.
"""

from __future__ import annotations

import datetime as dt
import threading

from connector.clock import Clock


class MemoryReplayStore:
    """Seen ``jti`` keys until their expiry; expired keys are dropped as new ones arrive."""

    def __init__(self, clock: Clock, *, max_entries: int = 1_000_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def remember(self, jti: str, expires_at: dt.datetime) -> bool:
        """``False`` if ``jti`` is recorded and not yet expired; records it otherwise."""
        now = self._clock.now().timestamp()
        with self._lock:
            known = self._seen.get(jti)
            if known is not None and known >= now:
                return False
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
                if len(self._seen) >= self._max:
                    return False
            self._seen[jti] = expires_at.timestamp()
            return True

    def __len__(self) -> int:
        return len(self._seen)
