"""Self-issued ID tokens: issue, verify, and every attack of issue 5 refused with its reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk, jws

from connector.credentials.jose import sign_jws
from connector.credentials.keys import public_jwk
from connector.errors import Unauthorized
from connector.identity.scopes import MEMBERSHIP_SCOPE
from connector.identity.tokens import MAX_LIFETIME_SECONDS, SelfIssuedTokenSource
from connector.testing import FixedClock, throwaway_keyset

from .conftest import CONSUMER, PROVIDER, World


def _json_segment(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(world: World, **overrides: Any) -> dict[str, Any]:
    iat = int(world.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": CONSUMER,
        "sub": CONSUMER,
        "aud": PROVIDER,
        "jti": "jti-1",
        "iat": iat,
        "exp": iat + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(world: World, claims: dict[str, Any], *, typ: str | None = "JWT") -> str:
    return sign_jws(claims, key=world.consumer.p256, kid=world.consumer.method_id("p256"), typ=typ)


def _refused(world: World, authorization: str | None) -> str:
    with pytest.raises(Unauthorized) as info:
        world.authenticator().authenticate(authorization)
    return info.value.reason


def test_round_trip_yields_the_caller_and_its_access_token(world: World) -> None:
    header = world.source(default_scopes=[MEMBERSHIP_SCOPE]).token_for(PROVIDER)
    assert header.startswith("Bearer ")
    caller = world.authenticator().authenticate(header)
    assert caller.did == CONSUMER
    assert caller.claims["aud"] == PROVIDER
    assert caller.claims["exp"] - caller.claims["iat"] == 300
    assert isinstance(caller.claims["token"], str)


def test_access_token_is_reused_within_half_its_lifetime_id_token_never(world: World) -> None:
    source = world.source(default_scopes=[MEMBERSHIP_SCOPE])
    first = world.authenticator().authenticate(source.token_for(PROVIDER))
    world.clock.advance(100)
    second = world.authenticator().authenticate(source.token_for(PROVIDER))
    assert second.claims["token"] == first.claims["token"]
    assert second.claims["jti"] != first.claims["jti"]
    world.clock.advance(60)  # 160 s of 300: less than half is left
    third = world.authenticator().authenticate(source.token_for(PROVIDER))
    assert third.claims["token"] != first.claims["token"]
    other = world.authenticator().authenticate(source.token_for(PROVIDER, scopes=["x:y"]))
    assert other.claims["token"] != third.claims["token"]


def test_the_token_is_es256_with_a_kid_of_our_did_document(world: World) -> None:
    token = world.source().token_for(PROVIDER).removeprefix("Bearer ")
    header = _json_segment(token.split(".")[0])
    assert header["alg"] == "ES256"
    assert header["kid"] == world.consumer.method_id("p256")
    assert "token" not in _json_segment(token.split(".")[1])


def test_eddsa_tokens_are_supported(world: World) -> None:
    header = world.source(kind="ed25519").token_for(PROVIDER)
    assert world.authenticator().authenticate(header).did == CONSUMER


def test_lifetime_over_five_minutes_cannot_be_configured(world: World) -> None:
    with pytest.raises(ValueError):
        SelfIssuedTokenSource(world.consumer, world.clock, lifetime_seconds=301)


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Basic dXNlcjpwYXNz", "malformed_authorization"),
        ("Bearer", "malformed_authorization"),
        ("Bearer a b", "malformed_authorization"),
        ("Bearer not-a-jwt", "malformed_jwt"),
        ("Bearer a.b.c", "malformed_jwt"),
        ("Bearer " + "e30." * 2 + "x", "alg_not_allowed"),
    ],
)
def test_missing_or_malformed_tokens_are_refused(
    world: World, authorization: str | None, reason: str
) -> None:
    assert _refused(world, authorization) == reason


def test_alg_none_is_refused(world: World) -> None:
    header = {"alg": "none", "kid": world.consumer.method_id("p256"), "typ": "JWT"}
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(world)).encode())}."
    assert _refused(world, f"Bearer {token}") == "alg_not_allowed"


def test_hmac_signed_with_the_public_key_is_refused(world: World) -> None:
    public_pem = world.consumer.p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": world.consumer.method_id("p256"), "typ": "JWT"}
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(world)).encode())}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert _refused(world, f"Bearer {signing_input}.{_b64(mac)}") == "alg_not_allowed"


def test_wrong_audience_is_refused(world: World) -> None:
    header = world.source().token_for("did:web:someone-else.test")
    assert _refused(world, header) == "audience_mismatch"


def test_expired_token_is_refused(world: World) -> None:
    header = world.source().token_for(PROVIDER)
    world.clock.advance(300 + 31)
    assert _refused(world, header) == "expired"


def test_token_within_the_clock_skew_is_accepted(world: World) -> None:
    header = world.source().token_for(PROVIDER)
    world.clock.advance(300 + 29)
    assert world.authenticator().authenticate(header).did == CONSUMER


def test_iat_far_in_the_future_is_refused(world: World) -> None:
    ahead = FixedClock(world.clock.now())
    ahead.advance(3600)
    source = SelfIssuedTokenSource(world.consumer, ahead)
    assert _refused(world, source.token_for(PROVIDER)) == "issued_in_future"


def test_nbf_in_the_future_is_refused(world: World) -> None:
    nbf = int(world.clock.now().timestamp()) + 120
    token = _signed(world, _claims(world, nbf=nbf))
    assert _refused(world, f"Bearer {token}") == "issued_in_future"


def test_lifetime_longer_than_five_minutes_is_refused(world: World) -> None:
    iat = int(world.clock.now().timestamp())
    token = _signed(world, _claims(world, exp=iat + MAX_LIFETIME_SECONDS + 60))
    assert _refused(world, f"Bearer {token}") == "lifetime_too_long"


@pytest.mark.parametrize("missing", ["iss", "sub", "aud", "jti", "iat", "exp"])
def test_each_required_claim_is_required(world: World, missing: str) -> None:
    token = _signed(world, _claims(world, **{missing: None}))
    assert _refused(world, f"Bearer {token}") == "missing_claim"


def test_iss_and_sub_must_match(world: World) -> None:
    token = _signed(world, _claims(world, sub=PROVIDER))
    assert _refused(world, f"Bearer {token}") == "issuer_mismatch"


def test_a_key_of_another_did_cannot_speak_for_the_issuer(world: World) -> None:
    claims = _claims(world, iss=world.authority.did, sub=world.authority.did)
    token = _signed(world, claims)  # signed with the consumer's key, claims to be the authority
    assert _refused(world, f"Bearer {token}") == "issuer_mismatch"


def test_replayed_jti_is_refused(world: World) -> None:
    header = world.source().token_for(PROVIDER)
    authenticator = world.authenticator()
    authenticator.authenticate(header)
    with pytest.raises(Unauthorized) as info:
        authenticator.authenticate(header)
    assert info.value.reason == "replayed_jti"


def test_the_same_jti_of_two_issuers_is_not_a_replay(world: World) -> None:
    authenticator = world.authenticator()
    mine = world.source(jti=lambda: "same").token_for(PROVIDER)
    theirs = world.source(world.authority, jti=lambda: "same").token_for(PROVIDER)
    assert authenticator.authenticate(mine).did == CONSUMER
    assert authenticator.authenticate(theirs).did == world.authority.did


def test_key_not_in_the_did_document_is_refused(world: World) -> None:
    stranger = throwaway_keyset(CONSUMER)
    forged = SelfIssuedTokenSource(stranger, world.clock).token_for(PROVIDER)
    assert _refused(world, forged) == "bad_signature"
    token = sign_jws(_claims(world), key=stranger.p256, kid=CONSUMER + "#rotated-away", typ="JWT")
    assert _refused(world, f"Bearer {token}") == "method_not_authorized"


def test_unknown_did_is_refused(world: World) -> None:
    stranger = throwaway_keyset("did:web:unknown.test")
    header = SelfIssuedTokenSource(stranger, world.clock).token_for(PROVIDER)
    assert _refused(world, header) == "unknown_did"


def test_an_access_token_is_not_an_id_token(world: World) -> None:
    access = world.source().access_token(PROVIDER, [MEMBERSHIP_SCOPE])
    assert _refused(world, f"Bearer {access}") == "bad_typ"


def test_a_credential_jwt_is_not_an_id_token(world: World) -> None:
    token = _signed(world, _claims(world), typ="vc+jwt")
    assert _refused(world, f"Bearer {token}") == "bad_typ"


def test_a_token_without_typ_is_accepted(world: World) -> None:
    token = _signed(world, _claims(world), typ=None)
    assert world.authenticator().authenticate(f"Bearer {token}").did == CONSUMER


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw_-x"))
def test_any_tampering_is_refused(world: World, position: int, replacement: str) -> None:
    token = world.source(jti=lambda: "fixed").token_for(PROVIDER).removeprefix("Bearer ")
    index = position % len(token)
    if token[index] in {".", replacement}:
        return
    tampered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(Unauthorized):
        world.authenticator().authenticate(f"Bearer {tampered}")


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_arbitrary_headers_are_refused_with_unauthorized(world: World, value: str) -> None:
    with pytest.raises(Unauthorized):
        world.authenticator().authenticate(value)


def test_bare_credential_types_become_dcp_scopes(world: World) -> None:
    header = world.source().token_for(PROVIDER, scopes=["MembershipCredential"])
    access = world.authenticator().authenticate(header).claims["token"]
    payload = _json_segment(access.split(".")[1])
    assert payload["scope"] == MEMBERSHIP_SCOPE
    assert payload["aud"] == PROVIDER and payload["iss"] == CONSUMER


SINGLE = "did:web:single.test"


def _single_key_document(keyset: Any, relationship: str) -> dict[str, Any]:
    method = f"{SINGLE}#key-1"
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": SINGLE,
        "verificationMethod": [
            {
                "id": method,
                "type": "JsonWebKey",
                "controller": SINGLE,
                "publicKeyJwk": public_jwk(keyset.p256),
            }
        ],
        relationship: [method],
    }


def _without_kid(claims: dict[str, Any], key: Any) -> str:
    signer = jws.JWS(json.dumps(claims).encode())
    header = json.dumps({"alg": "ES256", "typ": "JWT"})
    signer.add_signature(jwk.JWK.from_pyca(key), None, header)
    return "Bearer " + str(signer.serialize(compact=True))


def test_a_token_without_kid_uses_the_only_key_of_the_did_document(world: World) -> None:
    keyset = throwaway_keyset(SINGLE)
    world.resolver.pin(_single_key_document(keyset, "capabilityInvocation"))
    claims = _claims(world, iss=SINGLE, sub=SINGLE)
    caller = world.authenticator().authenticate(_without_kid(claims, keyset.p256))
    assert caller.did == SINGLE
    # the only key must still be the signer's
    forged = _without_kid(_claims(world, iss=SINGLE, sub=SINGLE, jti="j2"), world.consumer.p256)
    assert _refused(world, forged) == "bad_signature"


def test_a_token_without_kid_is_refused_when_the_key_is_ambiguous_or_unfit(
    world: World,
) -> None:
    # several keys (ours): DCP says reject
    claims = _claims(world)
    assert _refused(world, _without_kid(claims, world.consumer.p256)) == "ambiguous_key"
    # no iss to find a DID document by
    anonymous = _claims(world, iss=None, jti="j3")
    assert _refused(world, _without_kid(anonymous, world.consumer.p256)) == "malformed_jwt"
    # the only key is not one the DID subject authorises for tokens
    keyset = throwaway_keyset(SINGLE)
    world.resolver.pin(_single_key_document(keyset, "assertionMethod"))
    token = _without_kid(_claims(world, iss=SINGLE, sub=SINGLE, jti="j4"), keyset.p256)
    assert _refused(world, token) == "method_not_authorized"
