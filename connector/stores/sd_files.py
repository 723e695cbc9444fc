"""A folder of published self-descriptions: ``<id>.json`` (JSON-LD with an embedded proof),
``<id>.jwt`` (compact ``vc+jwt``), ``presentation.jwt`` (``vp+jwt`` of all), ``status-list.json``
and ``.well-known/did.json`` (the issuer's public DID document, for offline verification).

Files are written atomically (temp file + rename) so a reader never sees half a credential.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.errors import Invalid, NotFound

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,100}$")
PRESENTATION = "presentation"
STATUS_LIST = "status-list"
DID_DOCUMENT = Path(".well-known") / "did.json"


def check_id(sd_id: str) -> str:
    if not _ID.fullmatch(sd_id):
        raise NotFound(f"no self-description {sd_id!r}", reason="unknown_self_description")
    return sd_id


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class SelfDescriptionFolder:
    root: Path

    def ids(self) -> list[str]:
        """Ids of the credentials in the folder (not the presentation), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.stem for p in self.root.glob("*.json") if _ID.fullmatch(p.stem) and p.is_file()
        )

    def read_json(self, sd_id: str) -> dict[str, Any]:
        path = self.root / f"{check_id(sd_id)}.json"
        if not path.is_file():
            raise NotFound(f"no self-description {sd_id!r}", reason="unknown_self_description")
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Invalid(f"{path.name} is not valid JSON", reason="malformed_json") from exc
        if not isinstance(value, dict):
            raise Invalid(f"{path.name} is not a JSON object", reason="malformed_json")
        return value

    def read_jwt(self, sd_id: str) -> str:
        path = self.root / f"{check_id(sd_id)}.jwt"
        if not path.is_file():
            raise NotFound(f"no JWT form of {sd_id!r}", reason="unknown_self_description")
        return path.read_text(encoding="ascii").strip()

    def write_json(self, sd_id: str, document: dict[str, Any]) -> Path:
        path = self.root / f"{check_id(sd_id)}.json"
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        _atomic_write(path, text.encode("utf-8"))
        return path

    def write_jwt(self, sd_id: str, token: str) -> Path:
        path = self.root / f"{check_id(sd_id)}.jwt"
        _atomic_write(path, (token + "\n").encode("ascii"))
        return path

    def did_document_path(self) -> Path:
        return self.root / DID_DOCUMENT

    def write_did_document(self, document: dict[str, Any]) -> Path:
        path = self.did_document_path()
        _atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
        return path

    def read_did_document(self) -> dict[str, Any] | None:
        path = self.did_document_path()
        if not path.is_file():
            return None
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else None
