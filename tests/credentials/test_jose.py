from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwk, jws

from connector.clock import FixedClock
from connector.credentials import jose
from connector.credentials import keys as keymod
from connector.credentials.did_key import did_key_from_public_key
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.errors import Invalid, VerificationFailed
from connector.testing import throwaway_keyset

ISSUER = "did:web:hagen.example"
HOLDER = "did:web:partner.example"
AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
KINDS: list[keymod.KeyKind] = ["ed25519", "p256", "rsa"]


@pytest.fixture(scope="module")
def issuer() -> keymod.KeySet:
    return throwaway_keyset(ISSUER, with_rsa=True)


@pytest.fixture(scope="module")
def holder() -> keymod.KeySet:
    return throwaway_keyset(HOLDER)


@pytest.fixture(scope="module")
def resolver(issuer: keymod.KeySet, holder: keymod.KeySet) -> DidResolver:
    holder_doc = build_did_document(holder)
    # the holder's P-256 key may authenticate but not assert; its Ed25519 key only asserts
    holder_doc["assertionMethod"] = [holder.method_id("ed25519")]
    holder_doc["authentication"] = [holder.method_id("p256")]
    return DidResolver(FixedClock(), pinned=[build_did_document(issuer), holder_doc])


def credential(**changes: Any) -> dict[str, Any]:
    vc: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://w3id.org/gaia-x/development#",
        ],
        "id": "https://hagen.example/sd/participant",
        "type": ["VerifiableCredential", "LegalPerson"],
        "issuer": ISSUER,
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "credentialSubject": {"id": ISSUER, "name": "Stadt Hagen", "ars": "059140000000"},
    }
    vc.update(changes)
    return {k: v for k, v in vc.items() if v is not None}


def b64(data: bytes | dict[str, Any]) -> str:
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], key: keymod.PrivateKey | None) -> str:
    """A compact JWS with exactly this header, signed with jwcrypto (or unsigned)."""
    if key is None:
        return f"{b64(header)}.{b64(payload)}."
    signer = jws.JWS(json.dumps(payload).encode())
    signer.add_signature(jwk.JWK.from_pyca(key), None, json.dumps(header))
    return str(signer.serialize(compact=True))


def failure(token: str, resolver: DidResolver, **kwargs: Any) -> str:
    with pytest.raises(VerificationFailed) as info:
        jose.verify_vc_jwt(token, resolver=resolver, at=kwargs.pop("at", AT), **kwargs)
    return info.value.reason


@pytest.mark.parametrize("kind", KINDS)
def test_issue_and_verify(
    issuer: keymod.KeySet, resolver: DidResolver, kind: keymod.KeyKind
) -> None:
    token = jose.issue_vc_jwt(credential(), key=issuer.key(kind), method_id=issuer.method_id(kind))
    verified = jose.verify_vc_jwt(token, resolver=resolver, at=AT)
    assert verified.header == {
        "alg": keymod.JWS_ALG[kind],
        "kid": issuer.method_id(kind),
        "typ": "vc+jwt",
    }
    assert verified.payload == credential() | {"iss": ISSUER}
    assert verified.document == credential()
    assert verified.method.id == issuer.method_id(kind)
    # interop: jwcrypto verifies what we issue, with the key from the DID document
    check = jws.JWS()
    check.deserialize(token)
    check.verify(jwk.JWK(**verified.method.jwk))
    assert json.loads(check.payload) == verified.payload


