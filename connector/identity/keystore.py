"""Key files in ``<data dir>/keys`` (mode 0600): created by ``connector init``, loaded at start."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from connector.credentials import keys as keymod
from connector.errors import Invalid

_FILES: dict[keymod.KeyKind, str] = {
    "ed25519": "ed25519.pem",
    "p256": "p256.pem",
    "rsa": "rsa.pem",
}
CHAIN_FILE = "rsa-chain.pem"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_keys(keys_dir: Path, *, with_rsa: bool, did: str, now: dt.datetime) -> list[Path]:
    """Create whatever key files are missing; returns the files created. Never overwrites."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    created: list[Path] = []
    kinds: list[keymod.KeyKind] = ["ed25519", "p256", "rsa"] if with_rsa else ["ed25519", "p256"]
    for kind in kinds:
        path = keys_dir / _FILES[kind]
        if path.exists():
            continue
        _write_private(path, keymod.to_pem(keymod.generate(kind)))
        created.append(path)
    rsa_path = keys_dir / _FILES["rsa"]
    chain_path = keys_dir / CHAIN_FILE
    if rsa_path.exists() and not chain_path.exists():
        key = keymod.from_pem(rsa_path.read_bytes())
        assert isinstance(key, rsa.RSAPrivateKey)
        chain_path.write_bytes(keymod.self_signed_chain(key, did, now))
        created.append(chain_path)
    return created


def load_keys(keys_dir: Path, did: str) -> keymod.KeySet:
    """Load the key files; an absent or unreadable Ed25519/P-256 key is an error."""

    def read(kind: keymod.KeyKind) -> keymod.PrivateKey | None:
        path = keys_dir / _FILES[kind]
        if not path.exists():
            return None
        mode = path.stat().st_mode & 0o077
        if mode:
            os.chmod(path, 0o600)
        return keymod.from_pem(path.read_bytes())

    ed = read("ed25519")
    p256 = read("p256")
    if not isinstance(ed, ed25519.Ed25519PrivateKey) or not isinstance(
        p256, ec.EllipticCurvePrivateKey
    ):
        raise Invalid(f"keys missing in {keys_dir}: run 'connector init'", reason="no_key")
    rsa_key = read("rsa")
    chain_path = keys_dir / CHAIN_FILE
    return keymod.KeySet(
        did=did,
        ed25519=ed,
        p256=p256,
        rsa=rsa_key if isinstance(rsa_key, rsa.RSAPrivateKey) else None,
        rsa_chain_pem=chain_path.read_bytes() if chain_path.exists() else None,
    )
