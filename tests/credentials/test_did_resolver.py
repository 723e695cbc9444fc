from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.clock import FixedClock
from connector.credentials import keys as keymod
from connector.credentials.did_key import did_key_from_public_key
from connector.credentials.did_resolver import (
    DidResolver,
    jwk_from_public_key,
    parse_did_document,
)
from connector.credentials.did_web import build_did_document
from connector.credentials.multikey import encode_public_key
from connector.errors import (
    ConnectorError,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    VerificationFailed,
)
from connector.testing import throwaway_keyset

DID = "did:web:hagen.example"
URL = "https://hagen.example/.well-known/did.json"


class DictFetcher:
    """An in-memory DID fetcher (the port's contract without the network), counting calls."""

    def __init__(self, responses: dict[str, bytes | ConnectorError]) -> None:
        self.responses = responses
        self.calls: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.calls.append(url)
        response = self.responses.get(url)
        if response is None:
            raise NotFound(f"{url} not served", reason="unknown_did")
        if isinstance(response, ConnectorError):
            raise response
        return response


@pytest.fixture(scope="module")
def keyset() -> keymod.KeySet:
    return throwaway_keyset(DID, with_rsa=True)


@pytest.fixture
def document(keyset: keymod.KeySet) -> dict[str, Any]:
    return build_did_document(keyset)


def reason(excinfo: pytest.ExceptionInfo[VerificationFailed]) -> str:
    return excinfo.value.reason


def test_own_document_resolves_every_method(
    keyset: keymod.KeySet, document: dict[str, Any]
) -> None:
    resolver = DidResolver(FixedClock(), pinned=[document])
    for kind in keyset.kinds():
        method = resolver(keyset.method_id(kind), "assertionMethod")
        assert method.controller == DID
        assert method.type == "JsonWebKey"
        assert method.jwk == keymod.public_jwk(keyset.key(kind)) | {
            "kid": keyset.method_id(kind),
            "alg": keymod.JWS_ALG[kind],
        }
        assert jwk_from_public_key(method.public_key).items() <= method.jwk.items()
    multikey = resolver(keyset.method_id("ed25519", multikey=True), "authentication")
    assert multikey.type == "Multikey"
    assert isinstance(multikey.public_key, ed25519.Ed25519PublicKey)
    assert multikey.jwk == {k: v for k, v in keymod.public_jwk(keyset.ed25519).items()}
    p256 = resolver(keyset.method_id("p256", multikey=True), "authentication")
    assert isinstance(p256.public_key, ec.EllipticCurvePublicKey)
    assert resolver(keyset.method_id("rsa"), "authentication").public_key.key_size == 2048  # type: ignore[union-attr]


def test_relative_ids_and_legacy_types(keyset: keymod.KeySet) -> None:
    ed_multibase = encode_public_key(keyset.ed25519.public_key())
    document = {
        "id": DID,
        "verificationMethod": [
            {
                "id": "#jwk2020",
                "type": "JsonWebKey2020",
                "controller": DID,
                "publicKeyJwk": keymod.public_jwk(keyset.p256),
            },
            {
                "id": "#ed2020",
                "type": "Ed25519VerificationKey2020",
                "controller": DID,
                "publicKeyMultibase": ed_multibase,
            },
        ],
        "assertionMethod": ["#jwk2020", f"{DID}#ed2020"],
        "authentication": [
            # embedded: usable for authentication only
            {
                "id": "#auth-only",
                "type": "Multikey",
                "controller": DID,
                "publicKeyMultibase": ed_multibase,
            }
        ],
    }
    resolver = DidResolver(FixedClock(), pinned=[document])
    assert resolver(f"{DID}#jwk2020", "assertionMethod").type == "JsonWebKey2020"
    assert resolver(f"{DID}#ed2020", "assertionMethod").id == f"{DID}#ed2020"
    assert resolver(f"{DID}#auth-only", "authentication").type == "Multikey"
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#auth-only", "assertionMethod")
    assert reason(info) == "method_not_authorized"
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#ed2020", "authentication")
    assert reason(info) == "method_not_authorized"


def test_method_under_authentication_only_is_not_an_assertion_method(
    keyset: keymod.KeySet, document: dict[str, Any]
) -> None:
    method_id = keyset.method_id("p256")
    document["assertionMethod"] = [m for m in document["assertionMethod"] if m != method_id]
    resolver = DidResolver(FixedClock(), pinned=[document])
    assert resolver(method_id, "authentication").id == method_id
    with pytest.raises(VerificationFailed) as info:
        resolver(method_id, "assertionMethod")
    assert reason(info) == "method_not_authorized"


