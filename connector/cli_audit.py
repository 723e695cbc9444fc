"""``connector audit …``: verify the trail (database or export, offline), export, checkpoint, prune.

Wired into the main command by ``app.add_typer(audit_app, name="audit")`` in :mod:`connector.cli`.
Exit codes: 0 verified / done, 1 the chain is broken (one line names the first broken position),
2 the command could not run (configuration, database, unreadable file).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from connector.audit.checkpoint import trusted_keys
from connector.audit.export import ExportReader
from connector.audit.retention import RetentionPolicy, parse_rules
from connector.audit.verification import VerificationReport
from connector.clock import SystemClock
from connector.credentials.keys import KeySet
from connector.errors import ConnectorError
from connector.settings import Settings

if TYPE_CHECKING:
    from connector.stores.audit_store import SqlAuditStore

audit_app = typer.Typer(
    name="audit",
    help="Prüfpfad / audit trail: verify, export, checkpoint, prune.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    from connector.cli import load_settings

    return load_settings()


def _keyset(settings: Settings, *, required: bool) -> KeySet | None:
    from connector.credentials.did_web import did_from_url
    from connector.identity.keystore import load_keys

    try:
        return load_keys(settings.keys_dir, did_from_url(settings.base_url))
    except ConnectorError:
        if required:
            raise
        return None


def _store(settings: Settings, keyset: KeySet | None, *, migrate_first: bool) -> SqlAuditStore:
    from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
    from connector.stores.database import create_db_engine, migrate

    engine = create_db_engine(settings.effective_database_url, pool_size=2)
    if migrate_first:
        migrate(engine)
    signer = checkpoint_signer(keyset) if keyset is not None else None
    return SqlAuditStore(engine, SystemClock(), signer)


def _pinned(public_key: Path | None) -> dict[str, dict[str, Any]] | None:
    if public_key is None:
        return None
    try:
        document = json.loads(public_key.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {public_key}: {exc}") from exc
    if not isinstance(document, dict):
        raise typer.BadParameter(f"{public_key}: expected a JWK, JWK set or DID document")
    return trusted_keys(document)


def _finish(report: VerificationReport, as_json: bool) -> None:
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(report.line())
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command()
def verify(
    from_seq: Annotated[
        int | None,
        typer.Option("--from", min=1, help="Start at this entry (trusting the one before)."),
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Verify this JSON Lines export, offline.")
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Pin the checkpoint key: a JWK, JWK set or DID document (JSON). "
            "Default: the connector's own keys (database), none (export).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Verify the hash chain and the checkpoint signatures; name the first broken position."""
    pinned = _pinned(public_key)
    try:
        if export is not None:
            with export.open(encoding="utf-8") as handle:
                report = ExportReader.open(handle).verify(pinned, from_seq=from_seq)
        else:
            from connector.stores.audit_store import own_keys

            settings = _settings()
            keyset = _keyset(settings, required=False)
            if pinned is None and keyset is not None:
                pinned = own_keys(keyset)
            report = _store(settings, None, migrate_first=False).verify(
                from_seq=from_seq, trusted_keys=pinned
            )
    except (ConnectorError, OSError) as exc:
        typer.echo(f"audit verify: {exc}", err=True)
        raise typer.Exit(2) from exc
    _finish(report, as_json)


@audit_app.command("export")
def export_(
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    format_: Annotated[
        Literal["jsonl", "csv"], typer.Option("--format", help="jsonl (verifiable) or csv.")
    ] = "jsonl",
    from_seq: Annotated[int | None, typer.Option("--from", min=1)] = None,
) -> None:
    """Export the trail from the database (JSON Lines with checkpoints, or CSV)."""
    try:
        settings = _settings()
        store = _store(settings, _keyset(settings, required=False), migrate_first=False)
        lines = store.export_jsonl(from_seq=from_seq) if format_ == "jsonl" else store.export_csv()
        count = 0
        with output.open("w", encoding="utf-8", newline="") as handle:
            for line in lines:
                handle.write(line)
                count += 1
    except (ConnectorError, OSError) as exc:
        typer.echo(f"audit export: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {output} ({count} lines)")


@audit_app.command()
def checkpoint() -> None:
    """Sign a checkpoint of the current head now."""
    try:
        settings = _settings()
        store = _store(settings, _keyset(settings, required=True), migrate_first=True)
        cp = store.checkpoint()
    except ConnectorError as exc:
        typer.echo(f"audit checkpoint: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"checkpoint {cp.seq} {cp.head} signed by {cp.kid} at {cp.time}")


@audit_app.command()
def prune(
    delete_after_days: Annotated[
        int | None, typer.Option(min=1, help="Delete whole entries older than this.")
    ] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option(help="Remove bodies of one event type after N days: TYPE=DAYS (repeatable)."),
    ] = None,
) -> None:
    """Apply retention; the pruning is itself recorded (``audit.pruned``)."""
    try:
        policy = RetentionPolicy(
            delete_after=dt.timedelta(days=delete_after_days) if delete_after_days else None,
            redact_after=parse_rules(redact or []),
        )
        settings = _settings()
        store = _store(settings, _keyset(settings, required=True), migrate_first=True)
        entry = store.prune(policy)
    except ConnectorError as exc:
        typer.echo(f"audit prune: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"seq": entry.seq, **dict(entry.details or {})}))
