"""Multikey / multibase encoding of public keys (base58btc, ``z`` prefix).

Ed25519 public keys carry the multicodec prefix ``0xed01``; P-256 public keys (compressed SEC1)
carry ``0x8024``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from connector.errors import Invalid

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}

ED25519_PREFIX = b"\xed\x01"
P256_PREFIX = b"\x80\x24"

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    num = int.from_bytes(data, "big")
    out = []
    while num:
        num, rem = divmod(num, 58)
        out.append(_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    if len(text) > 256:
        raise Invalid("multibase value too long", reason="bad_key")
    num = 0
    for char in text:
        if char not in _INDEX:
            raise Invalid("invalid base58 character", reason="bad_key")
        num = num * 58 + _INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * zeros + body


def encode_public_key(key: PublicKey) -> str:
    """The ``publicKeyMultibase`` value of an Ed25519 or P-256 public key."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return "z" + b58encode(ED25519_PREFIX + raw)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        raw = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        return "z" + b58encode(P256_PREFIX + raw)
    raise Invalid("only Ed25519 and P-256 keys have a Multikey form here", reason="bad_key")


def decode_public_key(value: str) -> PublicKey:
    """Parse a ``publicKeyMultibase`` value (base58btc) into a public key."""
    if not value.startswith("z"):
        raise Invalid("publicKeyMultibase must be base58btc ('z' prefix)", reason="bad_key")
    data = b58decode(value[1:])
    try:
        if data.startswith(ED25519_PREFIX) and len(data) == 34:
            return ed25519.Ed25519PublicKey.from_public_bytes(data[2:])
        if data.startswith(P256_PREFIX) and len(data) == 35:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[2:])
    except ValueError as exc:
        raise Invalid("publicKeyMultibase is not a valid key", reason="bad_key") from exc
    raise Invalid("unsupported multikey type (Ed25519 and P-256 only)", reason="bad_key")
