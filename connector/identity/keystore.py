"""Key files in ``<data dir>/keys`` (mode 0600): created by ``connector init``, loaded at start.

``connector keys rotate`` moves a current key file to ``retired/<kind>-<UTC timestamp>.pem``
(``-2``, ``-3``… when two rotations fall in the same second) and writes a new key. Retired keys
are loaded as public keys only (:class:`connector.credentials.keys.RetiredKey`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
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
RETIRED_DIR = "retired"
_RETIRED_NAME = re.compile(r"^(ed25519|p256|rsa)-(\d{8}T\d{6}Z)(?:-(\d+))?\.pem$")


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
    retired = load_retired(keys_dir)
    fragments: dict[keymod.KeyKind, str] = {}
    current: dict[keymod.KeyKind, keymod.PrivateKey | None] = {
        "ed25519": ed,
        "p256": p256,
        "rsa": rsa_key,
    }
    for kind, key in current.items():
        if key is not None and any(r.kind == kind for r in retired):
            fragments[kind] = keymod.rotated_fragment(kind, key)
    return keymod.KeySet(
        did=did,
        ed25519=ed,
        p256=p256,
        rsa=rsa_key if isinstance(rsa_key, rsa.RSAPrivateKey) else None,
        rsa_chain_pem=chain_path.read_bytes() if chain_path.exists() else None,
        retired=retired,
        fragments=fragments,
    )


def _retired_files(keys_dir: Path) -> list[tuple[keymod.KeyKind, Path]]:
    """The retired key files, oldest first per kind (by timestamp, then counter)."""
    directory = keys_dir / RETIRED_DIR
    if not directory.is_dir():
        return []
    found: list[tuple[str, int, keymod.KeyKind, Path]] = []
    for path in directory.iterdir():
        match = _RETIRED_NAME.match(path.name)
        if match is None:
            continue
        kind: keymod.KeyKind = match.group(1)  # type: ignore[assignment]
        found.append((match.group(2), int(match.group(3) or 1), kind, path))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(kind, path) for _, _, kind, path in found]


def load_retired(keys_dir: Path) -> tuple[keymod.RetiredKey, ...]:
    """The retired public keys; the first of each kind keeps the fixed fragment (``#<kind>``)."""
    result: list[keymod.RetiredKey] = []
    seen: set[str] = set()
    for kind, path in _retired_files(keys_dir):
        key = keymod.from_pem(path.read_bytes())
        if keymod.kind_of(key) != kind:
            raise Invalid(f"{path} does not hold a {kind} key", reason="bad_key")
        fragment = keymod.FRAGMENTS[kind] if kind not in seen else None
        seen.add(kind)
        result.append(
            keymod.RetiredKey(
                kind=kind,
                public_key=key.public_key(),
                fragment=fragment or keymod.rotated_fragment(kind, key),
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class Rotation:
    """One rotated key: where the old one went and the thumbprints of old and new."""

    kind: keymod.KeyKind
    retired_path: Path
    old_key: str
    new_key: str


def _retired_path(keys_dir: Path, kind: keymod.KeyKind, now: dt.datetime) -> Path:
    directory = keys_dir / RETIRED_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{kind}-{stamp}.pem"
    counter = 2
    while path.exists():
        path = directory / f"{kind}-{stamp}-{counter}.pem"
        counter += 1
    return path


def rotate_key(keys_dir: Path, kind: keymod.KeyKind, *, did: str, now: dt.datetime) -> Rotation:
    """Retire the current ``kind`` key (moved, still 0600) and write a new one.

    For RSA the self-signed certificate chain is replaced too (the old one is kept beside the
    retired key as ``…-chain.pem``).
    """
    current = keys_dir / _FILES[kind]
    if not current.is_file():
        raise Invalid(f"no {kind} key in {keys_dir}", reason="no_key")
    old = keymod.from_pem(current.read_bytes())
    new = keymod.generate(kind)
    target = _retired_path(keys_dir, kind, now)
    _write_private(target, current.read_bytes())
    staged = keys_dir / f".{_FILES[kind]}.new"
    staged.unlink(missing_ok=True)
    _write_private(staged, keymod.to_pem(new))
    os.replace(staged, current)
    if kind == "rsa":
        chain = keys_dir / CHAIN_FILE
        if chain.exists():
            os.replace(chain, target.with_name(target.stem + "-chain.pem"))
        assert isinstance(new, rsa.RSAPrivateKey)
        chain.write_bytes(keymod.self_signed_chain(new, did, now))
    return Rotation(
        kind=kind,
        retired_path=target,
        old_key=keymod.thumbprint(old),
        new_key=keymod.thumbprint(new),
    )
