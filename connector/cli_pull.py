"""``connector pull --transfer ID -o FILE``: save the data of a transfer we consume.

Asks the local connector's management API (``GET /api/management/transfers/{id}/data``), which
pulls from the provider with the token of the data address (renewing it when needed) and
streams the bytes through; the file is written to ``FILE.part`` and renamed when complete.
Exit codes: 0 saved, 1 refused or failed (the reason is printed), 2 configuration error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import httpx
import typer

from connector.settings import Settings


def _settings() -> Settings:
    from connector.cli import load_settings

    return load_settings()


def _management_key(settings: Settings) -> str:
    if settings.management_api_key is not None:
        return settings.management_api_key.get_secret_value()
    path = settings.data_dir / "management-api-key"
    if not path.is_file():
        typer.echo("no management API key (CONNECTOR_MANAGEMENT_API_KEY)", err=True)
        raise typer.Exit(2)
    return path.read_text(encoding="utf-8").strip()


def _save(
    response: httpx.Response, handle: BinaryIO, total: int | None, label: str, quiet: bool
) -> int:
    """Write the body, showing a bar (known length) or a running byte count."""
    written = 0
    chunks = response.iter_raw(1024 * 1024)
    if total is not None and not quiet:
        with typer.progressbar(length=total, label=label, show_pos=True, file=sys.stderr) as bar:
            for chunk in chunks:
                handle.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        return written
    for chunk in chunks:
        handle.write(chunk)
        written += len(chunk)
        if not quiet:
            sys.stderr.write(f"\r{label}: {written / 1_048_576:.1f} MiB")
    if not quiet:
        sys.stderr.write("\n")
    return written


def pull(
    *,
    transfer: Annotated[str, typer.Option("--transfer", help="The transfer id (our pid).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to save the data.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Narrowing, e.g. from=2025-06-01 (repeatable)."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, jsonl or json.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Purpose, e.g. kk:Energiemanagement.")] = None,
    url: Annotated[str | None, typer.Option(help="Connector URL (default: from settings).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Daten einer Übertragung speichern / save the data of a transfer (with a progress bar)."""
    settings = _settings()
    base = (url or settings.base_url).rstrip("/")
    params: list[tuple[str, str | int | float | bool | None]] = []
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            typer.echo(f"--param needs name=value: {item!r}", err=True)
            raise typer.Exit(2)
        params.append((name, value))
    if fmt:
        params.append(("format", fmt))
    if purpose:
        params.append(("purpose", purpose))
    headers = {"X-Api-Key": _management_key(settings)}
    partial = output.with_name(output.name + ".part")
    endpoint = f"{base}/api/management/transfers/{transfer}/data"
    timeout = httpx.Timeout(settings.http_timeout_seconds, read=300.0)
    try:
        with httpx.stream("GET", endpoint, params=params, headers=headers, timeout=timeout) as r:
            if r.status_code != 200:
                r.read()
                try:
                    detail = r.json().get("detail", r.text)
                except ValueError:
                    detail = r.text
                typer.echo(f"pull refused ({r.status_code}): {detail}", err=True)
                raise typer.Exit(1)
            length = r.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            with partial.open("wb") as handle:
                written = _save(r, handle, total, f"{transfer[:24]} -> {output.name}", quiet)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        typer.echo(f"pull failed: {exc.__class__.__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    partial.replace(output)
    typer.echo(f"saved {written} bytes to {output}", err=True)
