"""Our DCP Credential Service: answer a verifier's ``PresentationQueryMessage`` (our credentials).

The verifier authenticates with its own self-issued ID token (checked by the route with the
runtime's authenticator) whose ``token`` claim carries the access token *we* issued to it
(:meth:`SelfIssuedTokenSource.access_token`, ``typ`` ``at+jwt``): signed by our key,
``iss`` = ``sub`` = our DID, ``aud`` = the verifier's DID, ``scope`` = the granted scopes,
at most five minutes old. The query's scopes must all be granted. The answer is a
``PresentationResponseMessage`` with one ``vp+jwt`` (our ``vc+jwt`` credentials, enveloped) and/or
one Data Integrity presentation (our DI credentials), both bound to the verifier's DID
(``aud`` / proof ``domain``) and valid five minutes.

Refusals: ``Unauthorized`` (``no_access_token``, ``bad_access_token`` and the token reasons),
``Forbidden`` (``scope_not_granted``), ``Invalid`` (``bad_query``, ``invalid_scope``) and
:class:`NotImplementedQuery` (``presentation_definition_not_supported``: DCP says a Credential
Service that does not support ``presentationDefinition`` MUST answer ``501 Not Implemented``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from connector.clock import Clock
from connector.controlplane.ports import Caller
from connector.credentials import data_integrity, jose
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import PinnedLoader
from connector.credentials.keys import KeySet
from connector.errors import (
    ConnectorError,
    Forbidden,
    Invalid,
    Unauthorized,
    VerificationFailed,
)
from connector.identity.scopes import parse_scopes
from connector.identity.tokens import ACCESS_TOKEN_TYP, MAX_TOKEN_BYTES, check_times

DCP_CONTEXT = "https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
QUERY_TYPE = "PresentationQueryMessage"
RESPONSE_TYPE = "PresentationResponseMessage"
PRESENTATION_LIFETIME_SECONDS = 300


class NotImplementedQuery(ConnectorError):
    """A query feature this Credential Service does not implement (DCP: ``501``)."""

    status = 501
    default_reason = "not_implemented"


class HeldCredential(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def body(self) -> str: ...


class CredentialHolder(Protocol):
    def matching(
        self, *, types: Sequence[str] = (), ids: Sequence[str] = ()
    ) -> Sequence[HeldCredential]: ...


def _types(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def parse_query(message: Any) -> list[str]:
    """The scopes of a ``PresentationQueryMessage`` (JSON; compacted with the DCP context)."""
    if not isinstance(message, dict):
        raise Invalid("the query must be a JSON object", reason="bad_query")
    context = message.get("@context")
    if DCP_CONTEXT not in _types(context):
        raise Invalid(f"the query's @context must include {DCP_CONTEXT}", reason="bad_query")
    if QUERY_TYPE not in _types(message.get("type", message.get("@type"))):
        raise Invalid(f"the query's type must be {QUERY_TYPE}", reason="bad_query")
    if "presentationDefinition" in message:
        raise NotImplementedQuery(
            "presentationDefinition is not supported; use scope",
            reason="presentation_definition_not_supported",
        )
    scope = message.get("scope")
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        raise Invalid("scope must be a list of strings", reason="bad_query")
    return list(scope)


class CredentialService:
    """Answers presentation queries for the credentials in ``holder``."""

    def __init__(
        self,
        keyset: KeySet,
        resolver: DidResolver,
        holder: CredentialHolder,
        clock: Clock,
        loader: PinnedLoader,
        *,
        skew_seconds: int = 30,
    ) -> None:
        self._keyset = keyset
        self._resolver = resolver
        self._holder = holder
        self._clock = clock
        self._loader = loader
        self._skew = skew_seconds

    def granted_scopes(self, caller: Caller) -> set[str]:
        """The scopes the access token in ``caller``'s ``token`` claim grants to ``caller``."""
        token = caller.claims.get("token")
        if not isinstance(token, str) or not token:
            raise Unauthorized("no access token in the ID token", reason="no_access_token")
        own = self._keyset.did
        try:
            verified = jose.verify_jws(
                token,
                resolver=self._resolver,
                relationship="capabilityInvocation",
                typs=frozenset({ACCESS_TOKEN_TYP}),
                max_bytes=MAX_TOKEN_BYTES,
            )
        except VerificationFailed as exc:
            raise Unauthorized(f"access token: {exc.detail}", reason="bad_access_token") from exc
        claims = verified.payload
        if (
            verified.method.controller != own
            or claims.get("iss") != own
            or claims.get("sub") != own
        ):
            raise Unauthorized("the access token is not ours", reason="bad_access_token")
        if claims.get("aud") != caller.did:
            raise Unauthorized(
                "the access token was issued to another party", reason="bad_access_token"
            )
        check_times(claims, self._clock.now(), skew_seconds=self._skew)
        scope = claims.get("scope")
        if not isinstance(scope, str):
            raise Unauthorized("the access token grants no scope", reason="bad_access_token")
        return set(scope.split())

    def query(self, caller: Caller, message: Any) -> dict[str, Any]:
        """The ``PresentationResponseMessage`` for ``caller``'s query."""
        scopes = parse_query(message)
        parsed = parse_scopes(scopes)
        granted = self.granted_scopes(caller)
        refused = [s for s in scopes if s not in granted and s + ":read" not in granted]
        if refused:
            raise Forbidden(
                f"scope not granted by the access token: {refused[0][:80]}",
                reason="scope_not_granted",
            )
        held = self._holder.matching(
            types=[s.value for s in parsed if s.alias == "type"],
            ids=[s.value for s in parsed if s.alias == "id"],
        )
        return {
            "@context": [DCP_CONTEXT],
            "type": RESPONSE_TYPE,
            "presentation": self.present(held, audience=caller.did),
        }

    def present(
        self, held: Sequence[HeldCredential], *, audience: str
    ) -> list[str | dict[str, Any]]:
        """Our presentations of ``held`` for ``audience``: a vp+jwt and/or a DI presentation."""
        now = self._clock.now()
        jwts = [c.body for c in held if c.format == "vc+jwt"]
        documents = [json.loads(c.body) for c in held if c.format != "vc+jwt"]
        presentations: list[str | dict[str, Any]] = []
        if jwts or not documents:
            presentations.append(
                jose.issue_vp_jwt(
                    jwts,
                    key=self._keyset.p256,
                    method_id=self._keyset.method_id("p256"),
                    audience=audience,
                    issued_at=now,
                    lifetime_seconds=PRESENTATION_LIFETIME_SECONDS,
                )
            )
        if documents:
            presentations.append(self._data_integrity_presentation(documents, audience, now))
        return presentations

    def _data_integrity_presentation(
        self, documents: list[Mapping[str, Any]], audience: str, now: dt.datetime
    ) -> dict[str, Any]:
        unsigned = {
            "@context": [VC_CONTEXT],
            "type": ["VerifiablePresentation"],
            "holder": self._keyset.did,
            "verifiableCredential": documents,
        }
        return data_integrity.sign(
            unsigned,
            key=self._keyset.ed25519,
            verification_method=self._keyset.method_id("ed25519", multikey=True),
            created=now,
            expires=now + dt.timedelta(seconds=PRESENTATION_LIFETIME_SECONDS),
            domain=audience,
            proof_purpose="authentication",
            loader=self._loader,
        )