def test_key_not_in_the_document(document: dict[str, Any]) -> None:
    resolver = DidResolver(FixedClock(), pinned=[document])
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#stolen", "assertionMethod")
    assert reason(info) == "method_not_authorized"
    assert "not in the DID document" in info.value.detail
    # listed under the relationship but defined nowhere
    document["assertionMethod"] = [*document["assertionMethod"], "#ghost"]
    resolver = DidResolver(FixedClock(), pinned=[document])
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#ghost", "assertionMethod")
    assert reason(info) == "method_not_authorized"


def test_document_id_must_be_the_did(document: dict[str, Any]) -> None:
    document["id"] = "did:web:evil.example"
    body = json.dumps(document).encode()
    resolver = DidResolver(FixedClock(), DictFetcher({URL: body}))
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#ed25519", "assertionMethod")
    assert reason(info) == "did_document_id_mismatch"


def test_foreign_controller_makes_only_that_method_unusable(
    keyset: keymod.KeySet, document: dict[str, Any]
) -> None:
    document["verificationMethod"][0]["controller"] = "did:web:evil.example"
    resolver = DidResolver(FixedClock(), pinned=[document])
    with pytest.raises(VerificationFailed) as info:
        resolver(document["verificationMethod"][0]["id"], "assertionMethod")
    assert reason(info) == "controller_mismatch"
    assert resolver(keyset.method_id("p256"), "assertionMethod").controller == DID


@pytest.mark.parametrize("member", ["d", "p", "k"])
def test_private_key_material_rejects_the_whole_document(
    keyset: keymod.KeySet, document: dict[str, Any], member: str
) -> None:
    document["verificationMethod"][0]["publicKeyJwk"][member] = "AAAA"
    with pytest.raises(VerificationFailed) as info:
        parse_did_document(DID, document)
    assert reason(info) == "private_key_in_did_document"


def test_private_key_member_on_the_method_is_refused(document: dict[str, Any]) -> None:
    document["verificationMethod"][1]["privateKeyMultibase"] = "z3u2en7t5LR2WtQH5PfFqMqwVHBe"
    with pytest.raises(VerificationFailed) as info:
        parse_did_document(DID, document)
    assert reason(info) == "private_key_in_did_document"


def test_same_id_with_two_keys_is_refused(document: dict[str, Any]) -> None:
    clash = copy.deepcopy(document["verificationMethod"][2])
    clash["id"] = document["verificationMethod"][0]["id"]
    document["authentication"] = [*document["authentication"], clash]
    with pytest.raises(VerificationFailed) as info:
        parse_did_document(DID, document)
    assert reason(info) == "bad_did_document"


@pytest.mark.parametrize(
    ("jwk", "expected"),
    [
        ({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}, "unsupported_key_type"),
        ({"kty": "OKP", "crv": "X25519", "x": "AA"}, "unsupported_key_type"),
        ({"kty": "oct"}, "unsupported_key_type"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "bad_key"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "not+base64url/"}, "bad_key"),
        ({"kty": "RSA", "n": "x" * 342, "e": "AQAAAAE"}, "bad_key"),  # e > 2**32
        ({"kty": "RSA", "n": "x" * 342, "e": "Ag"}, "bad_key"),  # even e
        # a point that is not on P-256
        ({"kty": "EC", "crv": "P-256", "x": "A" * 42 + "E", "y": "A" * 42 + "E"}, "bad_key"),
    ],
)
def test_unusable_keys_have_precise_reasons(jwk: dict[str, Any], expected: str) -> None:
    document = {
        "id": DID,
        "verificationMethod": [
            {"id": "#k", "type": "JsonWebKey", "controller": DID, "publicKeyJwk": jwk}
        ],
        "assertionMethod": ["#k"],
    }
    resolver = DidResolver(FixedClock(), pinned=[document])
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#k", "assertionMethod")
    assert reason(info) == expected


def test_short_rsa_key_is_unsupported() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    document = {
        "id": DID,
        "verificationMethod": [
            {
                "id": "#rsa",
                "type": "JsonWebKey",
                "controller": DID,
                "publicKeyJwk": jwk_from_public_key(small.public_key()),
            }
        ],
        "assertionMethod": ["#rsa"],
    }
    resolver = DidResolver(FixedClock(), pinned=[document])
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#rsa", "assertionMethod")
    assert reason(info) == "unsupported_key_type"


