"""Verify credential files offline (``connector sd verify``).

Keys come from DID documents given explicitly, from ``.well-known/did.json`` beside the files
(the layout ``connector sd sign`` writes), from did:key, and over the network only with
``online=True``. Status lists are looked up among the files given, and online only if allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.clock import Clock
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import default_loader
from connector.credentials.verifier import Verifier, parse_item, types_of
from connector.errors import ConnectorError, Invalid
from connector.identity.did_fetcher import HttpDidFetcher

MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileResult:
    path: Path
    status: str
    """``OK``, ``FAIL`` or ``SKIP``."""
    summary: str

    @property
    def failed(self) -> int:
        return 1 if self.status == "FAIL" else 0

    def line(self) -> str:
        return f"{self.status:<4}  {self.path}: {self.summary}"


def _is_did_document(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("id"), str)
        and str(value["id"]).startswith("did:")
        and "verificationMethod" in value
    )


def _load(path: Path) -> Mapping[str, Any] | str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise Invalid(f"file larger than {MAX_FILE_BYTES} bytes", reason="too_large")
    return parse_item(path.read_text(encoding="utf-8"))


def verify_files(
    paths: Sequence[Path],
    *,
    did_documents: Sequence[Path],
    online: bool,
    allow_insecure: bool,
    with_shapes: bool,
    audience: str | None,
    clock: Clock,
) -> list[FileResult]:
    results: dict[Path, FileResult] = {}
    items: dict[Path, Mapping[str, Any] | str] = {}
    pinned: list[Mapping[str, Any]] = []
    for source in did_documents:
        pinned.append(json.loads(source.read_text(encoding="utf-8")))
    seen_dirs: set[Path] = set()
    siblings: list[Mapping[str, Any]] = []
    for path in paths:
        if path.is_dir() or path.suffix not in {".json", ".jwt", ".jsonld"}:
            results[path] = FileResult(
                path, "SKIP", "keine Credential-Datei / not a credential file"
            )
            continue
        try:
            item = _load(path)
        except (OSError, ConnectorError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "reason", "unreadable")
            results[path] = FileResult(path, "FAIL", f"{reason}: {exc}")
            continue
        if _is_did_document(item):
            pinned.append(item)  # type: ignore[arg-type]
            results[path] = FileResult(path, "SKIP", "DID-Dokument / DID document (key source)")
            continue
        items[path] = item
        directory = path.resolve().parent
        if directory not in seen_dirs:
            seen_dirs.add(directory)
            beside = directory / ".well-known" / "did.json"
            if beside.is_file():
                pinned.append(json.loads(beside.read_text(encoding="utf-8")))
            siblings.extend(_sibling_credentials(directory))

    fetcher = HttpDidFetcher(allow_insecure=allow_insecure) if online else None
    try:
        resolver = DidResolver(clock, fetcher, allow_http=allow_insecure, pinned=pinned)
        documents = {
            str(item["id"]): item
            for item in items.values()
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        }

        def status_lookup(url: str) -> Mapping[str, Any]:
            if url in documents:
                return documents[url]
            if fetcher is None:
                raise Invalid(
                    f"status list {url} not among the files (use --online)",
                    reason="status_list_unavailable",
                )
            value = json.loads(fetcher.fetch(url))
            if not isinstance(value, dict):
                raise Invalid("status list is not a JSON object", reason="status_list_unavailable")
            return value

        shapes = None
        if with_shapes:
            from connector.credentials.shacl import project_shapes

            shapes = project_shapes()
        verifier = Verifier(
            resolver=resolver,
            loader=default_loader(),
            clock=clock,
            status_lookup=status_lookup,
            shapes=shapes,
            supporting=_unique_by_id(
                [*(i for i in items.values() if isinstance(i, Mapping)), *siblings]
            ),
        )
        for path, item in items.items():
            aud = audience
            if isinstance(item, str) and aud is None:
                aud = _claimed_audience(item)
            try:
                verified = verifier.verify(item, audience=aud)
            except ConnectorError as exc:
                results[path] = FileResult(path, "FAIL", f"{exc.reason}: {exc.detail}")
                continue
            label = ", ".join(t for t in types_of(verified.document) if t != "VerifiableCredential")
            summary = (
                f"{verified.kind} {label or 'VerifiableCredential'} ({', '.join(verified.checks)})"
            )
            if verified.credentials:
                summary += f", {len(verified.credentials)} credentials verified"
            results[path] = FileResult(path, "OK", summary)
    finally:
        if fetcher is not None:
            fetcher.close()
    return [results[p] for p in paths if p in results]


def _unique_by_id(documents: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    seen: set[str] = set()
    unique = []
    for document in documents:
        key = str(document.get("id", id(document)))
        if key not in seen:
            seen.add(key)
            unique.append(document)
    return unique


def _sibling_credentials(directory: Path) -> list[Mapping[str, Any]]:
    """Other JSON-LD credentials in the same folder: shapes may refer to their subjects (a
    LegalPerson's registration number lives in its own credential). They answer references only;
    they are not thereby verified."""
    found: list[Mapping[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith(".") or path.stat().st_size > MAX_FILE_BYTES:
            continue
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(value, dict) and "VerifiableCredential" in types_of(value):
            found.append(value)
    return found


def _claimed_audience(token: str) -> str | None:
    """Offline, a stored vp+jwt is checked against the audience it names (no replay context)."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    aud = claims.get("aud") if isinstance(claims, dict) else None
    if isinstance(aud, list) and aud:
        aud = aud[0]
    return aud if isinstance(aud, str) else None
