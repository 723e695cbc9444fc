"""The whole verification pipeline on the city's own self-descriptions, in every form."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from connector.clock import FixedClock
from connector.credentials import jose
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.credentials.jsonld import default_loader
from connector.credentials.publication import SignedSet, sign_set
from connector.credentials.self_description import build_credentials, load_config
from connector.credentials.status_list import Bitstring
from connector.credentials.verifier import Verifier
from connector.errors import ConnectorError, VerificationFailed
from connector.testing import throwaway_keyset

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://connector.hagen.example"
DID = "did:web:connector.hagen.example"


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock("2026-12-01T10:00:00Z")


@pytest.fixture(scope="module")
def keyset() -> Any:
    return throwaway_keyset(DID)


@pytest.fixture(scope="module")
def signed(keyset: Any, clock: FixedClock) -> SignedSet:
    config = load_config(ROOT / "self-descriptions" / "hagen.toml")
    unsigned = build_credentials(config, issuer_did=DID, base_url=BASE, issued=clock.now())
    return sign_set(
        unsigned, keyset=keyset, base_url=BASE, loader=default_loader(), now=clock.now()
    )


def make_verifier(
    keyset: Any, clock: FixedClock, lists: Mapping[str, Mapping[str, Any]]
) -> Verifier:
    resolver = DidResolver(clock, None, pinned=[build_did_document(keyset)])
    return Verifier(
        resolver=resolver, loader=default_loader(), clock=clock, status_lookup=lists.__getitem__
    )


@pytest.fixture(scope="module")
def verifier(keyset: Any, clock: FixedClock, signed: SignedSet) -> Verifier:
    return make_verifier(keyset, clock, {signed.status_list["id"]: signed.status_list})


def test_every_credential_verifies_in_both_forms(signed: SignedSet, verifier: Verifier) -> None:
    assert len(signed.credentials) >= 12
    for sd_id, document in signed.credentials.items():
        result = verifier.verify(document)
        assert result.kind == "vc" and result.issuer == DID, sd_id
        assert "status" in result.checks
        token_result = verifier.verify(signed.jwts[sd_id])
        assert token_result.kind == "vc+jwt"
        assert token_result.document["id"] == document["id"]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _mutated(document: dict[str, Any], path: tuple[Any, ...], leaf: Any) -> dict[str, Any]:
    clone = copy.deepcopy(document)
    target: Any = clone
    for step in path[:-1]:
        target = target[step]
    if isinstance(leaf, bool):
        target[path[-1]] = not leaf
    elif isinstance(leaf, int | float):
        target[path[-1]] = leaf + 1
    else:
        text = str(leaf)
        target[path[-1]] = text[:-1] + ("X" if not text.endswith("X") else "Y") if text else "X"
    return clone


@pytest.mark.parametrize("sd_id", ["legal-person", "service-offering", "dataset-industrie-co2"])
def test_every_single_field_change_fails(signed: SignedSet, verifier: Verifier, sd_id: str) -> None:
    document = signed.credentials[sd_id]
    leaves = [(p, v) for p, v in _leaves(document) if p[0] != "@context"]
    assert len(leaves) > 20
    for path, leaf in leaves:
        with pytest.raises(ConnectorError):
            verifier.verify(_mutated(document, path, leaf))


def test_jwt_payload_change_fails(signed: SignedSet, verifier: Verifier) -> None:
    token = signed.jwts["legal-person"]
    header, payload, signature = token.split(".")
    forged = ".".join(
        [header, payload[:-3] + ("AAA" if payload[-3:] != "AAA" else "BBB"), signature]
    )
    with pytest.raises(VerificationFailed):
        verifier.verify(forged)


def test_revoked_credential_is_refused(keyset: Any, clock: FixedClock, signed: SignedSet) -> None:
    from connector.credentials.publication import sign_status_list

    bits = Bitstring()
    bits.set(signed.indices["dataset-pv-ertrag-staedtische-gebaeude"])
    revoked_list = sign_status_list(
        bits, keyset=keyset, base_url=BASE, loader=default_loader(), now=clock.now(), valid_days=30
    )
    verifier = make_verifier(keyset, clock, {revoked_list["id"]: revoked_list})
    for form in (
        signed.credentials["dataset-pv-ertrag-staedtische-gebaeude"],
        signed.jwts["dataset-pv-ertrag-staedtische-gebaeude"],
    ):
        with pytest.raises(VerificationFailed) as info:
            verifier.verify(form)
        assert info.value.reason == "revoked"
    verifier.verify(signed.credentials["legal-person"])


def test_forged_status_list_is_refused(keyset: Any, clock: FixedClock, signed: SignedSet) -> None:
    forged = copy.deepcopy(signed.status_list)
    bits = Bitstring()
    bits.set(signed.indices["dataset-industrie-co2"])
    forged["credentialSubject"]["encodedList"] = bits.encode()
    assert forged != signed.status_list
    verifier = make_verifier(keyset, clock, {forged["id"]: forged})
    with pytest.raises(VerificationFailed):
        verifier.verify(signed.credentials["legal-person"])


def test_expired_and_not_yet_valid(keyset: Any, signed: SignedSet) -> None:
    late = FixedClock("2028-01-01T00:00:00Z")
    with pytest.raises(VerificationFailed) as info:
        make_verifier(keyset, late, {}).verify(signed.credentials["legal-person"])
    assert info.value.reason == "expired"
    early = FixedClock("2026-01-01T00:00:00Z")
    with pytest.raises(VerificationFailed) as info:
        make_verifier(keyset, early, {}).verify(signed.jwts["legal-person"])
    assert info.value.reason in {"not_yet_valid"}


def test_unknown_issuer_key(clock: FixedClock, signed: SignedSet) -> None:
    stranger = throwaway_keyset(DID)
    verifier = make_verifier(stranger, clock, {signed.status_list["id"]: signed.status_list})
    for form in (signed.credentials["legal-person"], signed.jwts["legal-person"]):
        with pytest.raises(VerificationFailed) as info:
            verifier.verify(form)
        assert info.value.reason == "bad_signature"


def test_unknown_did_without_network(keyset: Any, clock: FixedClock, signed: SignedSet) -> None:
    verifier = Verifier(resolver=DidResolver(clock, None), loader=default_loader(), clock=clock)
    with pytest.raises(VerificationFailed) as info:
        verifier.verify(signed.credentials["legal-person"])
    assert info.value.reason in {"unknown_did", "did_unavailable"}


def test_presentation_round_trip(
    keyset: Any, signed: SignedSet, verifier: Verifier, clock: FixedClock
) -> None:
    token = jose.issue_vp_jwt(
        list(signed.jwts.values()),
        key=keyset.p256,
        method_id=keyset.method_id("p256"),
        audience="did:web:catalogue.example",
        issued_at=clock.now(),
        nonce="n-1",
    )
    result = verifier.verify_presentation(token, audience="did:web:catalogue.example", nonce="n-1")
    assert len(result.credentials) == len(signed.jwts)
    with pytest.raises(VerificationFailed) as info:
        verifier.verify_presentation(token, audience="did:web:other.example", nonce="n-1")
    assert info.value.reason == "audience_mismatch"
    with pytest.raises(VerificationFailed) as info:
        verifier.verify_presentation(token, audience="did:web:catalogue.example", nonce="n-2")
    assert info.value.reason == "nonce_mismatch"


def test_unknown_context_is_refused(signed: SignedSet, verifier: Verifier) -> None:
    document = copy.deepcopy(signed.credentials["legal-person"])
    document["@context"] = [*document["@context"], "https://evil.example/context.jsonld"]
    with pytest.raises(ConnectorError) as info:
        verifier.verify(document)
    assert "unknown JSON-LD context" in info.value.detail


def test_undefined_term_is_refused(signed: SignedSet, verifier: Verifier) -> None:
    document = copy.deepcopy(signed.credentials["legal-person"])
    document["credentialSubject"]["unsignedClaim"] = "not covered by the proof"
    with pytest.raises(VerificationFailed) as info:
        verifier.verify(document)
    assert info.value.reason == "undefined_term"


def test_too_deep_document_is_refused(verifier: Verifier) -> None:
    deep: dict[str, Any] = {"type": ["VerifiableCredential"]}
    node = deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ConnectorError) as info:
        verifier.verify(deep)
    assert info.value.reason in {"too_deep", "too_large"}
