"""``connector keys``: list the participant's keys and rotate them.

``rotate`` retires the current key file to ``<data dir>/keys/retired/<kind>-<UTC timestamp>.pem``
(mode 0600), writes a new key and records a ``key.rotated`` audit event (thumbprints only). The
retired public key stays in the DID document under ``assertionMethod`` (credentials signed
before the rotation keep verifying) but not under ``authentication``. A running connector picks
up the new key — and re-signs its self-descriptions — on its next start.
Exit codes: 0 done, 1 the rotation failed (one line names why), 2 configuration error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer

from connector.clock import SystemClock
from connector.credentials import keys as keymod
from connector.errors import ConnectorError, Invalid
from connector.settings import Settings

if TYPE_CHECKING:
    from connector.identity.keystore import Rotation

keys_app = typer.Typer(
    name="keys",
    help="Schlüssel / keys: list, rotate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    from connector.cli import load_settings

    return load_settings()


def _record(settings: Settings, keyset: keymod.KeySet, rotations: list[Rotation]) -> None:
    """One ``key.rotated`` event per rotated key, checkpoints signed with the new key."""
    from connector.audit.vocabulary import EventType
    from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
    from connector.stores.database import create_db_engine, migrate

    engine = create_db_engine(settings.effective_database_url, pool_size=2)
    try:
        migrate(engine)
        store = SqlAuditStore(engine, SystemClock(), checkpoint_signer(keyset))
        for rotation in rotations:
            store.record(
                EventType.KEY_ROTATED,
                actor=keyset.did,
                details={
                    "kind": rotation.kind,
                    "old_key": rotation.old_key,
                    "new_key": rotation.new_key,
                    "method": keyset.method_id(rotation.kind),
                },
            )
    finally:
        engine.dispose()


@keys_app.command("list")
def list_() -> None:
    """Print one line per key: status, kind, verification method, thumbprint."""
    from connector.bootstrap import initialise

    try:
        keyset = initialise(_settings(), SystemClock()).keyset
    except ConnectorError as exc:
        typer.echo(f"keys list: {exc}", err=True)
        raise typer.Exit(1) from exc
    for kind in keyset.kinds():
        print_ = keymod.thumbprint(keyset.key(kind))
        typer.echo(f"current  {kind:<8} {keyset.method_id(kind)}  {print_}")
    for retired in keyset.retired:
        print_ = keymod.thumbprint(retired.public_key)
        typer.echo(f"retired  {retired.kind:<8} {keyset.did}#{retired.fragment}  {print_}")


@keys_app.command()
def rotate(
    kind: Annotated[
        Literal["ed25519", "p256", "rsa", "all"],
        typer.Option("--kind", help="Which key: ed25519, p256, rsa or all (default)."),
    ] = "all",
) -> None:
    """Retire the current key(s), create new ones and record the rotation in the audit trail."""
    from connector.bootstrap import initialise
    from connector.identity.keystore import load_keys, rotate_key

    settings = _settings()
    clock = SystemClock()
    try:
        before = initialise(settings, clock)
        kinds = before.keyset.kinds() if kind == "all" else [kind]
        if "rsa" in kinds and before.keyset.rsa is None:
            raise Invalid("no RSA key to rotate (connector init --rsa)", reason="no_key")
        rotations: list[Rotation] = []
        for one in kinds:
            rotation = rotate_key(settings.keys_dir, one, did=before.did, now=clock.now())
            rotations.append(rotation)
            typer.echo(f"rotated {one}: {rotation.old_key} -> {rotation.new_key}")
            typer.echo(f"retired key: {rotation.retired_path}")
        keyset = load_keys(settings.keys_dir, before.did)
        _record(settings, keyset, rotations)
    except (ConnectorError, OSError) as exc:
        typer.echo(f"keys rotate: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("restart the connector to publish the new DID document and self-descriptions")
