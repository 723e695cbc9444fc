"""``connector credential``: issue membership credentials (as a federation authority), keep the
credentials this connector was given, list them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from connector.clock import SystemClock, parse_instant
from connector.errors import ConnectorError, Invalid

credential_app = typer.Typer(
    help="Nachweise (Mitgliedschaft) / credentials (membership).", no_args_is_help=True
)

FORMATS = ("vc+jwt", "ldp_vc", "both")


def _settings() -> Any:
    from connector.cli import load_settings

    return load_settings()


def _instant(value: str) -> dt.datetime:
    try:
        if len(value) == 10:
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        return parse_instant(value)
    except ValueError as exc:
        raise Invalid(f"not a date or dateTime: {value}", reason="invalid_validity") from exc


def _audit(settings: Any, keyset: Any, details: dict[str, Any], participant: str | None) -> None:
    from connector.audit.vocabulary import EventType
    from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
    from connector.stores.database import create_db_engine, migrate

    engine = create_db_engine(settings.effective_database_url)
    try:
        migrate(engine)
        store = SqlAuditStore(engine, SystemClock(), checkpoint_signer(keyset))
        store.record(
            EventType.CREDENTIAL_CHANGED,
            actor=keyset.did,
            participant=participant,
            details=details,
        )
    finally:
        engine.dispose()


@credential_app.command()
def issue(
    *,
    subject: Annotated[str, typer.Option(help="The member's DID (did:web:…).")],
    credential_type: Annotated[
        str, typer.Option("--type", help="Credential type (its terms must be pinned).")
    ] = "MembershipCredential",
    valid_until: Annotated[
        str | None, typer.Option(help="End of validity (2027-12-31 or a dateTime).")
    ] = None,
    member_of: Annotated[
        str | None, typer.Option(help="The federation (default: this issuer's DID).")
    ] = None,
    role: Annotated[list[str] | None, typer.Option(help="A role of the member (repeat).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="vc+jwt (default), ldp_vc or both.")
    ] = "vc+jwt",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Issue a credential about SUBJECT, signed with this connector's keys (as an authority)."""
    from connector.bootstrap import initialise
    from connector.credentials.jsonld import default_loader
    from connector.identity.issuance import IssuedRegistry
    from connector.identity.membership import membership_credential, secure

    if fmt not in FORMATS:
        typer.echo(f"--format must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    clock = SystemClock()
    try:
        init = initialise(settings, clock)
        now = clock.now()
        until = _instant(valid_until) if valid_until else None
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        # validate before an index is allocated
        membership_credential(
            issuer=init.did,
            subject=subject,
            issued_at=now,
            valid_until=until,
            credential_type=credential_type,
        )
        registry = IssuedRegistry.in_data_dir(settings.data_dir, settings.base_url)
        _, status = registry.register(
            credential_id,
            subject=subject,
            credential_type=credential_type,
            valid_from=now,
            valid_until=until,
        )
        credential = membership_credential(
            issuer=init.did,
            subject=subject,
            issued_at=now,
            valid_until=until,
            credential_type=credential_type,
            member_of=member_of,
            roles=role or (),
            credential_id=credential_id,
            status=status,
        )
        loader = default_loader()
        formats = ["vc+jwt", "ldp_vc"] if fmt == "both" else [fmt]
        secured = [
            secure(credential, keyset=init.keyset, loader=loader, fmt=f, now=now)  # type: ignore[arg-type]
            for f in formats
        ]
        registry.publish(keyset=init.keyset, loader=loader, now=now)
    except ConnectorError as exc:
        typer.echo(f"credential issue: {exc.detail} ({exc.reason})", err=True)
        raise typer.Exit(1) from exc
    if len(secured) == 1 and isinstance(secured[0], str):
        text = secured[0] + "\n"
    else:
        value: Any = secured if len(secured) > 1 else secured[0]
        text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    _audit(
        settings,
        init.keyset,
        {
            "credential": credential["id"],
            "change": "issued",
            "type": credential_type,
            "statusListIndex": status["statusListIndex"],
        },
        subject,
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"issued {credential['id']} → {out}", err=True)


def _items(text: str) -> list[str | dict[str, Any]]:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return [stripped]
    value = json.loads(stripped)
    if isinstance(value, dict) and "verifiableCredential" in value:
        value = value["verifiableCredential"]
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | dict) for v in values):
        raise Invalid("expected credentials (JWT strings or JSON objects)", reason="bad_credential")
    return values


def _verifier(settings: Any, clock: SystemClock) -> Any:
    from connector.credentials.did_resolver import DidResolver
    from connector.credentials.jsonld import default_loader
    from connector.credentials.verifier import Verifier
    from connector.identity.did_fetcher import HttpDidFetcher

    networks = []
    for entry in settings.allow_private_addresses:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        networks.append(entry)
    fetcher = HttpDidFetcher(
        allow_insecure=settings.allow_insecure_did_web, allowed_networks=networks
    )
    resolver = DidResolver(clock, fetcher, allow_http=settings.allow_insecure_did_web)

    def status(url: str) -> Any:
        return json.loads(fetcher.fetch(url))

    return Verifier(resolver=resolver, loader=default_loader(), clock=clock, status_lookup=status)


