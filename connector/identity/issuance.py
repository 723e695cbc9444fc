"""What a federation authority issued, and its revocation list (W3C Bitstring Status List).

``connector credential issue`` gives every credential it signs a ``credentialStatus`` entry
(``BitstringStatusListEntry``, purpose ``revocation``) pointing at bit *n* of the authority's
list published at ``<base URL>/credentials/status/1``; ``connector credential revoke ID``
(``--undo``) flips that bit and re-signs the list. Both live in a folder of the data dir
(``<data dir>/issued-credentials``):

- ``registry.json`` — id → index, subject, type, validity, revoked (the source of truth);
- ``status-1.json`` — the signed ``BitstringStatusListCredential`` derived from it, which the
  connector serves (:mod:`connector.web.credential_status`).

Writes are atomic (temporary file + rename) and serialised with an exclusive lock on
``.lock``, so two CLI invocations never hand out the same index.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from connector.clock import utc_isoformat
from connector.credentials.jsonld import PinnedLoader
from connector.credentials.keys import KeySet
from connector.credentials.publication import sign_credential
from connector.credentials.status_list import (
    Bitstring,
    build_status_list_credential,
    status_entry,
)
from connector.errors import Conflict, Invalid, NotFound

FOLDER = "issued-credentials"
LIST_NUMBER = "1"
STATUS_PATH = "/credentials/status"
LIST_VALID_DAYS = 365


def issued_status_list_url(base_url: str) -> str:
    """Where the authority publishes the revocation list of what it issued."""
    return f"{base_url.rstrip('/')}{STATUS_PATH}/{LIST_NUMBER}"


@dataclass(frozen=True)
class IssuedCredential:
    """One registry row."""

    id: str
    index: int
    subject: str
    type: str
    valid_from: str
    valid_until: str | None
    revoked: bool = False


class IssuedRegistry:
    """The registry and status list of one authority, in ``root``."""

    def __init__(self, root: Path, *, list_url: str) -> None:
        self.root = root
        self.list_url = list_url

    @classmethod
    def in_data_dir(cls, data_dir: Path, base_url: str) -> IssuedRegistry:
        return cls(data_dir / FOLDER, list_url=issued_status_list_url(base_url))

    @property
    def _registry_path(self) -> Path:
        return self.root / "registry.json"

    @property
    def status_list_path(self) -> Path:
        return self.root / f"status-{LIST_NUMBER}.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self) -> dict[str, IssuedCredential]:
        if not self._registry_path.is_file():
            return {}
        value = json.loads(self._registry_path.read_text("utf-8"))
        if not isinstance(value, dict) or not isinstance(value.get("credentials"), list):
            raise Invalid(f"{self._registry_path} is not a registry", reason="bad_registry")
        if value.get("statusListCredential") != self.list_url:
            raise Conflict(
                f"the registry belongs to {value.get('statusListCredential')}, "
                f"not {self.list_url} (base URL changed?)",
                reason="status_list_moved",
            )
        return {row["id"]: IssuedCredential(**row) for row in value["credentials"]}

    def _write(self, rows: dict[str, IssuedCredential]) -> None:
        document = {
            "statusListCredential": self.list_url,
            "credentials": [asdict(r) for r in sorted(rows.values(), key=lambda r: r.index)],
        }
        _atomic_write(self._registry_path, json.dumps(document, indent=2) + "\n")

    def all(self) -> list[IssuedCredential]:
        """Every credential issued, by index."""
        return sorted(self._read().values(), key=lambda r: r.index)

    def get(self, credential_id: str) -> IssuedCredential:
        row = self._read().get(credential_id)
        if row is None:
            raise NotFound(
                f"no issued credential {credential_id[:80]}", reason="unknown_credential"
            )
        return row

    def register(
        self,
        credential_id: str,
        *,
        subject: str,
        credential_type: str,
        valid_from: dt.datetime,
        valid_until: dt.datetime | None,
    ) -> tuple[IssuedCredential, dict[str, Any]]:
        """Allocate the next index for a new credential; returns the row and its
        ``credentialStatus`` entry."""
        with self._locked():
            rows = self._read()
            if credential_id in rows:
                raise Conflict(f"{credential_id[:80]} was already issued", reason="duplicate")
            index = 1 + max((r.index for r in rows.values()), default=-1)
            if index >= len(Bitstring()):
                raise Conflict("the status list is full", reason="status_list_full")
            row = IssuedCredential(
                id=credential_id,
                index=index,
                subject=subject,
                type=credential_type,
                valid_from=utc_isoformat(valid_from),
                valid_until=None if valid_until is None else utc_isoformat(valid_until),
            )
            rows[credential_id] = row
            self._write(rows)
        return row, status_entry(self.list_url, index)

    def set_revoked(self, credential_id: str, revoked: bool = True) -> IssuedCredential:
        """Mark a credential revoked (or reinstate it); :meth:`publish` re-signs the list."""
        with self._locked():
            rows = self._read()
            row = rows.get(credential_id)
            if row is None:
                raise NotFound(
                    f"no issued credential {credential_id[:80]}", reason="unknown_credential"
                )
            rows[credential_id] = IssuedCredential(**{**asdict(row), "revoked": revoked})
            self._write(rows)
            return rows[credential_id]

    def bits(self) -> Bitstring:
        """The revocation bits of the registry."""
        bits = Bitstring()
        for row in self._read().values():
            if row.revoked:
                bits.set(row.index)
        return bits

    def publish(self, *, keyset: KeySet, loader: PinnedLoader, now: dt.datetime) -> dict[str, Any]:
        """Sign the status list from the registry (valid a year) and write it for serving."""
        if keyset.did != _did_of(self.list_url, keyset.did):
            raise Invalid("the status list is not under this DID", reason="issuer_mismatch")
        with self._locked():
            unsigned = build_status_list_credential(
                list_id=self.list_url,
                issuer=keyset.did,
                purpose="revocation",
                bits=self.bits(),
                valid_from=now,
                valid_until=now + dt.timedelta(days=LIST_VALID_DAYS),
            )
            signed, _ = sign_credential(unsigned, keyset=keyset, loader=loader, now=now)
            _atomic_write(self.status_list_path, json.dumps(signed, indent=2) + "\n")
        return signed

    def status_list(self) -> dict[str, Any]:
        """The signed list as published (``NotFound`` before the first issue)."""
        if not self.status_list_path.is_file():
            raise NotFound("this connector has issued no credentials", reason="no_status_list")
        value = json.loads(self.status_list_path.read_text("utf-8"))
        if not isinstance(value, dict):
            raise Invalid("the status list is not a JSON object", reason="bad_status_list")
        return value


def _did_of(list_url: str, fallback: str) -> str:
    """The did:web of the host serving ``list_url`` (``fallback`` for other DID methods)."""
    if not fallback.startswith("did:web:"):
        return fallback
    from connector.credentials.did_web import did_from_url

    return did_from_url(list_url.split(STATUS_PATH, 1)[0])


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)
