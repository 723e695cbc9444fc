"""The participant's signing keys, as values (generation and PEM (de)serialisation, no file I/O).

A :class:`KeySet` holds an Ed25519 key (Data Integrity ``eddsa-rdfc-2022``, EdDSA JWS), a
P-256 key (``ecdsa-rdfc-2019``, ES256) and optionally an RSA-2048 key (PS256) with an X.509
certificate chain published at an ``x5u`` URL for Gaia-X compliance.
Verification method fragments: ``#ed25519``, ``#p256``, ``#rsa`` (JsonWebKey) and
``#ed25519-multikey``, ``#p256-multikey`` (Multikey) for a participant's first keys. A key made by
a rotation (``connector keys rotate``) is named ``#<kind>-<short thumbprint>`` (Multikey:
``…-multikey``) and keeps that name when it is retired in turn, so every credential keeps pointing
at the key that signed it. Retired keys (:class:`RetiredKey`) are public keys only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from jwcrypto import jwk

from connector.errors import Invalid

KeyKind = Literal["ed25519", "p256", "rsa"]
KINDS: tuple[KeyKind, ...] = ("ed25519", "p256", "rsa")
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

FRAGMENTS: dict[KeyKind, str] = {"ed25519": "ed25519", "p256": "p256", "rsa": "rsa"}
MULTIKEY_FRAGMENTS: dict[KeyKind, str] = {"ed25519": "ed25519-multikey", "p256": "p256-multikey"}
JWS_ALG: dict[KeyKind, str] = {"ed25519": "EdDSA", "p256": "ES256", "rsa": "PS256"}


def generate(kind: KeyKind) -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def from_pem(data: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise Invalid("not a PEM private key", reason="bad_key") from exc
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise Invalid("unsupported private key type", reason="bad_key")
    return key


def kind_of(key: PrivateKey) -> KeyKind:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise Invalid("only the P-256 curve is supported", reason="bad_key")
        return "p256"
    return "rsa"


def public_jwk(key: PrivateKey | PublicKey) -> dict[str, Any]:
    """The public JWK (no ``d``, no ``kid``) of a private or public key."""
    public = key.public_key() if isinstance(key, PrivateKey) else key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    exported: dict[str, Any] = jwk.JWK.from_pem(pem).export_public(as_dict=True)
    exported.pop("kid", None)
    return exported


def thumbprint(key: PrivateKey | PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of the public part of a key."""
    value: str = jwk.JWK(**public_jwk(key)).thumbprint()
    return value


def rotated_fragment(kind: KeyKind, key: PrivateKey | PublicKey) -> str:
    """The fragment of a key made by a rotation: ``<kind>-<first 8 thumbprint characters>``."""
    return f"{FRAGMENTS[kind]}-{thumbprint(key)[:8]}"


@dataclass(frozen=True)
class RetiredKey:
    """A public key no longer used for signing, still published for ``assertionMethod``."""

    kind: KeyKind
    public_key: PublicKey
    fragment: str
    """``<kind>`` for the participant's first key of that kind, else ``<kind>-<thumbprint>``."""


def self_signed_chain(key: rsa.RSAPrivateKey, subject: str, now: dt.datetime) -> bytes:
    """A PEM certificate (self-signed, one year) for the RSA key, served at the ``x5u`` URL.

    A production deployment replaces it with a chain from a Gaia-X trust anchor (eIDAS QSeal or
    another accredited CA); the file name stays the same.
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:64])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class KeySet:
    """This participant's keys, bound to its DID."""

    did: str
    ed25519: ed25519.Ed25519PrivateKey
    p256: ec.EllipticCurvePrivateKey
    rsa: rsa.RSAPrivateKey | None = None
    rsa_chain_pem: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    retired: tuple[RetiredKey, ...] = ()
    """Retired public keys, oldest first (verification only, never used for signing)."""
    fragments: dict[KeyKind, str] = field(default_factory=dict)
    """Fragment of a current key made by a rotation (absent: the fixed ``FRAGMENTS`` name)."""

    def key(self, kind: KeyKind) -> PrivateKey:
        if kind == "ed25519":
            return self.ed25519
        if kind == "p256":
            return self.p256
        if self.rsa is None:
            raise Invalid("no RSA key configured (connector init --rsa)", reason="no_key")
        return self.rsa

    def kinds(self) -> list[KeyKind]:
        kinds: list[KeyKind] = ["ed25519", "p256"]
        if self.rsa is not None:
            kinds.append("rsa")
        return kinds

    def method_id(self, kind: KeyKind, *, multikey: bool = False) -> str:
        """The verification method id of the current ``kind`` key (the one that signs)."""
        if kind not in self.fragments:
            fragment = MULTIKEY_FRAGMENTS[kind] if multikey else FRAGMENTS[kind]
            return f"{self.did}#{fragment}"
        base = self.fragments[kind]
        return f"{self.did}#{base}-multikey" if multikey else f"{self.did}#{base}"

    def fingerprint(self) -> str:
        """The thumbprints of the current keys (``kind:thumbprint`` joined by ``,``)."""
        return ",".join(f"{kind}:{thumbprint(self.key(kind))}" for kind in self.kinds())