@pytest.mark.parametrize(
    ("method_id", "expected"),
    [
        (DID, "bad_method_id"),
        (f"{DID}#", "bad_method_id"),
        ("#ed25519", "bad_method_id"),
        ("did:ion:EiClkZMDxPKqC9c#key-1", "unsupported_did_method"),
        ("did:web:other.example#key-1", "unknown_did"),
        ("did:web:evil.example/path#key-1", "bad_did"),
        ("did:key:z6Mkbroken#z6Mkbroken", "bad_did"),
    ],
)
def test_unresolvable_method_ids(method_id: str, expected: str) -> None:
    resolver = DidResolver(FixedClock())
    with pytest.raises(VerificationFailed) as info:
        resolver(method_id, "assertionMethod")
    assert reason(info) == expected


def test_did_key_resolves_offline(keyset: keymod.KeySet) -> None:
    did = did_key_from_public_key(keyset.ed25519.public_key())
    method_id = f"{did}#{did.removeprefix('did:key:')}"
    resolver = DidResolver(FixedClock())
    method = resolver(method_id, "assertionMethod")
    assert method.controller == did
    assert method.public_key == keyset.ed25519.public_key()
    assert resolver(method_id, "authentication").id == method_id


def test_w3c_vector_method_resolves(vectors: Path) -> None:
    signed = json.loads(
        (vectors / "w3c-vc-di-eddsa/TestVectors/eddsa-rdfc-2022/signedDataInt.json").read_text()
    )
    method = DidResolver(FixedClock())(signed["proof"]["verificationMethod"], "assertionMethod")
    assert isinstance(method.public_key, ed25519.Ed25519PublicKey)


def test_did_web_urls_and_https_only(document: dict[str, Any]) -> None:
    path_did = "did:web:hagen.example:connector%20one"
    body = json.dumps(document | {"id": path_did}).encode()
    fetcher = DictFetcher({"https://hagen.example/connector one/did.json": body})
    resolver = DidResolver(FixedClock(), fetcher)
    assert resolver.resolve(path_did).did == path_did
    insecure = DictFetcher({})
    with pytest.raises(VerificationFailed):
        DidResolver(FixedClock(), insecure, allow_http=True).resolve("did:web:127.0.0.1%3A8181")
    assert insecure.calls == ["http://127.0.0.1:8181/.well-known/did.json"]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (NotFound("404", reason="unknown_did"), "unknown_did"),
        (Unavailable("connection refused"), "did_unavailable"),
        (PayloadTooLarge("over 65536 bytes"), "did_document_too_large"),
        (Invalid("redirect", reason="did_redirect"), "did_redirect"),
        (b"<html>not json</html>", "bad_did_document"),
        (b"[]", "bad_did_document"),
        (b" " * 70_000 + b"{}", "did_document_too_large"),
    ],
)
def test_fetch_failures_become_verification_failures(
    failure: bytes | ConnectorError, expected: str
) -> None:
    resolver = DidResolver(FixedClock(), DictFetcher({URL: failure}))
    with pytest.raises(VerificationFailed) as info:
        resolver(f"{DID}#ed25519", "assertionMethod")
    assert reason(info) == expected


def test_cache_ttl_is_driven_by_the_clock(document: dict[str, Any]) -> None:
    clock = FixedClock()
    fetcher = DictFetcher({URL: json.dumps(document).encode()})
    resolver = DidResolver(clock, fetcher, ttl_seconds=300, negative_ttl_seconds=30)
    resolver(f"{DID}#ed25519", "assertionMethod")
    clock.advance(299)
    resolver(f"{DID}#p256", "authentication")
    assert len(fetcher.calls) == 1
    clock.advance(2)
    resolver(f"{DID}#ed25519", "assertionMethod")
    assert len(fetcher.calls) == 2
    resolver.invalidate(DID)
    resolver.resolve(DID)
    assert len(fetcher.calls) == 3


def test_failures_are_cached_briefly(document: dict[str, Any]) -> None:
    """An unreachable host is asked again after a few seconds (it is usually starting or
    passing trouble); an invalid document only after the longer negative TTL."""
    clock = FixedClock()
    fetcher = DictFetcher({URL: Unavailable("down")})
    resolver = DidResolver(clock, fetcher, ttl_seconds=300, negative_ttl_seconds=30)
    for _ in range(3):
        with pytest.raises(VerificationFailed) as info:
            resolver.resolve(DID)
        assert reason(info) == "did_unavailable"
    assert len(fetcher.calls) == 1
    fetcher.responses[URL] = b"[]"
    clock.advance(6)
    with pytest.raises(VerificationFailed) as info:
        resolver.resolve(DID)
    assert reason(info) == "bad_did_document" and len(fetcher.calls) == 2
    fetcher.responses[URL] = json.dumps(document).encode()
    clock.advance(29)
    with pytest.raises(VerificationFailed):
        resolver.resolve(DID)  # still the cached invalid document
    assert len(fetcher.calls) == 2
    clock.advance(2)
    assert resolver.resolve(DID).did == DID
    assert len(fetcher.calls) == 3