@credential_app.command()
def add(
    file: Annotated[Path, typer.Argument(help="A vc+jwt, a DI credential or a JSON list of them.")],
    replace: Annotated[
        bool, typer.Option(help="Replace a held credential with the same id.")
    ] = False,
) -> None:
    """Keep credentials this connector was given (verified first; about this connector only)."""
    from connector.bootstrap import initialise
    from connector.identity.membership import describe
    from connector.stores.credential_store import SqlCredentialStore
    from connector.stores.database import create_db_engine, migrate

    settings = _settings()
    clock = SystemClock()
    init = initialise(settings, clock)
    engine = create_db_engine(settings.effective_database_url)
    try:
        migrate(engine)
        store = SqlCredentialStore(engine, clock)
        verifier = _verifier(settings, clock)
        for item in _items(file.read_text(encoding="utf-8")):
            description = describe(item)
            if description.subject != init.did:
                raise Invalid(
                    f"the credential is about {description.subject}, not {init.did}",
                    reason="subject_mismatch",
                )
            verifier.verify_credential(item if isinstance(item, dict) else description.body)
            store.add(
                id=description.id,
                format=description.format,
                types=description.types,
                issuer=description.issuer,
                subject=description.subject,
                valid_until=description.valid_until,
                body=description.body,
                replace=replace,
            )
            _audit(
                settings,
                init.keyset,
                {"credential": description.id, "change": "added", "issuer": description.issuer},
                None,
            )
            typer.echo(f"added {description.id} ({', '.join(description.types)})")
    except (ConnectorError, ValueError, OSError) as exc:
        detail = exc.detail if isinstance(exc, ConnectorError) else str(exc)
        reason = f" ({exc.reason})" if isinstance(exc, ConnectorError) else ""
        typer.echo(f"credential add: {detail}{reason}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


@credential_app.command("list")
def list_credentials(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The credentials this connector holds."""
    from connector.stores.credential_store import SqlCredentialStore
    from connector.stores.database import create_db_engine, migrate

    settings = _settings()
    engine = create_db_engine(settings.effective_database_url)
    try:
        migrate(engine)
        held = SqlCredentialStore(engine, SystemClock()).all()
    finally:
        engine.dispose()
    if as_json:
        rows = [
            {
                "id": c.id,
                "format": c.format,
                "types": list(c.types),
                "issuer": c.issuer,
                "subject": c.subject,
                "validUntil": c.valid_until,
                "addedAt": c.added_at,
            }
            for c in held
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    for c in held:
        types = ",".join(t for t in c.types if t != "VerifiableCredential")
        typer.echo(f"{c.id}  {types}  {c.format}  issuer={c.issuer}  until={c.valid_until or '-'}")


@credential_app.command()
def revoke(
    credential_id: Annotated[str, typer.Argument(help="The id of a credential we issued.")],
    undo: Annotated[bool, typer.Option("--undo", help="Reinstate a revoked credential.")] = False,
) -> None:
    """Revoke a credential this connector issued (its status bit) and re-sign the status list."""
    from connector.bootstrap import initialise
    from connector.credentials.jsonld import default_loader
    from connector.identity.issuance import IssuedRegistry

    settings = _settings()
    clock = SystemClock()
    try:
        init = initialise(settings, clock)
        registry = IssuedRegistry.in_data_dir(settings.data_dir, settings.base_url)
        row = registry.set_revoked(credential_id, not undo)
        registry.publish(keyset=init.keyset, loader=default_loader(), now=clock.now())
    except ConnectorError as exc:
        typer.echo(f"credential revoke: {exc.detail} ({exc.reason})", err=True)
        raise typer.Exit(1) from exc
    change = "reinstated" if undo else "revoked"
    _audit(
        settings,
        init.keyset,
        {"credential": row.id, "change": change, "statusListIndex": row.index},
        row.subject,
    )
    typer.echo(f"{change} {row.id} (status list index {row.index}, {registry.list_url})")


@credential_app.command()
def issued(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The credentials this connector issued (as an authority), with their status."""
    from connector.identity.issuance import IssuedRegistry

    settings = _settings()
    try:
        rows = IssuedRegistry.in_data_dir(settings.data_dir, settings.base_url).all()
    except ConnectorError as exc:
        typer.echo(f"credential issued: {exc.detail} ({exc.reason})", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    for r in rows:
        state = "revoked" if r.revoked else "valid"
        typer.echo(
            f"{r.id}  #{r.index}  {r.type}  {r.subject}  until={r.valid_until or '-'}  {state}"
        )
