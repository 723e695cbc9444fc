"""What we know about a caller: the trust list and its verified credentials (ParticipantFacts).

A caller is *trusted* when its DID is on the trust list (``CONNECTOR_TRUSTED_PARTICIPANTS`` or
the management API). Its credentials come from the DCP presentation flow
(:class:`connector.identity.presentations.PresentationClient`): only credentials from an issuer
in ``CONNECTOR_TRUSTED_ISSUERS``, about the caller, valid now and not revoked, become facts.
Policies decide what the facts are worth (``Facts.has_credential``); nothing here grants access.

Results are cached per (caller, scopes) for ``cache_seconds``; a failed presentation flow
yields facts without credentials (and is cached for a shorter time), never an exception — the
precise reason is logged and kept on :attr:`DcpParticipantFacts.last_failure` for the audit trail.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from connector.clock import Clock
from connector.controlplane.ports import Caller, CredentialFact, Facts
from connector.errors import ConnectorError
from connector.identity.scopes import normalise_scope

log = structlog.get_logger("connector.identity")

DEFAULT_CACHE_SECONDS = 60.0
FAILURE_CACHE_SECONDS = 10.0


class TrustStore(Protocol):
    def contains(self, did: str) -> bool: ...


class CredentialSource(Protocol):
    def credentials(self, caller: Caller, scopes: Sequence[str]) -> tuple[CredentialFact, ...]:
        """Verified credentials of ``caller`` for ``scopes``; ``ConnectorError`` with a reason
        when the flow fails."""
        ...


class TrustList:
    """Configured DIDs plus the ones kept in a store."""

    def __init__(self, configured: Iterable[str], store: TrustStore | None = None) -> None:
        self.configured = frozenset(configured)
        self._store = store

    def contains(self, did: str) -> bool:
        return did in self.configured or (self._store is not None and self._store.contains(did))


@dataclass(frozen=True)
class _Cached:
    expires: float
    facts: Facts


class DcpParticipantFacts:
    """:class:`~connector.controlplane.ports.ParticipantFacts` from the trust list and DCP."""

    def __init__(
        self,
        trust_list: TrustList,
        clock: Clock,
        *,
        credentials: CredentialSource | None = None,
        default_scopes: Sequence[str] = (),
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        failure_cache_seconds: float = FAILURE_CACHE_SECONDS,
        max_entries: int = 4096,
    ) -> None:
        self._trust = trust_list
        self._clock = clock
        self._credentials = credentials
        self._default_scopes = tuple(default_scopes)
        self._ttl = cache_seconds
        self._failure_ttl = failure_cache_seconds
        self._max = max_entries
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.last_failure: ConnectorError | None = None

    def facts(self, caller: Caller, *, scopes: Sequence[str] = ()) -> Facts:
        """Trust-list membership and verified credentials of ``caller``; ``scopes`` are DCP
        scopes or bare credential types (``MembershipCredential``)."""
        wanted = tuple(sorted({normalise_scope(s) for s in [*self._default_scopes, *scopes]}))
        trusted = self._trust.contains(caller.did)
        key = (caller.did, wanted)
        now = self._clock.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.expires > now:
                return Facts(caller.did, trusted, cached.facts.credentials)
        credentials: tuple[CredentialFact, ...] = ()
        ttl = self._ttl
        if self._credentials is not None and wanted:
            try:
                credentials = self._credentials.credentials(caller, wanted)
            except ConnectorError as exc:
                self.last_failure = exc
                ttl = self._failure_ttl
                log.info(
                    "presentation_refused",
                    participant=caller.did,
                    reason=exc.reason,
                    detail=exc.detail,
                )
        facts = Facts(caller.did, trusted, credentials)
        if ttl > 0:
            with self._lock:
                self._cache[key] = _Cached(self._clock.monotonic() + ttl, facts)
                self._cache.move_to_end(key)
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return facts

    def forget(self, did: str) -> None:
        """Drop cached facts of ``did`` (after a trust-list change)."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == did]:
                del self._cache[key]
