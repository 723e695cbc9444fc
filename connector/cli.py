"""The ``connector`` command (Typer composition root)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from connector import __version__
from connector.clock import SystemClock
from connector.errors import ConnectorError
from connector.settings import Settings

app = typer.Typer(
    name="connector",
    help="klimakommune-connector: Datenkonnektor für Kommunen / data connector for municipalities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and TOML file), with CLI overrides; exit 2 when invalid."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except (ValidationError, ConnectorError) as exc:
        typer.echo(f"Konfigurationsfehler / configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def init(
    rsa: Annotated[
        bool, typer.Option("--rsa", help="Also create an RSA-2048 key (PS256, x5u).")
    ] = False,
) -> None:
    """Create the participant's keys in the data dir (never overwrites existing keys)."""
    from connector.bootstrap import initialise

    settings = load_settings(rsa_key=rsa or None)
    try:
        result = initialise(settings, SystemClock())
    except ConnectorError as exc:
        raise fail(f"init: {exc}") from exc
    for path in result.created:
        typer.echo(f"created {path}")
    typer.echo(f"DID: {result.did}")


@app.command()
def did() -> None:
    """Print this participant's DID document."""
    from connector.bootstrap import initialise
    from connector.credentials.did_web import build_did_document

    settings = load_settings()
    try:
        result = initialise(settings, SystemClock())
    except ConnectorError as exc:
        raise fail(f"did: {exc}") from exc
    json.dump(build_did_document(result.keyset), sys.stdout, indent=2, ensure_ascii=False)
    typer.echo()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (CONNECTOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CONNECTOR_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (CONNECTOR_WORKERS, default 1).")
    ] = None,
) -> None:
    """Run the connector (creates keys on first start)."""
    import uvicorn

    from connector.logging import configure
    from connector.web.app import create_app, settle_heap

    settings = load_settings(host=host, port=port, workers=workers)
    configure(settings.log_level)
    try:
        application = create_app(settings)
    except ConnectorError as exc:
        raise fail(f"serve: {exc}") from exc
    typer.echo(
        f"klimakommune-connector {__version__}: {settings.base_url} "
        f"({application.state.runtime.did})",
        err=True,
    )
    if settings.management_api_key is None:
        key_file = settings.data_dir / "management-api-key"
        typer.echo(f"Management-API-Schlüssel / management API key: {key_file}", err=True)
    if settings.workers > 1:
        # keys, migrations and the demo catalogue are in place (created above, once); each
        # worker builds its own app from the same environment (the CLI overrides included)
        application.state.runtime.engine.dispose()
        os.environ.update(
            CONNECTOR_HOST=settings.host,
            CONNECTOR_PORT=str(settings.port),
            CONNECTOR_WORKERS=str(settings.workers),
        )
        uvicorn.run(
            "connector.web.app:app_from_environment",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
            proxy_headers=False,
        )
        return
    settle_heap()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,
    )


def _register_subcommands() -> None:
    from connector.cli_audit import audit_app
    from connector.cli_credential import credential_app
    from connector.cli_demo import demo
    from connector.cli_keys import keys_app
    from connector.cli_policy import policy_app
    from connector.cli_pull import pull
    from connector.cli_sd import sd_app

    app.add_typer(sd_app, name="sd")
    app.add_typer(policy_app, name="policy")
    app.add_typer(audit_app, name="audit")
    app.add_typer(credential_app, name="credential")
    app.add_typer(keys_app, name="keys")
    app.command("demo")(demo)
    app.command("pull")(pull)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