def test_cache_is_bounded(document: dict[str, Any]) -> None:
    fetcher = DictFetcher({})
    resolver = DidResolver(FixedClock(), fetcher, max_entries=2)
    for host in ("a.example", "b.example", "c.example", "a.example"):
        with pytest.raises(VerificationFailed):
            resolver.resolve(f"did:web:{host}")
    # a.example was evicted by c.example, so it was fetched twice
    assert [c.split("/")[2] for c in fetcher.calls] == [
        "a.example",
        "b.example",
        "c.example",
        "a.example",
    ]


def test_pinned_documents_are_never_fetched(document: dict[str, Any]) -> None:
    fetcher = DictFetcher({})
    clock = FixedClock()
    resolver = DidResolver(clock, fetcher)
    resolver.pin(document)
    clock.advance(10**6)
    assert resolver.resolve(DID).did == DID
    assert fetcher.calls == []


def test_services_by_type(document: dict[str, Any]) -> None:
    document["service"] = [
        {"id": "#cs", "type": "CredentialService", "serviceEndpoint": "https://hagen.example/cs"},
        {"id": "#dsp", "type": ["DataService"], "serviceEndpoint": "https://hagen.example/dsp"},
        "junk",
    ]
    parsed = parse_did_document(DID, document)
    assert parsed.services("CredentialService") == ["https://hagen.example/cs"]
    assert parsed.services("DataService") == ["https://hagen.example/dsp"]
    assert parsed.services("Other") == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "type",
                    "controller",
                    "publicKeyJwk",
                    "publicKeyMultibase",
                    "kty",
                    "crv",
                    "x",
                    "y",
                    "#a",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    methods=st.lists(json_values, max_size=3),
    assertion=json_values,
    extra=st.dictionaries(
        st.sampled_from(["authentication", "service", "controller"]), json_values
    ),
)
def test_hostile_documents_only_ever_fail_with_verification_failed(
    methods: list[Any], assertion: Any, extra: dict[str, Any]
) -> None:
    document = {"id": DID, "verificationMethod": methods, "assertionMethod": assertion, **extra}
    resolver = DidResolver(FixedClock(), DictFetcher({URL: json.dumps(document).encode()}))
    try:
        resolver(f"{DID}#a", "assertionMethod")
    except VerificationFailed as exc:
        assert exc.reason


def test_unknown_key_id_refetches_once_after_the_refresh_interval() -> None:
    """A rotated key becomes usable without waiting for the cache TTL, but unknown key ids
    cannot make the resolver fetch more than once per interval."""
    from connector.clock import FixedClock
    from connector.credentials.did_resolver import REFRESH_INTERVAL, DidResolver
    from connector.credentials.did_web import build_did_document
    from connector.errors import VerificationFailed
    from connector.testing import throwaway_keyset

    did = "did:web:rotating.example"
    documents = [
        build_did_document(throwaway_keyset(did)),
        build_did_document(throwaway_keyset(did)),
    ]
    fetches: list[str] = []

    class Fetcher:
        def fetch(self, url: str) -> bytes:
            import json

            fetches.append(url)
            return json.dumps(documents[min(len(fetches) - 1, 1)]).encode()

    clock = FixedClock()
    resolver = DidResolver(clock, Fetcher(), ttl_seconds=300)
    first = resolver.resolve_method(f"{did}#p256", "authentication")
    assert len(fetches) == 1
    with pytest.raises(VerificationFailed):
        resolver.resolve_method(f"{did}#unknown", "authentication")
    assert len(fetches) == 1  # too soon: no re-fetch
    clock.advance(REFRESH_INTERVAL + 1)
    second = resolver.resolve_method(f"{did}#p256", "authentication")
    assert len(fetches) == 1 and second == first  # known id: cache used
    with pytest.raises(VerificationFailed):
        resolver.resolve_method(f"{did}#unknown", "authentication")
    assert len(fetches) == 2  # one re-fetch; the new document is cached now
    rotated = resolver.resolve_method(f"{did}#p256", "authentication")
    assert rotated.jwk != first.jwk
    with pytest.raises(VerificationFailed):
        resolver.resolve_method(f"{did}#still-unknown", "authentication")
    assert len(fetches) == 2