def test_multikey_method_and_other_typs(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    method_id = issuer.method_id("ed25519", multikey=True)
    for typ in ("vc+ld+jwt", "vc+ld+json+jwt"):
        token = jose.issue_vc_jwt(
            credential(), key=issuer.ed25519, method_id=method_id, typ=typ, cty="vc"
        )
        assert jose.verify_vc_jwt(token, resolver=resolver, at=AT).header["cty"] == "vc"
    header = {"alg": "EdDSA", "typ": "application/VC+JWT", "kid": method_id}
    token = forge(header, credential(), issuer.ed25519)
    assert jose.verify_vc_jwt(token, resolver=resolver, at=AT).method.type == "Multikey"


def test_relative_kid_is_resolved_against_the_issuer(
    issuer: keymod.KeySet, resolver: DidResolver
) -> None:
    token = forge({"alg": "ES256", "typ": "vc+jwt", "kid": "#p256"}, credential(), issuer.p256)
    assert jose.verify_vc_jwt(token, resolver=resolver, at=AT).method.id == issuer.method_id("p256")


def test_did_key_issuer() -> None:
    key = keymod.generate("ed25519")
    did = did_key_from_public_key(key.public_key())  # type: ignore[arg-type]
    method_id = f"{did}#{did.removeprefix('did:key:')}"
    token = jose.issue_vc_jwt(credential(issuer=did), key=key, method_id=method_id)
    assert (
        jose.verify_vc_jwt(token, resolver=DidResolver(FixedClock()), at=AT).payload["iss"] == did
    )


# --- attacks ------------------------------------------------------------------------------


def test_alg_none(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    token = forge(
        {"alg": "none", "typ": "vc+jwt", "kid": issuer.method_id("ed25519")}, credential(), None
    )
    assert failure(token, resolver) == "alg_not_allowed"


def test_hs256_with_the_public_key_as_secret(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    method_id = issuer.method_id("p256")
    for secret in (
        issuer.p256.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        json.dumps(keymod.public_jwk(issuer.p256)).encode(),
    ):
        signing_input = (
            f"{b64({'alg': 'HS256', 'typ': 'vc+jwt', 'kid': method_id})}.{b64(credential())}"
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert failure(f"{signing_input}.{b64(mac)}", resolver) == "alg_not_allowed"


@pytest.mark.parametrize(
    ("alg", "kind"),
    [
        ("ES256", "ed25519"),
        ("EdDSA", "p256"),
        ("PS256", "p256"),
        ("RS256", "rsa"),
        ("ES384", "p256"),
    ],
)
def test_alg_must_fit_the_key(
    issuer: keymod.KeySet, resolver: DidResolver, alg: str, kind: keymod.KeyKind
) -> None:
    # sign with a key that matches alg where jwcrypto can, but name the method of `kind`
    signing = {"ES256": "p256", "EdDSA": "ed25519", "PS256": "rsa", "RS256": "rsa", "ES384": None}[
        alg
    ]
    header = {"alg": alg, "typ": "vc+jwt", "kid": issuer.method_id(kind)}
    key = issuer.key(signing) if signing else None  # type: ignore[arg-type]
    assert failure(forge(header, credential(), key), resolver) == "alg_not_allowed"


@pytest.mark.parametrize("typ", [None, "JWT", "vp+jwt", "application/json", 7])
def test_wrong_typ(issuer: keymod.KeySet, resolver: DidResolver, typ: Any) -> None:
    header = {"alg": "EdDSA", "kid": issuer.method_id("ed25519")} | ({"typ": typ} if typ else {})
    assert failure(forge(header, credential(), issuer.ed25519), resolver) == "bad_typ"


def test_tampered_payload(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    token = jose.issue_vc_jwt(credential(), key=issuer.p256, method_id=issuer.method_id("p256"))
    header, _, signature = token.split(".")
    evil = credential(
        credentialSubject={"id": ISSUER, "name": "Stadt Hagen", "ars": "059130000000"}
    )
    assert (
        failure(f"{header}.{b64(evil | {'iss': ISSUER})}.{signature}", resolver) == "bad_signature"
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_changed_character_fails(
    issuer: keymod.KeySet, resolver: DidResolver, data: st.DataObject
) -> None:
    token = jose.issue_vc_jwt(
        credential(), key=issuer.ed25519, method_id=issuer.method_id("ed25519")
    )
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(
        st.sampled_from("AQgw_-.xyz09=+/ ").filter(lambda c: c != token[position])
    )
    changed = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(VerificationFailed):
        jose.verify_vc_jwt(changed, resolver=resolver, at=AT)


def test_key_not_in_the_did_document(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    stranger = keymod.generate("ed25519")
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": f"{ISSUER}#stolen"}
    assert failure(forge(header, credential(), stranger), resolver) == "method_not_authorized"
    # the right kid, the wrong key
    header["kid"] = issuer.method_id("ed25519")
    assert failure(forge(header, credential(), stranger), resolver) == "bad_signature"


def test_unknown_did(resolver: DidResolver) -> None:
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": "did:web:nowhere.example#k"}
    token = forge(header, credential(issuer="did:web:nowhere.example"), keymod.generate("ed25519"))
    assert failure(token, resolver) == "unknown_did"


def test_method_under_authentication_only_is_refused_for_credentials(
    holder: keymod.KeySet, resolver: DidResolver
) -> None:
    token = jose.sign_jws(
        credential(issuer=HOLDER), key=holder.p256, kid=holder.method_id("p256"), typ="vc+jwt"
    )
    assert failure(token, resolver) == "method_not_authorized"


def test_issuer_must_control_the_key(
    issuer: keymod.KeySet, holder: keymod.KeySet, resolver: DidResolver
) -> None:
    # signed by the holder's assertion key, claiming the city as issuer
    token = jose.sign_jws(
        credential(), key=holder.ed25519, kid=holder.method_id("ed25519"), typ="vc+jwt"
    )
    assert failure(token, resolver) == "issuer_mismatch"
    # iss disagreeing with issuer
    token = jose.sign_jws(
        credential() | {"iss": HOLDER},
        key=issuer.ed25519,
        kid=issuer.method_id("ed25519"),
        typ="vc+jwt",
    )
    assert failure(token, resolver) == "issuer_mismatch"
    with pytest.raises(Invalid) as info:
        jose.issue_vc_jwt(credential(), key=holder.ed25519, method_id=holder.method_id("ed25519"))
    assert info.value.reason == "issuer_mismatch"


@pytest.mark.parametrize(
    ("changes", "at", "expected"),
    [
        ({}, dt.datetime(2027, 1, 1, 0, 2, tzinfo=dt.UTC), "expired"),
        ({}, dt.datetime(2025, 12, 31, 23, 58, tzinfo=dt.UTC), "not_yet_valid"),
        ({"exp": AT.timestamp() - 120}, AT, "expired"),
        ({"nbf": AT.timestamp() + 120}, AT, "not_yet_valid"),
        ({"iat": AT.timestamp() + 3600}, AT, "not_yet_valid"),
        ({"exp": "tomorrow"}, AT, "malformed_jwt"),
        ({"exp": True}, AT, "malformed_jwt"),
        ({"validUntil": "next year"}, AT, "bad_credential"),
    ],
)
def test_validity_period(
    issuer: keymod.KeySet,
    resolver: DidResolver,
    changes: dict[str, Any],
    at: dt.datetime,
    expected: str,
) -> None:
    token = jose.sign_jws(
        credential(**changes), key=issuer.ed25519, kid=issuer.method_id("ed25519"), typ="vc+jwt"
    )
    assert failure(token, resolver, at=at) == expected


def test_skew_is_tolerated(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    token = jose.issue_vc_jwt(
        credential(), key=issuer.ed25519, method_id=issuer.method_id("ed25519")
    )
    for at in (
        dt.datetime(2027, 1, 1, 0, 0, 59, tzinfo=dt.UTC),
        dt.datetime(2025, 12, 31, 23, 59, 1, tzinfo=dt.UTC),
    ):
        jose.verify_vc_jwt(token, resolver=resolver, at=at)
    assert failure(token, resolver, at=at, skew_seconds=0) == "not_yet_valid"


def test_oversized_jwt(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    big = credential(credentialSubject={"id": ISSUER, "note": "x" * 300_000})
    token = jose.issue_vc_jwt(big, key=issuer.ed25519, method_id=issuer.method_id("ed25519"))
    assert failure(token, resolver) == "jwt_too_large"


def test_deeply_nested_payload_is_malformed(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    header = b64({"alg": "EdDSA", "typ": "vc+jwt", "kid": issuer.method_id("ed25519")})
    deep = b64(b"[" * 80_000 + b"]" * 80_000)
    assert failure(f"{header}.{deep}.{b64(b'x' * 64)}", resolver) == "malformed_jwt"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t + ".e30.e30",
        lambda t: "%%%." + t.split(".", 1)[1],
        lambda t: b64(b"not json") + "." + t.split(".", 1)[1],
        lambda t: (
            b64(b'{"alg":"EdDSA","alg":"none","typ":"vc+jwt","kid":"x"}') + "." + t.split(".", 1)[1]
        ),
        lambda t: t.split(".")[0] + "." + b64(b"[1,2]") + "." + t.split(".")[2],
        lambda t: t.split(".")[0] + "." + b64(b'{"a": NaN}') + "." + t.split(".")[2],
        lambda t: t.split(".")[0] + "." + t.split(".")[1] + "." + t.split(".")[2] + "==",
        lambda t: t + "é",
    ],
)
def test_malformed_tokens(issuer: keymod.KeySet, resolver: DidResolver, mangle: Any) -> None:
    token = jose.issue_vc_jwt(
        credential(), key=issuer.ed25519, method_id=issuer.method_id("ed25519")
    )
    assert failure(mangle(token), resolver) == "malformed_jwt"


@pytest.mark.parametrize(
    "extra", [{"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}, {"kid": None}, {"kid": 7}]
)
def test_unsupported_header_parameters(
    issuer: keymod.KeySet, resolver: DidResolver, extra: dict[str, Any]
) -> None:
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": issuer.method_id("ed25519")} | extra
    header = {k: v for k, v in header.items() if v is not None}
    signing_input = f"{b64(header)}.{b64(credential())}"
    token = f"{signing_input}.{b64(issuer.ed25519.sign(signing_input.encode()))}"
    assert failure(token, resolver) == "malformed_jwt"


def test_embedded_jwk_header_is_ignored(issuer: keymod.KeySet, resolver: DidResolver) -> None:
    attacker = keymod.generate("ed25519")
    header = {
        "alg": "EdDSA",
        "typ": "vc+jwt",
        "kid": issuer.method_id("ed25519"),
        "jwk": keymod.public_jwk(attacker),
    }
    assert failure(forge(header, credential(), attacker), resolver) == "bad_signature"


@pytest.mark.parametrize(
    "changes",
    [
        {"@context": ["https://www.w3.org/2018/credentials/v1"]},
        {"type": ["LegalPerson"]},
        {"issuer": None},
    ],
)
def test_not_a_vcdm2_credential(
    issuer: keymod.KeySet, resolver: DidResolver, changes: dict[str, Any]
) -> None:
    payload = credential(**changes)
    token = jose.sign_jws(
        payload, key=issuer.ed25519, kid=issuer.method_id("ed25519"), typ="vc+jwt"
    )
    assert failure(token, resolver) == "bad_credential"


# --- presentations --------------------------------------------------------------------------


def vc_jwt(issuer: keymod.KeySet, **changes: Any) -> str:
    return jose.issue_vc_jwt(
        credential(**changes), key=issuer.p256, method_id=issuer.method_id("p256")
    )


def test_presentation_round_trip(
    issuer: keymod.KeySet, holder: keymod.KeySet, resolver: DidResolver
) -> None:
    member_key = keymod.generate("ed25519")
    authority = did_key_from_public_key(member_key.public_key())  # type: ignore[arg-type]
    membership = jose.issue_vc_jwt(
        credential(issuer=authority, type=["VerifiableCredential", "MembershipCredential"]),
        key=member_key,
        method_id=f"{authority}#{authority.removeprefix('did:key:')}",
    )
    token = jose.issue_vp_jwt(
        [vc_jwt(issuer), membership],
        key=holder.p256,
        method_id=holder.method_id("p256"),
        audience=ISSUER,
        nonce="n-0S6_WzA2Mj",
        issued_at=AT,
        presentation_id="urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
    )
    verified = jose.verify_vp_jwt(
        token, resolver=resolver, at=AT, audience=ISSUER, nonce="n-0S6_WzA2Mj"
    )
    assert verified.header["typ"] == "vp+jwt"
    assert verified.payload["holder"] == HOLDER
    assert verified.payload["verifiableCredential"][0]["id"].startswith(
        "data:application/vc+jwt,ey"
    )
    assert [c.method.controller for c in verified.credentials] == [ISSUER, authority]
    assert verified.credentials[1].payload["type"][1] == "MembershipCredential"
    assert "aud" not in verified.document and "nonce" not in verified.document


def test_gaia_x_icam_envelope_is_accepted(
    issuer: keymod.KeySet, holder: keymod.KeySet, resolver: DidResolver
) -> None:
    token = jose.issue_vp_jwt(
        [vc_jwt(issuer)],
        key=holder.p256,
        method_id=holder.method_id("p256"),
        audience=ISSUER,
        issued_at=AT,
        typ="vp+ld+json+jwt",
        envelope_media_type="application/vc+ld+json+jwt",
    )
    verified = jose.verify_vp_jwt(token, resolver=resolver, at=AT, audience=ISSUER)
    assert verified.payload["verifiableCredential"][0]["id"].startswith(
        "data:application/vc+ld+json+jwt,"
    )
    assert len(verified.credentials) == 1


def vp_failure(token: str, resolver: DidResolver, **kwargs: Any) -> VerificationFailed:
    kwargs.setdefault("audience", ISSUER)
    with pytest.raises(VerificationFailed) as info:
        jose.verify_vp_jwt(token, resolver=resolver, at=kwargs.pop("at", AT), **kwargs)
    return info.value


def vp_payload(credentials: list[Any], **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": HOLDER,
        "verifiableCredential": credentials,
        "iss": HOLDER,
        "aud": ISSUER,
        "iat": int(AT.timestamp()),
        "exp": int(AT.timestamp()) + 300,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def test_presentation_audience_nonce_and_lifetime(
    issuer: keymod.KeySet, holder: keymod.KeySet, resolver: DidResolver
) -> None:
    token = jose.issue_vp_jwt(
        [vc_jwt(issuer)],
        key=holder.p256,
        method_id=holder.method_id("p256"),
        audience="did:web:other.example",
        nonce="abc",
        issued_at=AT,
    )
    assert vp_failure(token, resolver).reason == "audience_mismatch"
    assert (
        vp_failure(token, resolver, audience="did:web:other.example", nonce="xyz").reason
        == "nonce_mismatch"
    )
    later = AT + dt.timedelta(minutes=10)
    assert (
        vp_failure(token, resolver, audience="did:web:other.example", at=later).reason == "expired"
    )
    unbounded = jose.sign_jws(
        vp_payload([], exp=None), key=holder.p256, kid=holder.method_id("p256"), typ="vp+jwt"
    )
    assert vp_failure(unbounded, resolver).reason == "missing_expiry"
    listed = jose.sign_jws(
        vp_payload([], aud=["did:web:x.example", ISSUER]),
        key=holder.p256,
        kid=holder.method_id("p256"),
        typ="vp+jwt",
    )
    assert jose.verify_vp_jwt(listed, resolver=resolver, at=AT, audience=ISSUER).credentials == ()


def test_presentation_needs_an_authentication_key_of_the_holder(
    issuer: keymod.KeySet, holder: keymod.KeySet, resolver: DidResolver
) -> None:
    # the holder's Ed25519 key is an assertion method only
    token = jose.sign_jws(
        vp_payload([]), key=holder.ed25519, kid=holder.method_id("ed25519"), typ="vp+jwt"
    )
    assert vp_failure(token, resolver).reason == "method_not_authorized"
    # someone else's authentication key presenting as the holder
    token = jose.sign_jws(
        vp_payload([]), key=issuer.p256, kid=issuer.method_id("p256"), typ="vp+jwt"
    )
    assert vp_failure(token, resolver).reason == "holder_mismatch"
    # a vc+jwt is not a presentation
    assert vp_failure(vc_jwt(issuer), resolver).reason == "bad_typ"


def test_presented_credentials_are_verified(
    issuer: keymod.KeySet, holder: keymod.KeySet, resolver: DidResolver
) -> None:
    good = vc_jwt(issuer)
    header, _payload, signature = good.split(".")
    tampered = (
        f"{header}.{b64(credential(issuer=ISSUER, id='urn:evil') | {'iss': ISSUER})}.{signature}"
    )
    expired = vc_jwt(issuer, validUntil="2026-02-01T00:00:00Z")
    cases = [
        ([jose.envelope(good), jose.envelope(tampered)], "bad_signature", 1),
        ([jose.envelope(expired)], "expired", 0),
        ([credential()], "unsupported_credential_format", 0),
        (
            [{"type": "EnvelopedVerifiableCredential", "id": "data:text/plain," + good}],
            "unsupported_credential_format",
            0,
        ),
        (
            [{"type": "EnvelopedVerifiableCredential", "id": "data:application/vp+jwt," + good}],
            "unsupported_credential_format",
            0,
        ),
    ]
    for entries, expected, index in cases:
        token = jose.sign_jws(
            vp_payload(entries), key=holder.p256, kid=holder.method_id("p256"), typ="vp+jwt"
        )
        error = vp_failure(token, resolver)
        assert (error.reason, error.context.get("credential_index")) == (expected, index)
    too_many = jose.sign_jws(
        vp_payload([jose.envelope(good)] * 3),
        key=holder.p256,
        kid=holder.method_id("p256"),
        typ="vp+jwt",
    )
    assert vp_failure(too_many, resolver, max_credentials=2).reason == "bad_presentation"
