"""``connector policy …``: validate, evaluate and explain ODRL policies from files.

Wired into the main CLI with ``app.add_typer(policy_app, name="policy")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector.errors import ConnectorError
from connector.policy import (
    Policy,
    compile_policy,
    evaluate,
    explain_policy,
    explain_report,
    parse_policies,
    parse_request,
    parse_world,
    serialize,
    validate,
)
from connector.policy.reader import Syntax

policy_app = typer.Typer(
    help="ODRL 2.2 policies: validate, evaluate, explain.", no_args_is_help=True
)


def _syntax(path: Path) -> Syntax | None:
    suffix = path.suffix.lower()
    if suffix in (".ttl", ".turtle"):
        return "turtle"
    if suffix in (".nt",):
        return "n-triples"
    if suffix in (".json", ".jsonld"):
        return "json-ld"
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from exc


def _policies(path: Path) -> list[Policy]:
    return parse_policies(_read(path), _syntax(path), source=str(path))


def _one_policy(path: Path) -> Policy:
    policies = _policies(path)
    if len(policies) != 1:
        raise ConnectorError(
            f"{path}: expected one policy, found {len(policies)}", reason="policy_count"
        )
    return policies[0]


@policy_app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Policy files (JSON-LD or Turtle).")],
) -> None:
    """List the problems of each policy; exit 1 if any policy has an error."""
    failed = False
    for path in files:
        try:
            policies = _policies(path)
        except ConnectorError as exc:
            typer.echo(f"{path}: error: {exc.detail} [{exc.reason}]")
            failed = True
            continue
        if not policies:
            typer.echo(f"{path}: error: no ODRL policy found [policy_count]")
            failed = True
        for policy in policies:
            problems = validate(policy)
            for p in problems:
                typer.echo(f"{path}: {policy.uid}: {p.severity}: {p.path}: {p.message} [{p.code}]")
            if any(p.severity == "error" for p in problems):
                failed = True
            elif not problems:
                typer.echo(f"{path}: {policy.uid}: ok")
    raise typer.Exit(1 if failed else 0)


def _report_for(policy_path: Path, request_path: Path, sotw_path: Path):  # type: ignore[no-untyped-def]
    policy = _one_policy(policy_path)
    request = parse_request(_read(request_path), _syntax(request_path), source=str(request_path))
    world = parse_world(_read(sotw_path), _syntax(sotw_path), source=str(sotw_path))
    return evaluate(compile_policy(policy), request, world)


@policy_app.command("evaluate")
def evaluate_command(
    policy: Annotated[Path, typer.Option("--policy", help="The policy file.")],
    request: Annotated[Path, typer.Option("--request", help="EvaluationRequest or odrl:Request.")],
    sotw: Annotated[Path, typer.Option("--sotw", help="The state of the world.")],
    fmt: Annotated[str, typer.Option("--format", help="turtle or json-ld.")] = "turtle",
) -> None:
    """Print the compliance report (FORCE vocabulary) for a request."""
    if fmt not in ("turtle", "json-ld"):
        raise typer.BadParameter("--format must be turtle or json-ld")
    try:
        report = _report_for(policy, request, sotw)
    except ConnectorError as exc:
        typer.echo(f"error: {exc.detail} [{exc.reason}]", err=True)
        raise typer.Exit(1) from exc
    typer.echo(serialize(report, fmt), nl=False)


@policy_app.command("explain")
def explain_command(
    file: Annotated[Path, typer.Argument(help="The policy file.")],
    lang: Annotated[str, typer.Option("--lang", help="de or en.")] = "de",
    request: Annotated[
        Path | None, typer.Option("--request", help="Explain the decision for this request.")
    ] = None,
    sotw: Annotated[
        Path | None, typer.Option("--sotw", help="State of the world for --request.")
    ] = None,
) -> None:
    """Explain a policy — or, with --request and --sotw, a decision — in German or English."""
    if lang not in ("de", "en"):
        raise typer.BadParameter("--lang must be de or en")
    try:
        if request is not None:
            if sotw is None:
                raise typer.BadParameter("--request needs --sotw")
            report = _report_for(file, request, sotw)
            typer.echo(explain_report(report, lang))  # type: ignore[arg-type]
            return
        for policy in _policies(file):
            typer.echo(explain_policy(policy, lang))  # type: ignore[arg-type]
    except ConnectorError as exc:
        typer.echo(f"error: {exc.detail} [{exc.reason}]", err=True)
        raise typer.Exit(1) from exc
