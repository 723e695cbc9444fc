from __future__ import annotations

import stat
from pathlib import Path

import pytest

from connector.clock import FixedClock
from connector.errors import Invalid
from connector.identity.keystore import init_keys, load_keys


def test_init_creates_private_files_once(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    now = FixedClock().now()
    created = init_keys(keys_dir, with_rsa=True, did="did:web:x.example", now=now)
    assert sorted(p.name for p in created) == [
        "ed25519.pem",
        "p256.pem",
        "rsa-chain.pem",
        "rsa.pem",
    ]
    for name in ("ed25519.pem", "p256.pem", "rsa.pem"):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
    before = (keys_dir / "ed25519.pem").read_bytes()
    assert init_keys(keys_dir, with_rsa=True, did="did:web:x.example", now=now) == []
    assert (keys_dir / "ed25519.pem").read_bytes() == before
    keyset = load_keys(keys_dir, "did:web:x.example")
    assert keyset.kinds() == ["ed25519", "p256", "rsa"]
    assert keyset.rsa_chain_pem is not None and b"BEGIN CERTIFICATE" in keyset.rsa_chain_pem


def test_load_without_keys_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="connector init"):
        load_keys(tmp_path, "did:web:x.example")


def test_corrupt_key_file_is_a_clear_error(tmp_path: Path) -> None:
    init_keys(tmp_path, with_rsa=False, did="did:web:x.example", now=FixedClock().now())
    (tmp_path / "p256.pem").write_text("garbage")
    with pytest.raises(Invalid, match="PEM"):
        load_keys(tmp_path, "did:web:x.example")
