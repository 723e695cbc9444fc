"""``connector sd``: build, sign, verify and revoke self-descriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from connector.clock import SystemClock
from connector.errors import ConnectorError

sd_app = typer.Typer(
    help="Selbstbeschreibungen (Gaia-X 25.11, DCAT-AP.de) / self-descriptions.",
    no_args_is_help=True,
)


def _settings() -> Any:
    from connector.cli import load_settings

    return load_settings()


def _config_path(config: Path | None, settings: Any) -> Path:
    path = config or settings.participant_config_path
    if not Path(path).is_file():
        typer.echo(f"Konfiguration fehlt / config not found: {path}", err=True)
        raise typer.Exit(1)
    return Path(path)


@sd_app.command()
def build(
    config: Annotated[Path | None, typer.Option(help="Participant config (TOML).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for unsigned credentials.")] = None,
) -> None:
    """Generate the unsigned credentials from the config."""
    from connector.bootstrap import initialise
    from connector.credentials.self_description import build_credentials, load_config
    from connector.stores.sd_publisher import write_unsigned

    settings = _settings()
    clock = SystemClock()
    try:
        init = initialise(settings, clock)
        cfg = load_config(_config_path(config, settings))
        unsigned = build_credentials(
            cfg, issuer_did=init.did, base_url=settings.base_url, issued=clock.now()
        )
    except (ConnectorError, ValueError) as exc:
        typer.echo(f"sd build: {exc}", err=True)
        raise typer.Exit(1) from exc
    target = out or settings.data_dir / "sd-unsigned"
    for path in write_unsigned(target, unsigned):
        typer.echo(f"built {path}")


@sd_app.command()
def sign(
    source: Annotated[
        Path | None, typer.Option("--in", help="Folder of unsigned credentials (sd build).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the signed set.")] = Path(
        "self-descriptions"
    ),
) -> None:
    """Sign the built credentials (Data Integrity + vc+jwt) with this participant's keys."""
    from connector.bootstrap import initialise
    from connector.credentials.jsonld import default_loader
    from connector.stores.sd_files import SelfDescriptionFolder
    from connector.stores.sd_publisher import read_unsigned, sign_folder

    settings = _settings()
    clock = SystemClock()
    try:
        init = initialise(settings, clock)
        unsigned = read_unsigned(source or settings.data_dir / "sd-unsigned")
        published = sign_folder(
            unsigned,
            SelfDescriptionFolder(out),
            keyset=init.keyset,
            base_url=settings.base_url,
            loader=default_loader(),
            now=clock.now(),
            extra={"base_url": settings.base_url},
        )
    except ConnectorError as exc:
        typer.echo(f"sd sign: {exc}", err=True)
        raise typer.Exit(1) from exc
    for path in published.files:
        typer.echo(f"signed {path}")


@sd_app.command()
def verify(
    paths: Annotated[list[Path], typer.Argument(help="JSON-LD (.json) or JWT (.jwt) files.")],
    did_document: Annotated[
        list[Path] | None,
        typer.Option(help="Trusted DID document file(s) to resolve keys offline."),
    ] = None,
    online: Annotated[
        bool, typer.Option(help="Resolve did:web and status lists over the network.")
    ] = False,
    shapes: Annotated[bool, typer.Option(help="Check the SHACL shapes.")] = True,
    audience: Annotated[str | None, typer.Option(help="Expected audience of a vp+jwt.")] = None,
) -> None:
    """Verify credentials offline: proof, key, issuer, validity, revocation, shapes."""
    from connector.identity.file_verification import verify_files

    settings = _settings()
    results = verify_files(
        paths,
        did_documents=did_document or [],
        online=online,
        allow_insecure=settings.allow_insecure_did_web,
        with_shapes=shapes,
        audience=audience,
        clock=SystemClock(),
    )
    failed = 0
    for result in results:
        typer.echo(result.line())
        failed += result.failed
    raise typer.Exit(1 if failed else 0)


@sd_app.command()
def revoke(
    sd_id: Annotated[str, typer.Argument(metavar="ID", help="Short id, e.g. dataset-pv-ertrag.")],
    directory: Annotated[Path | None, typer.Option("--dir", help="Signed set folder.")] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Clear the revocation bit.")] = False,
) -> None:
    """Revoke a self-description (Bitstring Status List) and re-sign the status list."""
    from connector.bootstrap import initialise
    from connector.credentials.jsonld import default_loader
    from connector.stores.sd_files import SelfDescriptionFolder
    from connector.stores.sd_publisher import set_revoked

    settings = _settings()
    clock = SystemClock()
    folder = SelfDescriptionFolder(directory or settings.data_dir / "self-descriptions")
    try:
        init = initialise(settings, clock)
        index = set_revoked(
            folder,
            sd_id,
            keyset=init.keyset,
            loader=default_loader(),
            now=clock.now(),
            revoked=not undo,
        )
    except ConnectorError as exc:
        typer.echo(f"sd revoke: {exc}", err=True)
        raise typer.Exit(1) from exc
    state = "reaktiviert / reinstated" if undo else "widerrufen / revoked"
    typer.echo(f"{sd_id}: {state} (status list index {index}) in {folder.root}")


@sd_app.command()
def show(
    directory: Annotated[Path | None, typer.Option("--dir", help="Signed set folder.")] = None,
) -> None:
    """List a signed set: id, types, issuer."""
    from connector.stores.sd_files import SelfDescriptionFolder

    settings = _settings()
    folder = SelfDescriptionFolder(directory or settings.data_dir / "self-descriptions")
    for sd_id in folder.ids():
        doc = folder.read_json(sd_id)
        typer.echo(f"{sd_id}\t{json.dumps(doc.get('type'))}\t{doc.get('issuer')}")
