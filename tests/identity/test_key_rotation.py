"""Key rotation: retired keys keep verifying old credentials, never sign or authenticate again."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.clock import FixedClock
from connector.credentials import data_integrity, jose
from connector.credentials import keys as keymod
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.credentials.jsonld import default_loader
from connector.errors import Unauthorized, VerificationFailed
from connector.identity.keystore import init_keys, load_keys, rotate_key
from connector.identity.replay import MemoryReplayStore
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.stores.sd_files import SelfDescriptionFolder
from connector.stores.sd_publisher import is_current, publish

DID = "did:web:hagen.example"
PEER = "did:web:partner.example"
CLOCK = FixedClock("2026-12-01T10:00:00Z")
ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _published(keyset: keymod.KeySet) -> dict[str, Any]:
    """The DID document as ``connector serve`` publishes it (``capabilityInvocation`` added)."""
    document = build_did_document(keyset)
    document["capabilityInvocation"] = list(document["authentication"])
    return document


def _credential() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "https://hagen.example/credentials/1",
        "type": ["VerifiableCredential"],
        "issuer": DID,
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-06-01T00:00:00Z",
        "credentialSubject": {"id": PEER},
    }


def _sign_both(keyset: keymod.KeySet) -> tuple[dict[str, Any], str]:
    """A Data Integrity (Ed25519) and a vc+jwt (P-256) credential signed with the current keys."""
    signed = data_integrity.sign(
        _credential(),
        key=keyset.ed25519,
        verification_method=keyset.method_id("ed25519", multikey=True),
        created=CLOCK.now(),
        loader=default_loader(),
    )
    token = jose.issue_vc_jwt(_credential(), key=keyset.p256, method_id=keyset.method_id("p256"))
    return signed, token


def _verify_both(credentials: tuple[dict[str, Any], str], resolver: DidResolver) -> None:
    signed, token = credentials
    data_integrity.verify(signed, resolve=resolver, loader=default_loader(), clock=CLOCK)
    jose.verify_vc_jwt(token, resolver=resolver, at=CLOCK.now())


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    init_keys(directory, with_rsa=False, did=DID, now=CLOCK.now())
    return directory


def test_rotation_retires_the_file_and_publishes_old_and_new(keys_dir: Path) -> None:
    before = load_keys(keys_dir, DID)
    old_pem = (keys_dir / "ed25519.pem").read_bytes()
    rotation = rotate_key(keys_dir, "ed25519", did=DID, now=CLOCK.now())
    assert rotation.retired_path == keys_dir / "retired" / "ed25519-20261201T100000Z.pem"
    assert rotation.retired_path.read_bytes() == old_pem
    assert _mode(rotation.retired_path) == 0o600 and _mode(keys_dir / "ed25519.pem") == 0o600
    assert _mode(keys_dir / "retired") == 0o700
    after = load_keys(keys_dir, DID)
    assert rotation.old_key == keymod.thumbprint(before.ed25519)
    assert rotation.new_key == keymod.thumbprint(after.ed25519) != rotation.old_key
    assert after.p256.private_numbers() == before.p256.private_numbers()  # only ed25519 rotated

    new_id = after.method_id("ed25519")
    assert new_id == f"{DID}#ed25519-{rotation.new_key[:8]}"
    assert after.method_id("ed25519", multikey=True) == new_id + "-multikey"
    assert after.method_id("p256") == f"{DID}#p256"
    document = build_did_document(after)
    ids = [m["id"] for m in document["verificationMethod"]]
    assert len(ids) == len(set(ids))
    old_ids = {f"{DID}#ed25519", f"{DID}#ed25519-multikey"}
    assert old_ids | {new_id, new_id + "-multikey"} <= set(ids)
    assert old_ids <= set(document["assertionMethod"])
    assert not old_ids & set(document["authentication"])
    assert {new_id, new_id + "-multikey"} <= set(document["authentication"])
    jwk = next(m for m in document["verificationMethod"] if m["id"] == f"{DID}#ed25519")
    assert keymod.thumbprint(before.ed25519) == keymod.thumbprint(after.retired[0].public_key)
    assert "d" not in jwk["publicKeyJwk"]


def test_credentials_signed_before_rotations_still_verify(keys_dir: Path) -> None:
    first = load_keys(keys_dir, DID)
    signed_first = _sign_both(first)
    rotate_key(keys_dir, "ed25519", did=DID, now=CLOCK.now())
    rotate_key(keys_dir, "p256", did=DID, now=CLOCK.now())
    second = load_keys(keys_dir, DID)
    signed_second = _sign_both(second)
    resolver = DidResolver(CLOCK, pinned=[_published(second)])
    _verify_both(signed_first, resolver)
    _verify_both(signed_second, resolver)

    for kind in ("ed25519", "p256"):
        rotate_key(keys_dir, kind, did=DID, now=CLOCK.now())  # type: ignore[arg-type]
    third = load_keys(keys_dir, DID)
    resolver = DidResolver(CLOCK, pinned=[_published(third)])
    for credentials in (signed_first, signed_second, _sign_both(third)):
        _verify_both(credentials, resolver)


def test_a_retired_key_cannot_pass_for_the_current_one(keys_dir: Path) -> None:
    old = load_keys(keys_dir, DID)
    rotate_key(keys_dir, "ed25519", did=DID, now=CLOCK.now())
    new = load_keys(keys_dir, DID)
    forged = data_integrity.sign(
        _credential(),
        key=old.ed25519,
        verification_method=new.method_id("ed25519", multikey=True),
        created=CLOCK.now(),
        loader=default_loader(),
    )
    resolver = DidResolver(CLOCK, pinned=[_published(new)])
    with pytest.raises(VerificationFailed):
        data_integrity.verify(forged, resolve=resolver, loader=default_loader(), clock=CLOCK)


def test_tokens_signed_with_retired_keys_are_refused(keys_dir: Path) -> None:
    keysets = [load_keys(keys_dir, DID)]
    for _ in range(2):
        for kind in ("ed25519", "p256"):
            rotate_key(keys_dir, kind, did=DID, now=CLOCK.now())  # type: ignore[arg-type]
        keysets.append(load_keys(keys_dir, DID))
    resolver = DidResolver(CLOCK, pinned=[_published(keysets[-1])])
    authenticator = SelfIssuedAuthenticator(resolver, PEER, MemoryReplayStore(CLOCK), CLOCK)
    for kind in ("ed25519", "p256"):
        current = SelfIssuedTokenSource(keysets[-1], CLOCK, kind=kind)  # type: ignore[arg-type]
        assert authenticator.verify(current.issue(PEER)).did == DID
        for retired in keysets[:-1]:
            token = SelfIssuedTokenSource(retired, CLOCK, kind=kind).issue(PEER)  # type: ignore[arg-type]
            with pytest.raises(Unauthorized):
                authenticator.verify(token)


def test_rotating_twice_keeps_both_retired_keys(keys_dir: Path) -> None:
    first = rotate_key(keys_dir, "ed25519", did=DID, now=CLOCK.now())
    second = rotate_key(keys_dir, "ed25519", did=DID, now=CLOCK.now())
    assert second.retired_path.name == "ed25519-20261201T100000Z-2.pem"
    assert second.old_key == first.new_key
    retired_files = sorted((keys_dir / "retired").iterdir())
    assert len(retired_files) == 2 and all(_mode(p) == 0o600 for p in retired_files)
    keyset = load_keys(keys_dir, DID)
    assert [keymod.thumbprint(r.public_key) for r in keyset.retired] == [
        first.old_key,
        first.new_key,
    ]
    assert [r.fragment for r in keyset.retired] == ["ed25519", f"ed25519-{first.new_key[:8]}"]
    assert keyset.method_id("ed25519") == f"{DID}#ed25519-{second.new_key[:8]}"
    document = build_did_document(keyset)
    ids = [m["id"] for m in document["verificationMethod"]]
    assert len(ids) == len(set(ids)) == 4 + 2 * 2  # current ed25519+p256, two retired ed25519
    assert len(document["authentication"]) == 4


def test_rsa_rotation_renews_the_certificate_chain(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    init_keys(keys_dir, with_rsa=True, did=DID, now=CLOCK.now())
    old_chain = (keys_dir / "rsa-chain.pem").read_bytes()
    rotation = rotate_key(keys_dir, "rsa", did=DID, now=CLOCK.now())
    assert (keys_dir / "rsa-chain.pem").read_bytes() != old_chain
    assert (keys_dir / "retired" / "rsa-20261201T100000Z-chain.pem").read_bytes() == old_chain
    assert _mode(rotation.retired_path) == 0o600 and _mode(keys_dir / "rsa.pem") == 0o600
    keyset = load_keys(keys_dir, DID)
    document = build_did_document(keyset, x5u="https://hagen.example/x5u")
    retired = next(m for m in document["verificationMethod"] if m["id"] == f"{DID}#rsa")
    assert "x5u" not in retired["publicKeyJwk"]
    assert retired["id"] not in document["authentication"]


def test_self_descriptions_are_stale_after_a_rotation(keys_dir: Path, tmp_path: Path) -> None:
    config = ROOT / "self-descriptions" / "hagen.toml"
    folder = SelfDescriptionFolder(tmp_path / "sd")
    keyset = load_keys(keys_dir, DID)
    base_url = "https://hagen.example"
    publish(
        config, folder, keyset=keyset, base_url=base_url, loader=default_loader(), now=CLOCK.now()
    )

    def current(keys: keymod.KeySet) -> bool:
        return is_current(
            config,
            folder,
            did=DID,
            base_url=base_url,
            now=CLOCK.now(),
            signing_keys=keys.fingerprint(),
        )

    assert current(keyset)
    rotate_key(keys_dir, "p256", did=DID, now=CLOCK.now())
    assert not current(load_keys(keys_dir, DID))


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://hagen.example")
    monkeypatch.delenv("CONNECTOR_DATABASE_URL", raising=False)
    return tmp_path / "var"


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_rotation_is_audited_and_audit_verify_passes_across_it(operator: Path) -> None:
    _run("init")
    before = load_keys(operator / "keys", DID)
    _run("audit", "checkpoint")  # signed with the key about to be retired
    out = _run("keys", "rotate")
    assert out.count("rotated ") == 2
    after = load_keys(operator / "keys", DID)
    assert len(after.retired) == 2
    assert all(_mode(p) == 0o600 for p in (operator / "keys" / "retired").iterdir())
    _run("audit", "checkpoint")  # signed with the new key
    report = json.loads(_run("audit", "verify", "--json"))
    assert report["ok"] is True

    export = operator / "audit.jsonl"
    _run("audit", "export", "-o", str(export))
    events = [json.loads(line) for line in export.read_text().splitlines()]
    rotated = [e for e in events if e.get("type") == "key.rotated"]
    assert [(e["details"]["old_key"], e["details"]["new_key"]) for e in rotated] == [
        (keymod.thumbprint(before.key(k)), keymod.thumbprint(after.key(k)))
        for k in ("ed25519", "p256")
    ]
    assert "PRIVATE" not in export.read_text()

    listing = _run("keys", "list").splitlines()
    assert [line.split()[0] for line in listing] == ["current"] * 2 + ["retired"] * 2
    document = json.loads(_run("did"))
    assert f"{DID}#ed25519" in document["assertionMethod"]
    assert f"{DID}#ed25519" not in document["authentication"]


def test_cli_refuses_to_rotate_a_missing_rsa_key(operator: Path) -> None:
    _run("init")
    result = CliRunner().invoke(app, ["keys", "rotate", "--kind", "rsa"])
    assert result.exit_code == 1
    assert "no RSA key" in result.output
    assert not (operator / "keys" / "retired").exists()
