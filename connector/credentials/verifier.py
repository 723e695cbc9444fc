"""Verify a credential or presentation completely, in whichever form it arrives.

One entry point for the CLI (``connector sd verify``), the VC API and the identity layer:

* JSON-LD with embedded proofs — Data Integrity (``eddsa-rdfc-2022``, ``ecdsa-rdfc-2019``) or
  ``JsonWebSignature2020`` (Gaia-X Tagus import);
* compact JWTs — ``vc+jwt`` (also ``vc+ld+jwt``, ``vc+ld+json+jwt``) and ``vp+jwt`` with
  ``EnvelopedVerifiableCredential`` entries.

Each check raises :class:`VerificationFailed` with a precise ``reason``: structure and size
(``too_large``), undefined terms (``undefined_term``), the proof (``bad_signature``, …), the key
(DID resolution, ``method_not_authorized``), the issuer (``issuer_mismatch``), validity dates
(``expired``, ``not_yet_valid``), status (``revoked``, ``suspended``) and shapes
(``shape_violation``). Nothing is fetched except through the injected resolver and status lookup.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from connector.clock import Clock, parse_instant
from connector.credentials import data_integrity, jose, jws2020
from connector.credentials.jsonld import (
    DEFAULT_LIMITS,
    Limits,
    PinnedLoader,
    precheck,
    to_quads,
    undefined_terms,
)
from connector.credentials.methods import MethodResolver, Relationship
from connector.credentials.shacl import (
    Shapes,
    Supporting,
    subject_triples,
    validate_credential,
)
from connector.credentials.status_list import check_status
from connector.errors import ConnectorError, Invalid, VerificationFailed

Kind = Literal["vc", "vp", "vc+jwt", "vp+jwt"]
StatusLookup = Callable[[str], Mapping[str, Any]]

JWT_TYPS = frozenset(
    {"vc+jwt", "vc+ld+jwt", "vc+ld+json+jwt", "vp+jwt", "vp+ld+jwt", "vp+ld+json+jwt"}
)


@dataclass(frozen=True)
class Verified:
    """What verified: the document (payload for JWTs), its issuer/holder and the key used."""

    kind: Kind
    document: Mapping[str, Any]
    issuer: str
    method_id: str
    checks: tuple[str, ...]
    credentials: tuple[Verified, ...] = ()

    @property
    def id(self) -> str | None:
        value = self.document.get("id")
        return value if isinstance(value, str) else None


def issuer_of(document: Mapping[str, Any]) -> str:
    issuer = document.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise VerificationFailed("credential has no issuer", reason="missing_issuer")
    return issuer


def types_of(document: Mapping[str, Any]) -> list[str]:
    value = document.get("type", document.get("@type", []))
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _proofs(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    proof = document.get("proof")
    if proof is None:
        raise VerificationFailed("document has no proof", reason="missing_proof")
    proofs = proof if isinstance(proof, list) else [proof]
    if not proofs or not all(isinstance(p, Mapping) for p in proofs):
        raise VerificationFailed("malformed proof", reason="malformed_proof")
    return proofs


@dataclass
class Verifier:
    """Verifies credentials and presentations with injected key resolution, time and status."""

    resolver: MethodResolver
    loader: PinnedLoader
    clock: Clock
    status_lookup: StatusLookup | None = None
    """Returns the (still unverified) status list credential at a URL; the verifier checks it."""
    shapes: Shapes | None = None
    limits: Limits = DEFAULT_LIMITS
    skew_seconds: float = 60.0
    supporting: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    """Other credentials whose subjects shapes may refer to (e.g. the issuer's LegalPerson)."""
    _support: list[tuple[str | None, list[Any]]] | None = field(default=None, repr=False)
    _status_cache: dict[str, tuple[str, Mapping[str, Any]]] = field(
        default_factory=dict, repr=False
    )

    def _supporting_for(self, document: Mapping[str, Any]) -> Supporting:
        """The supporting credentials' statements, except those of ``document`` itself (its
        blank nodes would otherwise count twice). Each is converted to RDF once per verifier."""
        if self._support is None:
            self._support = [
                (
                    str(doc.get("id")) if doc.get("id") is not None else None,
                    subject_triples(to_quads(doc, loader=self.loader, limits=self.limits).quads),
                )
                for doc in self.supporting
            ]
        own = document.get("id")
        return Supporting(
            triple
            for doc_id, triples in self._support
            if doc_id is None or doc_id != own
            for triple in triples
        )

    # ---- entry points -------------------------------------------------------------------------

    def verify(
        self,
        item: Mapping[str, Any] | str,
        *,
        audience: str | None = None,
        nonce: str | None = None,
    ) -> Verified:
        """Verify a JSON-LD credential/presentation or a compact vc+jwt/vp+jwt.

        For presentations, ``audience`` is the expected ``aud`` (vp+jwt) or proof ``domain``
        (JSON-LD), and ``nonce`` the expected ``nonce`` or proof ``challenge``.
        """
        try:
            if isinstance(item, str):
                return self._verify_jwt(item.strip(), audience=audience, nonce=nonce)
            return self._verify_jsonld(item, audience=audience, nonce=nonce)
        except VerificationFailed:
            raise
        except ConnectorError as exc:
            raise VerificationFailed(exc.detail, reason=exc.reason) from exc

    def verify_credential(self, item: Mapping[str, Any] | str) -> Verified:
        result = self.verify(item)
        if result.kind not in {"vc", "vc+jwt"}:
            raise VerificationFailed("expected a credential, got a presentation", reason="bad_type")
        return result

    def verify_presentation(
        self,
        item: Mapping[str, Any] | str,
        *,
        audience: str | None = None,
        nonce: str | None = None,
    ) -> Verified:
        result = self.verify(item, audience=audience, nonce=nonce)
        if result.kind not in {"vp", "vp+jwt"}:
            raise VerificationFailed("expected a presentation", reason="bad_type")
        return result

    # ---- JSON-LD with embedded proofs -----------------------------------------------------------

    def _verify_jsonld(
        self, document: Mapping[str, Any], *, audience: str | None, nonce: str | None
    ) -> Verified:
        precheck(document, self.limits)
        types = types_of(document)
        if "VerifiablePresentation" in types:
            return self._verify_jsonld_presentation(document, audience=audience, nonce=nonce)
        if "VerifiableCredential" not in types:
            raise VerificationFailed(
                "not a VerifiableCredential or VerifiablePresentation", reason="bad_type"
            )
        return self._verify_jsonld_credential(document)

    def _check_embedded_proofs(
        self, document: Mapping[str, Any], controller: str, relationship: Relationship
    ) -> tuple[str, str]:
        proofs = _proofs(document)
        kinds = {p.get("type") for p in proofs}
        if kinds == {data_integrity.PROOF_TYPE}:
            verified = data_integrity.verify_proof_set(
                document,
                resolve=self.resolver,
                loader=self.loader,
                relationship=relationship,
                expected_controller=controller,
                clock=self.clock,
                limits=self.limits,
            )
            suites = ",".join(sorted({v.cryptosuite for v in verified}))
            return verified[0].method.id, f"proof:{suites}"
        if kinds == {"JsonWebSignature2020"} and len(proofs) == 1:
            jws = jws2020.verify(
                document,
                resolve=self.resolver,
                loader=self.loader,
                relationship=relationship,
                expected_controller=controller,
                limits=self.limits,
            )
            return jws.method.id, "proof:JsonWebSignature2020"
        raise VerificationFailed(
            f"unsupported proof type {sorted(map(str, kinds))}", reason="unknown_proof_type"
        )

    def _verify_jsonld_credential(self, document: Mapping[str, Any]) -> Verified:
        issuer = issuer_of(document)
        method_id, proof_check = self._check_embedded_proofs(document, issuer, "assertionMethod")
        checks = [proof_check, "issuer", *self._check_content(document)]
        return Verified("vc", document, issuer, method_id, tuple(checks))

    def _verify_jsonld_presentation(
        self, document: Mapping[str, Any], *, audience: str | None, nonce: str | None
    ) -> Verified:
        for proof in _proofs(document):
            if audience is not None and proof.get("domain") not in (None, audience):
                raise VerificationFailed("proof domain mismatch", reason="audience_mismatch")
            if nonce is not None and proof.get("challenge") != nonce:
                raise VerificationFailed("proof challenge mismatch", reason="nonce_mismatch")
        holder = document.get("holder")
        if isinstance(holder, Mapping):
            holder = holder.get("id")
        if not isinstance(holder, str):
            raise VerificationFailed("presentation has no holder", reason="missing_holder")
        method_id, proof_check = self._check_embedded_proofs(document, holder, "authentication")
        credentials = self._verify_entries(document.get("verifiableCredential", []))
        return Verified("vp", document, holder, method_id, (proof_check,), credentials)

    def _verify_entries(self, entries: Any) -> tuple[Verified, ...]:
        items = entries if isinstance(entries, list) else [entries]
        results: list[Verified] = []
        for index, entry in enumerate(items):
            try:
                if isinstance(entry, Mapping) and "EnvelopedVerifiableCredential" in types_of(
                    entry
                ):
                    token = jose.unenvelope(entry)
                    results.append(self._verify_jwt(token, audience=None, nonce=None))
                elif isinstance(entry, Mapping):
                    results.append(self._verify_jsonld_credential(entry))
                else:
                    raise VerificationFailed("malformed credential entry", reason="bad_credential")
            except VerificationFailed as exc:
                raise VerificationFailed(
                    f"credential {index}: {exc.detail}", reason=exc.reason, credential_index=index
                ) from exc
        return tuple(results)

    # ---- compact JWTs -------------------------------------------------------------------------

    def _verify_jwt(self, token: str, *, audience: str | None, nonce: str | None) -> Verified:
        header = _peek_header(token)
        typ = str(header.get("typ", ""))
        now = self.clock.now()
        if typ.startswith("vp"):
            if audience is None:
                raise VerificationFailed(
                    "a vp+jwt is verified for an audience", reason="audience_mismatch"
                )
            vp = jose.verify_vp_jwt(
                token,
                resolver=self.resolver,
                at=now,
                audience=audience,
                nonce=nonce,
                skew_seconds=self.skew_seconds,
            )
            credentials = tuple(self._after_jwt(c) for c in vp.credentials)
            return Verified(
                "vp+jwt",
                vp.document,
                vp.method.controller,
                vp.method.id,
                ("proof:jws", "audience", "nonce" if nonce else "expiry"),
                credentials,
            )
        verified = jose.verify_vc_jwt(
            token, resolver=self.resolver, at=now, skew_seconds=self.skew_seconds
        )
        return self._after_jwt(verified)

    def _after_jwt(self, verified: jose.VerifiedJwt) -> Verified:
        document = verified.document
        precheck(document, self.limits)
        terms = undefined_terms(document, loader=self.loader, limits=self.limits)
        if terms:
            raise VerificationFailed(
                "undefined terms (not covered by the signature): "
                + ", ".join(str(t) for t in terms[:5]),
                reason="undefined_term",
            )
        checks = ["proof:jws", "issuer", "terms", *self._check_content(document)]
        return Verified(
            "vc+jwt", document, verified.method.controller, verified.method.id, tuple(checks)
        )

    # ---- content checks shared by all forms ---------------------------------------------------

    def _check_content(self, document: Mapping[str, Any]) -> Iterable[str]:
        self._check_dates(document)
        yield "validity"
        if document.get("credentialStatus") is not None:
            if self.status_lookup is None:
                raise VerificationFailed(
                    "credential has a status but no status list is available",
                    reason="status_list_unavailable",
                )
            check_status(document, lookup=self._verified_status_list, at=self.clock.now())
            yield "status"
        if self.shapes is not None and "BitstringStatusListCredential" not in types_of(document):
            report = validate_credential(
                document,
                self.shapes,
                loader=self.loader,
                supporting=self._supporting_for(document),
                limits=self.limits,
            )
            if not report.conforms:
                raise VerificationFailed(
                    "shape violation: " + report.describe().split("\n")[0],
                    reason="shape_violation",
                )
            yield "shapes"

    def _check_dates(self, document: Mapping[str, Any]) -> None:
        now = self.clock.now()
        skew = dt.timedelta(seconds=self.skew_seconds)
        start = document.get("validFrom", document.get("issuanceDate"))
        end = document.get("validUntil", document.get("expirationDate"))
        try:
            if isinstance(start, str) and parse_instant(start) > now + skew:
                raise VerificationFailed(f"not valid before {start}", reason="not_yet_valid")
            if isinstance(end, str) and parse_instant(end) < now - skew:
                raise VerificationFailed(f"expired at {end}", reason="expired")
        except ValueError as exc:
            raise VerificationFailed("malformed validity date", reason="bad_date") from exc

    def _verified_status_list(self, url: str) -> Mapping[str, Any]:
        """The status list at ``url``, verified (once per verifier for the same content)."""
        raw = self.status_lookup(url) if self.status_lookup else None
        if raw is None:
            raise VerificationFailed(
                f"status list {url} unavailable", reason="status_list_unavailable"
            )
        fingerprint = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
        cached = self._status_cache.get(url)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        inner = Verifier(
            resolver=self.resolver, loader=self.loader, clock=self.clock, limits=self.limits
        )
        if isinstance(raw, str):
            document = inner._verify_jwt(raw, audience=None, nonce=None).document
        else:
            document = inner._verify_jsonld_credential(raw).document
        self._status_cache[url] = (fingerprint, document)
        return document


def _peek_header(token: str) -> dict[str, Any]:
    import base64
    import json

    head = token.split(".", 1)[0]
    try:
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VerificationFailed("malformed JWT", reason="malformed_jwt") from exc
    if not isinstance(value, dict):
        raise VerificationFailed("malformed JWT", reason="malformed_jwt")
    return value


def parse_item(text: str) -> Mapping[str, Any] | str:
    """A file or body: JSON object → JSON-LD document; otherwise a compact JWT."""
    stripped = text.strip()
    if stripped.startswith("{"):
        from connector.credentials.jsonld import parse_json

        value = parse_json(stripped)
        if not isinstance(value, dict):
            raise Invalid("expected a JSON object", reason="malformed_json")
        return value
    if stripped.count(".") != 2:
        raise Invalid("neither a JSON-LD document nor a compact JWT", reason="malformed_input")
    return stripped
