"""Access tokens for HTTP pull: opaque, short-lived, bound to one transfer, stored hashed.

A token is ``kkdp_`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored (the
:class:`TokenStore` port, shared by replicas through the database), with the transfer,
agreement, consumer DID and dataset it is bound to, its expiry and a revocation time.
Verification hashes the presented token, looks the grant up and compares the hashes in
constant time; an unknown, expired or revoked token is :class:`Unauthorized` with one generic
message (the precise reason goes to the audit trail). Tokens are never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from connector.clock import Clock
from connector.errors import Unauthorized

PREFIX = "kkdp_"
DEFAULT_LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class Grant:
    """What a token allows: one transfer's data, for one consumer, until ``expires_at``."""

    transfer_id: str
    agreement_id: str
    consumer_did: str
    dataset_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None


class TokenStore(Protocol):
    """Grants by token hash; a grant travels as a mapping of the :class:`Grant` fields."""

    def save(self, token_hash: str, grant: Mapping[str, Any]) -> None:
        """Store a new grant under the token's hash."""
        ...

    def find(self, token_hash: str) -> tuple[str, Mapping[str, Any]] | None:
        """``(stored hash, grant fields)`` for a token hash, or None."""
        ...

    def revoke_transfer(self, transfer_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked token of a transfer; returns how many."""
        ...

    def revoke(self, token_hash: str, at: dt.datetime) -> None:
        """Revoke one token."""
        ...


def token_hash(token: str) -> str:
    """The stored form of a token (SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenRefused(Unauthorized):
    """A token that does not grant access; ``cause`` is the precise reason (for the audit)."""

    def __init__(self, cause: str, grant: Grant | None = None) -> None:
        super().__init__("authentication failed", reason="invalid_token")
        self.cause = cause
        self.grant = grant


class AccessTokens:
    """Issue, verify, renew and revoke pull tokens."""

    def __init__(
        self, store: TokenStore, clock: Clock, *, lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS
    ) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = dt.timedelta(seconds=lifetime_seconds)

    def issue(
        self, *, transfer_id: str, agreement_id: str, consumer_did: str, dataset_id: str
    ) -> tuple[str, Grant]:
        """A new token and its grant (expires after the lifetime)."""
        now = self.clock.now()
        grant = Grant(transfer_id, agreement_id, consumer_did, dataset_id, now, now + self.lifetime)
        token = PREFIX + secrets.token_urlsafe(32)
        self.store.save(token_hash(token), asdict(grant))
        return token, grant

    def verify(self, token: str | None) -> Grant:
        """The grant of a valid token; :class:`TokenRefused` otherwise."""
        if not token or not token.startswith(PREFIX) or len(token) > 200:
            raise TokenRefused("malformed_token")
        digest = token_hash(token)
        found = self.store.find(digest)
        if found is None:
            raise TokenRefused("unknown_token")
        stored, fields = found
        grant = Grant(**fields)
        if not hmac.compare_digest(stored.encode(), digest.encode()):
            raise TokenRefused("unknown_token")
        if grant.revoked_at is not None:
            raise TokenRefused("revoked_token", grant)
        if self.clock.now() >= grant.expires_at:
            raise TokenRefused("expired_token", grant)
        return grant

    def renew(self, token: str | None) -> tuple[str, Grant]:
        """Exchange a valid token for a fresh one (the old one is revoked).

        The caller checks that the transfer is still STARTED."""
        grant = self.verify(token)
        assert token is not None
        self.store.revoke(token_hash(token), self.clock.now())
        now = self.clock.now()
        fresh = replace(grant, issued_at=now, expires_at=now + self.lifetime, revoked_at=None)
        new_token = PREFIX + secrets.token_urlsafe(32)
        self.store.save(token_hash(new_token), asdict(fresh))
        return new_token, fresh

    def revoke(self, transfer_id: str) -> int:
        """Stop every token of a transfer at once (all replicas read the same store)."""
        return self.store.revoke_transfer(transfer_id, self.clock.now())
