"""DCP self-issued ID tokens: issue them for outgoing DSP calls, verify them on incoming ones.

A self-issued ID token (DCP v1.0, "Base Concepts") is a compact JWS signed with one of the
participant's keys, header ``kid`` = a verification method of its DID document (DCP lets a
token omit ``kid`` when that document has exactly one method; we accept that too), claims
``iss`` = ``sub`` = its DID, ``aud`` = the verifier's DID, ``jti``, ``iat``, ``exp`` and
optionally ``token``: an access token the verifier presents at our Credential Service to obtain
our credentials (see :mod:`connector.identity.credential_service`).

:class:`SelfIssuedAuthenticator` refuses, with ``Unauthorized`` and a precise ``reason``:

=========================  ==================================================================
reason                     meaning
=========================  ==================================================================
``missing_token``          no ``Authorization`` header
``malformed_authorization``  not ``Bearer <jwt>``
``malformed_jwt``          not a compact JWS / not JSON / no ``kid`` (and no ``iss`` DID)
``ambiguous_key``          no ``kid``, and the issuer's DID document has several methods
``alg_not_allowed``        ``none``, ``HS*`` or an algorithm that does not fit the key
``bad_typ``                an access token (``at+jwt``) or a credential used as an ID token
``bad_signature``          the signature does not verify with the ``kid``'s key
``issuer_mismatch``        ``iss`` != ``sub``, or the ``kid`` belongs to another DID
``audience_mismatch``      ``aud`` is not our DID
``missing_claim``          ``iss``/``sub``/``aud``/``jti``/``iat``/``exp`` absent or mistyped
``expired``                ``exp`` (plus skew) has passed
``issued_in_future``       ``iat`` (minus skew) is after now, or ``nbf`` is in the future
``lifetime_too_long``      ``exp - iat`` over the maximum lifetime (5 minutes)
``replayed_jti``           this ``jti`` of this issuer was seen within its lifetime
(resolver reasons)         ``method_not_authorized``, ``unknown_did``, ``did_unavailable``,
                           ``did_document_too_large``, ``bad_did_document`` …
=========================  ==================================================================

The web layer answers every one of them with the same generic 401 body; the reason goes to
the log and the audit trail.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from connector.clock import Clock
from connector.controlplane.ports import Caller
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jose import sign_jws, verify_jws
from connector.credentials.keys import KeyKind, KeySet
from connector.credentials.methods import Relationship, VerificationMethod
from connector.errors import Unauthorized, VerificationFailed
from connector.identity.scopes import normalise_scope

MAX_LIFETIME_SECONDS = 300
MAX_TOKEN_BYTES = 16 * 1024
MAX_JTI_LENGTH = 256
ID_TOKEN_TYPS = frozenset({"jwt"})
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type, not a secret
TOKEN_RELATIONSHIPS: tuple[Relationship, ...] = ("capabilityInvocation", "authentication")
"""DCP asks for ``capabilityInvocation``; ``authentication`` is accepted too (decision record)."""


class ReplayStore(Protocol):
    def remember(self, jti: str, expires_at: dt.datetime) -> bool:
        """Record ``jti`` until ``expires_at``; ``False`` if it was already recorded (a replay).

        Must be atomic across the replicas that share the store. A store may defer the record
        to a transaction of the caller's work that follows (the SQL store inside a carpool):
        it answers ``True`` then, and a replay fails that work with ``Unauthorized``
        (``replayed_jti``)."""
        ...


def _bearer(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise Unauthorized("no Authorization header", reason="missing_token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized(
            "Authorization is not 'Bearer <token>'", reason="malformed_authorization"
        )
    return token


def _number(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"claim {name} is missing or not a number", reason="missing_claim")
    return int(value)


def _string(claims: Mapping[str, Any], name: str, limit: int = 2048) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Unauthorized(f"claim {name} is missing or not a string", reason="missing_claim")
    return value


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    raise Unauthorized("claim aud is missing or not a string", reason="missing_claim")


def _peek(segment: str) -> dict[str, Any] | None:
    """An *unverified* JWS header or payload, or ``None`` if it is not a JSON object."""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def replay_key(issuer: str, jti: str) -> str:
    """The replay-store key of a token: one issuer cannot burn another issuer's ``jti``."""
    return hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()


