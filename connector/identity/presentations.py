"""The verifier side of the DCP presentation flow: ask a caller's Credential Service for its
credentials and keep the ones that verify (a ``CredentialSource`` for :mod:`.trust`).

1. The caller's self-issued ID token carried a ``token`` claim (an access token for us).
2. Its DID document (cached resolver) names a ``CredentialService`` endpoint.
3. We POST a ``PresentationQueryMessage`` with the scopes to ``<endpoint>/presentations/query``
   (SSRF-guarded ``OutboundHttp``), authenticated by *our* self-issued ID token for the caller
   that carries the caller's access token as ``token``.
4. Each returned presentation must verify for *our* DID as audience (``vp+jwt`` ``aud``, or a
   Data Integrity proof ``domain`` with ``expires``), be held by the caller, and every credential
   in it must verify (signature, validity period, status list); then only credentials issued by
   a trusted issuer about the caller become :class:`CredentialFact` values.

Failures raise ``ConnectorError`` with a precise reason (``no_access_token``,
``no_credential_service``, ``presentation_query_refused``,
``credential_service_unavailable``, ``bad_presentation_response``,
``audience_mismatch``, ``missing_expiry``, ``holder_mismatch``, ``untrusted_issuer``,
``subject_mismatch``, the verifier's ``expired``/``revoked``/``bad_signature`` …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connector.clock import Clock
from connector.controlplane.ports import Caller, CredentialFact, OutboundHttp
from connector.credentials.did_resolver import DidResolver
from connector.credentials.verifier import Verified, Verifier, types_of
from connector.errors import ConnectorError, Forbidden, Unavailable, VerificationFailed
from connector.identity.credential_service import DCP_CONTEXT, QUERY_TYPE, RESPONSE_TYPE
from connector.identity.tokens import SelfIssuedTokenSource

MAX_PRESENTATIONS = 8
QUERY_PATH = "/presentations/query"


def _subject_id(document: Mapping[str, Any]) -> str | None:
    subject = document.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if isinstance(subject, Mapping) and isinstance(subject.get("id"), str):
        return str(subject["id"])
    return None


def _check_data_integrity_binding(presentation: Mapping[str, Any], audience: str) -> None:
    proofs = presentation.get("proof")
    items = proofs if isinstance(proofs, list) else [proofs]
    for proof in items:
        if not isinstance(proof, Mapping) or proof.get("domain") != audience:
            raise VerificationFailed(
                "the presentation is for another audience", reason="audience_mismatch"
            )
        if not isinstance(proof.get("expires"), str):
            raise VerificationFailed(
                "the presentation proof has no expiry", reason="missing_expiry"
            )


class PresentationClient:
    """Obtains and verifies a caller's credentials through its Credential Service."""

    def __init__(
        self,
        *,
        own_did: str,
        resolver: DidResolver,
        tokens: SelfIssuedTokenSource,
        http: OutboundHttp,
        verifier: Callable[[], Verifier],
        trusted_issuers: Sequence[str],
        clock: Clock,
        allow_http: bool = False,
    ) -> None:
        self._own_did = own_did
        self._resolver = resolver
        self._tokens = tokens
        self._http = http
        self.verifier = verifier
        self._trusted = frozenset(trusted_issuers)
        self._clock = clock
        self._allow_http = allow_http

    def endpoint(self, did: str) -> str:
        """The query URL of ``did``'s Credential Service (from its DID document)."""
        try:
            endpoints = self._resolver.resolve(did).services("CredentialService")
        except VerificationFailed as exc:
            raise Unavailable(exc.detail, reason=exc.reason) from exc
        schemes = ("https://", "http://") if self._allow_http else ("https://",)
        usable = [e for e in endpoints if e.startswith(schemes)]
        if not usable:
            raise Forbidden(
                f"{did[:80]} lists no CredentialService", reason="no_credential_service"
            )
        return usable[0].rstrip("/") + QUERY_PATH

    def query(self, caller: Caller, scopes: Sequence[str]) -> list[Any]:
        """The raw presentations the caller's Credential Service returns for ``scopes``."""
        token = caller.claims.get("token")
        if not isinstance(token, str) or not token:
            raise Forbidden("the caller granted no access token", reason="no_access_token")
        url = self.endpoint(caller.did)
        message = {"@context": [DCP_CONTEXT], "type": QUERY_TYPE, "scope": list(scopes)}
        authorization = "Bearer " + self._tokens.issue(caller.did, token=token)
        result = self._http.post_json(url, message, headers={"Authorization": authorization})
        if result.status in {400, 401, 403, 404}:
            raise Forbidden(
                f"the Credential Service refused the query ({result.status})",
                reason="presentation_query_refused",
            )
        if result.status != 200:
            raise Unavailable(
                f"the Credential Service answered {result.status}",
                reason="credential_service_unavailable",
            )
        body = result.body
        if (
            not isinstance(body, dict)
            or RESPONSE_TYPE not in types_of(body)
            or not isinstance(body.get("presentation"), list)
            or len(body["presentation"]) > MAX_PRESENTATIONS
        ):
            raise VerificationFailed(
                "not a PresentationResponseMessage", reason="bad_presentation_response"
            )
        return list(body["presentation"])

    def verify(self, caller: Caller, presentation: Any) -> Verified:
        """One presentation, verified for us as audience and held by the caller."""
        if isinstance(presentation, Mapping):
            _check_data_integrity_binding(presentation, self._own_did)
        elif not isinstance(presentation, str):
            raise VerificationFailed(
                "a presentation is not a JWT or object", reason="bad_presentation"
            )
        verified = self.verifier().verify_presentation(presentation, audience=self._own_did)
        if verified.issuer != caller.did:
            raise VerificationFailed(
                f"the presentation is held by {verified.issuer[:80]}, not the caller",
                reason="holder_mismatch",
            )
        return verified

    def credentials(self, caller: Caller, scopes: Sequence[str]) -> tuple[CredentialFact, ...]:
        """Verified credentials of ``caller`` from trusted issuers (``ConnectorError`` if the
        flow fails or nothing usable came back, with the reason)."""
        facts: list[CredentialFact] = []
        dropped: ConnectorError | None = None
        for presentation in self.query(caller, scopes):
            for credential in self.verify(caller, presentation).credentials:
                document = credential.document
                if credential.issuer not in self._trusted:
                    dropped = Forbidden(
                        f"issuer {credential.issuer[:80]} is not trusted", reason="untrusted_issuer"
                    )
                    continue
                if _subject_id(document) != caller.did:
                    dropped = Forbidden(
                        "the credential is about someone else", reason="subject_mismatch"
                    )
                    continue
                subject = document.get("credentialSubject")
                valid_until = document.get("validUntil")
                facts.append(
                    CredentialFact(
                        types=tuple(types_of(document)),
                        issuer=credential.issuer,
                        subject=caller.did,
                        valid_until=valid_until if isinstance(valid_until, str) else None,
                        claims=dict(subject) if isinstance(subject, Mapping) else {},
                    )
                )
        if not facts and dropped is not None:
            raise dropped
        return tuple(facts)
