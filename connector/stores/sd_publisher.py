"""Build, sign, store and revoke the participant's self-descriptions in a folder.

Used by ``connector sd sign|revoke|publish`` and by ``connector serve`` (which keeps the set in
``<data dir>/self-descriptions`` current for its own DID). A hidden ``.manifest.json`` records what
the set was built from, so a restart re-signs only when the config, the DID or the validity changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.clock import parse_instant
from connector.credentials.did_web import build_did_document
from connector.credentials.jsonld import PinnedLoader
from connector.credentials.keys import KeySet
from connector.credentials.publication import (
    STATUS_LIST_ID,
    SignedSet,
    index_of,
    sign_set,
    sign_status_list,
)
from connector.credentials.self_description import build_credentials, load_config
from connector.credentials.status_list import Bitstring
from connector.errors import Invalid, NotFound
from connector.stores.sd_files import SelfDescriptionFolder

MANIFEST = ".manifest"


@dataclass(frozen=True)
class Published:
    folder: SelfDescriptionFolder
    signed: SignedSet
    files: list[Path]


def config_digest(config_path: Path) -> str:
    return hashlib.sha256(config_path.read_bytes()).hexdigest()


def read_unsigned(directory: Path) -> dict[str, dict[str, Any]]:
    """The unsigned credentials ``<id>.json`` that ``connector sd build`` wrote."""
    if not directory.is_dir():
        raise NotFound(
            f"{directory} does not exist: run 'connector sd build' first", reason="no_build"
        )
    result: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise Invalid(f"{path} is not a JSON object", reason="malformed_json")
        result[path.stem] = value
    if not result:
        raise NotFound(f"no unsigned credentials in {directory}", reason="no_build")
    return result


def write_unsigned(directory: Path, credentials: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.stem not in credentials:
            stale.unlink()
    paths = []
    for sd_id, credential in sorted(credentials.items()):
        path = directory / f"{sd_id}.json"
        path.write_text(json.dumps(credential, indent=2, ensure_ascii=False) + "\n", "utf-8")
        paths.append(path)
    return paths


def _existing_state(
    folder: SelfDescriptionFolder, issuer: str
) -> tuple[dict[str, int], Bitstring | None]:
    """Status indices and revocation bits of a previous set by the same issuer."""
    indices: dict[str, int] = {}
    bits: Bitstring | None = None
    for sd_id in folder.ids():
        try:
            document = folder.read_json(sd_id)
        except Invalid:
            continue
        if document.get("issuer") != issuer:
            continue
        if sd_id == STATUS_LIST_ID:
            subject = document.get("credentialSubject", {})
            if isinstance(subject, Mapping):
                bits = Bitstring.decode(subject.get("encodedList"))
            continue
        index = index_of(document)
        if index is not None:
            indices[sd_id] = index
    return indices, bits


def store_signed(
    folder: SelfDescriptionFolder, signed: SignedSet, keyset: KeySet, extra: Mapping[str, Any]
) -> list[Path]:
    """Write the signed set; credentials no longer in the set are removed."""
    files: list[Path] = []
    keep = set(signed.credentials) | {STATUS_LIST_ID}
    for sd_id in folder.ids():
        if sd_id not in keep:
            (folder.root / f"{sd_id}.json").unlink(missing_ok=True)
            (folder.root / f"{sd_id}.jwt").unlink(missing_ok=True)
    for sd_id, document in signed.credentials.items():
        files.append(folder.write_json(sd_id, document))
        files.append(folder.write_jwt(sd_id, signed.jwts[sd_id]))
    files.append(folder.write_json(STATUS_LIST_ID, signed.status_list))
    files.append(folder.write_did_document(build_did_document(keyset)))
    manifest = {
        "issuer": keyset.did,
        "indices": signed.indices,
        "signing_keys": keyset.fingerprint(),
        **extra,
    }
    (folder.root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return files


def sign_folder(
    unsigned: Mapping[str, Mapping[str, Any]],
    folder: SelfDescriptionFolder,
    *,
    keyset: KeySet,
    base_url: str,
    loader: PinnedLoader,
    now: dt.datetime,
    extra: Mapping[str, Any] | None = None,
) -> Published:
    indices, bits = _existing_state(folder, keyset.did)
    signed = sign_set(
        unsigned,
        keyset=keyset,
        base_url=base_url,
        loader=loader,
        now=now,
        existing_indices=indices,
        revoked=bits,
    )
    files = store_signed(folder, signed, keyset, extra or {})
    return Published(folder=folder, signed=signed, files=files)


def publish(
    config_path: Path,
    folder: SelfDescriptionFolder,
    *,
    keyset: KeySet,
    base_url: str,
    loader: PinnedLoader,
    now: dt.datetime,
) -> Published:
    """Build from the config and sign into ``folder`` (the ``serve`` path)."""
    config = load_config(config_path)
    unsigned = build_credentials(config, issuer_did=keyset.did, base_url=base_url, issued=now)
    return sign_folder(
        unsigned,
        folder,
        keyset=keyset,
        base_url=base_url,
        loader=loader,
        now=now,
        extra={"config_sha256": config_digest(config_path), "base_url": base_url},
    )


def is_current(
    config_path: Path,
    folder: SelfDescriptionFolder,
    *,
    did: str,
    base_url: str,
    now: dt.datetime,
    signing_keys: str | None = None,
) -> bool:
    """Whether the folder holds a set for this DID, base URL and config that is still valid.

    With ``signing_keys`` (:meth:`KeySet.fingerprint`) the set must also have been signed by
    those keys, so a key rotation re-publishes on the next start.
    """
    manifest_path = folder.root / MANIFEST
    if not manifest_path.is_file():
        return False
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        status_list = folder.read_json(STATUS_LIST_ID)
        valid_until = parse_instant(str(status_list.get("validUntil")))
    except (ValueError, Invalid, NotFound):
        return False
    return (
        manifest.get("issuer") == did
        and manifest.get("base_url") == base_url
        and manifest.get("config_sha256") == config_digest(config_path)
        and valid_until > now + dt.timedelta(days=7)
        and (signing_keys is None or manifest.get("signing_keys") == signing_keys)
    )


def set_revoked(
    folder: SelfDescriptionFolder,
    sd_id: str,
    *,
    keyset: KeySet,
    loader: PinnedLoader,
    now: dt.datetime,
    revoked: bool = True,
) -> int:
    """Set (or clear) the revocation bit of ``sd_id`` and re-sign the status list."""
    if sd_id == STATUS_LIST_ID:
        raise Invalid("the status list cannot revoke itself", reason="bad_id")
    credential = folder.read_json(sd_id)
    status_list = folder.read_json(STATUS_LIST_ID)
    if status_list.get("issuer") != keyset.did or credential.get("issuer") != keyset.did:
        raise Invalid(
            f"{folder.root} was signed by {status_list.get('issuer')}, these keys are {keyset.did}",
            reason="issuer_mismatch",
        )
    index = index_of(credential)
    if index is None:
        raise Invalid(f"{sd_id} has no revocation status entry", reason="no_status")
    subject = status_list.get("credentialSubject", {})
    bits = Bitstring.decode(subject.get("encodedList") if isinstance(subject, Mapping) else None)
    bits.set(index, revoked)
    list_id = str(status_list["id"])
    base_url = list_id.rsplit("/self-descriptions/", 1)[0]
    valid_until = parse_instant(str(status_list.get("validUntil")))
    days = max(1, (valid_until - now).days)
    signed = sign_status_list(
        bits, keyset=keyset, base_url=base_url, loader=loader, now=now, valid_days=days
    )
    folder.write_json(STATUS_LIST_ID, signed)
    return index