class _AnyRelationship:
    """A method resolver accepting the first relationship of ``relationships`` that lists it."""

    def __init__(self, resolver: DidResolver, relationships: Sequence[Relationship]) -> None:
        self._resolver = resolver
        self._relationships = relationships

    def __call__(self, method_id: str, relationship: Relationship) -> VerificationMethod:
        failure: VerificationFailed | None = None
        for candidate in self._relationships:
            try:
                return self._resolver(method_id, candidate)
            except VerificationFailed as exc:
                if exc.reason != "method_not_authorized":
                    raise
                failure = failure or exc
        assert failure is not None
        raise failure


def check_times(
    claims: Mapping[str, Any],
    now: dt.datetime,
    *,
    skew_seconds: float,
    max_lifetime_seconds: int = MAX_LIFETIME_SECONDS,
) -> tuple[int, int]:
    """``(iat, exp)`` of a token that is valid at ``now``; ``Unauthorized`` otherwise."""
    iat, exp = _number(claims, "iat"), _number(claims, "exp")
    instant = now.timestamp()
    if instant > exp + skew_seconds:
        raise Unauthorized("token expired", reason="expired")
    if iat > instant + skew_seconds:
        raise Unauthorized("token issued in the future", reason="issued_in_future")
    if "nbf" in claims and _number(claims, "nbf") > instant + skew_seconds:
        raise Unauthorized("token not yet valid (nbf)", reason="issued_in_future")
    if exp - iat > max_lifetime_seconds or exp < iat:
        raise Unauthorized(
            f"token lifetime {exp - iat}s is over {max_lifetime_seconds}s",
            reason="lifetime_too_long",
        )
    return iat, exp


class SelfIssuedTokenSource:
    """Issues our self-issued ID tokens (a :class:`~connector.controlplane.ports.TokenSource`).

    ``default_scopes`` are granted in a ``token`` claim on every token (the callee cannot tell
    us beforehand which credentials its policies need); ``token_for(…, scopes=…)`` adds more.
    """

    def __init__(
        self,
        keyset: KeySet,
        clock: Clock,
        *,
        lifetime_seconds: int = 300,
        kind: KeyKind = "p256",
        default_scopes: Sequence[str] = (),
        jti: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ) -> None:
        if not 0 < lifetime_seconds <= MAX_LIFETIME_SECONDS:
            raise ValueError(f"lifetime must be within 1..{MAX_LIFETIME_SECONDS} seconds")
        self._keyset = keyset
        self._clock = clock
        self._lifetime = lifetime_seconds
        self._kind: KeyKind = kind
        self._default_scopes = tuple(default_scopes)
        self._jti = jti
        self._access: dict[tuple[str, tuple[str, ...]], tuple[str, int]] = {}
        self._access_lock = threading.Lock()

    @property
    def did(self) -> str:
        return self._keyset.did

    def _claims(self, audience_did: str, scopes: Sequence[str] | None) -> dict[str, Any]:
        iat = int(self._clock.now().timestamp())
        did = self._keyset.did
        claims: dict[str, Any] = {
            "iss": did,
            "sub": did,
            "aud": audience_did,
            "jti": self._jti(),
            "iat": iat,
            "exp": iat + self._lifetime,
        }
        if scopes is not None:
            claims["scope"] = " ".join(scopes)
        return claims

    def _sign(self, claims: Mapping[str, Any], typ: str) -> str:
        return sign_jws(
            claims,
            key=self._keyset.key(self._kind),
            kid=self._keyset.method_id(self._kind),
            typ=typ,
        )

    def access_token(self, audience_did: str, scopes: Sequence[str]) -> str:
        """An access token (``at+jwt``) letting ``audience_did`` query our Credential Service
        for ``scopes`` (checked by :meth:`CredentialService.granted_scopes
        <connector.identity.credential_service.CredentialService.granted_scopes>`)."""
        return self._sign(self._claims(audience_did, scopes), ACCESS_TOKEN_TYP)

    def issue(self, audience_did: str, *, token: str | None = None) -> str:
        """A compact self-issued ID token for ``audience_did`` (with a ``token`` claim if given)."""
        claims = self._claims(audience_did, None)
        if token is not None:
            claims["token"] = token
        return self._sign(claims, "JWT")

    def token_for(self, audience_did: str, *, scopes: Sequence[str] = ()) -> str:
        """``Bearer <self-issued ID token>`` for ``audience_did``; a ``token`` claim grants it
        ``default_scopes`` + ``scopes`` at our Credential Service."""
        granted = list(dict.fromkeys(normalise_scope(s) for s in [*self._default_scopes, *scopes]))
        access = self._reusable_access_token(audience_did, granted) if granted else None
        return "Bearer " + self.issue(audience_did, token=access)

    def _reusable_access_token(self, audience_did: str, scopes: list[str]) -> str:
        """An access token for ``audience_did`` and ``scopes``, reused while more than half of
        its lifetime is left (it is bound to its audience and may be presented repeatedly;
        the ID token around it is fresh every time)."""
        key = (audience_did, tuple(scopes))
        now = int(self._clock.now().timestamp())
        with self._access_lock:
            cached = self._access.get(key)
            if cached is not None and now + self._lifetime // 2 < cached[1]:
                return cached[0]
        claims = self._claims(audience_did, scopes)
        token = self._sign(claims, ACCESS_TOKEN_TYP)
        with self._access_lock:
            if len(self._access) >= 1024:
                self._access.clear()
            self._access[key] = (token, int(claims["exp"]))
        return token


