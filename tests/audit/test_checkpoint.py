from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connector.audit.checkpoint import CheckpointSigner, check, thumbprint, trusted_keys
from connector.credentials.did_web import build_did_document
from connector.errors import Invalid
from connector.testing import throwaway_keyset

KEYS = throwaway_keyset()
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("kind", ["ed25519", "p256"])
def test_checkpoints_verify_with_the_did_document_keys(kind: str) -> None:
    key = KEYS.ed25519 if kind == "ed25519" else KEYS.p256
    signer = CheckpointSigner(key, KEYS.method_id(kind), KEYS.did)  # type: ignore[arg-type]
    cp = signer.sign(seq=5, head="ab" * 32, at=AT, kind="periodic")
    pinned = trusted_keys(build_did_document(KEYS))
    assert check(cp, pinned) is None
    assert check(cp, None) is None  # with the embedded key
    assert signer.algorithm == ("EdDSA" if kind == "ed25519" else "ES256")


def test_tampered_checkpoints_fail() -> None:
    signer = CheckpointSigner(KEYS.ed25519, KEYS.method_id("ed25519"), KEYS.did)
    cp = signer.sign(seq=5, head="ab" * 32, at=AT, kind="on_demand")
    pinned = trusted_keys(signer.public_jwk())
    assert (
        check(dataclasses.replace(cp, seq=6), pinned)
        == "checkpoint fields differ from what was signed"
    )
    assert check(dataclasses.replace(cp, head="cd" * 32), pinned) is not None
    assert check(dataclasses.replace(cp, kind="pruned"), pinned) is not None
    assert check(dataclasses.replace(cp, kind="whatever"), pinned) is not None
    head, payload, sig = cp.jws.split(".")
    bad_sig = sig[:5] + ("A" if sig[5] != "A" else "B") + sig[6:]
    assert check(dataclasses.replace(cp, jws=f"{head}.{payload}.{bad_sig}"), pinned) is not None
    assert check(dataclasses.replace(cp, jws="not a jws"), pinned) is not None
    # A forger re-signs with their own key and embeds it: only pinning catches that.
    forger = throwaway_keyset()
    forged = CheckpointSigner(forger.ed25519, cp.kid, cp.issuer).sign(
        seq=5, head="cd" * 32, at=AT, kind="on_demand"
    )
    assert check(forged, None) is None
    assert "not trusted" in (check(forged, pinned) or "")


def test_trusted_key_documents() -> None:
    signer = CheckpointSigner(KEYS.ed25519, KEYS.method_id("ed25519"), KEYS.did)
    jwk = signer.public_jwk()
    assert list(trusted_keys(jwk)) == [thumbprint(jwk)]
    assert list(trusted_keys({"keys": [jwk]})) == [thumbprint(jwk)]
    assert len(trusted_keys(build_did_document(KEYS))) == 2
    with pytest.raises(Invalid):
        trusted_keys({"keys": []})