class SelfIssuedAuthenticator:
    """Verifies incoming self-issued ID tokens (an :class:`~connector.controlplane.ports.
    Authenticator`): signature against the caller's DID document (cached resolver), claims,
    clock skew, algorithm allow-list, one use per ``jti``."""

    def __init__(
        self,
        resolver: DidResolver,
        own_did: str,
        replay: ReplayStore,
        clock: Clock,
        *,
        skew_seconds: int = 30,
        max_lifetime_seconds: int = MAX_LIFETIME_SECONDS,
    ) -> None:
        self._resolver = resolver
        self._methods = _AnyRelationship(resolver, TOKEN_RELATIONSHIPS)
        self._own_did = own_did
        self._replay = replay
        self._clock = clock
        self._skew = skew_seconds
        self._max_lifetime = max_lifetime_seconds

    def verify(self, token: str) -> Caller:
        """Verify a compact self-issued ID token (without the ``Bearer`` prefix)."""
        try:
            verified = verify_jws(
                token,
                resolver=self._methods,
                relationship="capabilityInvocation",
                typs=None,
                max_bytes=MAX_TOKEN_BYTES,
                default_kid=self._implicit_kid(token),
            )
        except VerificationFailed as exc:
            raise Unauthorized(exc.detail, reason=exc.reason) from exc
        typ = verified.header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ID_TOKEN_TYPS):
            raise Unauthorized(f"typ {str(typ)[:40]!r} is not an ID token", reason="bad_typ")
        claims = verified.payload
        iss, sub = _string(claims, "iss"), _string(claims, "sub")
        if iss != sub:
            raise Unauthorized("iss and sub differ", reason="issuer_mismatch")
        if verified.method.controller != iss:
            raise Unauthorized(
                f"{verified.method.id} is not a key of {iss[:80]}", reason="issuer_mismatch"
            )
        if self._own_did not in _audiences(claims):
            raise Unauthorized("token is for another audience", reason="audience_mismatch")
        jti = _string(claims, "jti", MAX_JTI_LENGTH)
        _, exp = check_times(
            claims,
            self._clock.now(),
            skew_seconds=self._skew,
            max_lifetime_seconds=self._max_lifetime,
        )
        expires_at = dt.datetime.fromtimestamp(exp + self._skew, tz=dt.UTC)
        if not self._replay.remember(replay_key(iss, jti), expires_at):
            raise Unauthorized(
                f"jti {jti[:40]!r} of {iss[:80]} was used before", reason="replayed_jti"
            )
        return Caller(did=iss, claims=dict(claims))

    def _implicit_kid(self, token: str) -> str | None:
        """DCP: a token without ``kid`` is verified with the *only* verification method of its
        issuer's DID document (listed for a token relationship — checked by the resolver);
        ``None`` when the token has a ``kid`` or cannot be read (``verify_jws`` reports it).
        ``ambiguous_key`` when the document has more than one method."""
        parts = token.split(".") if len(token) <= MAX_TOKEN_BYTES else []
        header = _peek(parts[0]) if len(parts) == 3 else None
        if header is None or "kid" in header:
            return None
        payload = _peek(parts[1])
        issuer = None if payload is None else payload.get("iss")
        if not isinstance(issuer, str) or not issuer.startswith("did:"):
            return None
        document = self._resolver.resolve(issuer)
        methods = set(document.methods) | set(document.rejected)
        if len(methods) != 1:
            raise VerificationFailed(
                f"no kid, and {issuer[:80]} has {len(methods)} verification methods",
                reason="ambiguous_key",
            )
        return methods.pop()

    def authenticate(self, authorization: str | None) -> Caller:
        """Verify an ``Authorization: Bearer <self-issued ID token>`` header value."""
        return self.verify(_bearer(authorization))
