"""``connector demo``: generate the City of Hagen's synthetic demo data (SQLite + files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from connector.clock import SystemClock
from connector.dataplane.demo_data import DEFAULT_SEED, DEFAULT_START, MAX_DAYS, DemoConfig
from connector.dataplane.demo_store import DemoStoreResult, write_demo_data
from connector.errors import ConnectorError


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _parse_start(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value}", param_hint="--start") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _report(result: DemoStoreResult, seconds: float) -> None:
    manifest = result.manifest
    state = "written" if result.regenerated else "unchanged (use --force to regenerate)"
    typer.echo(
        f"demo data {state}: {result.directory}\n"
        f"  seed {manifest['seed']}, {manifest['start']} … {manifest['end']} "
        f"({manifest['days']} days), version {manifest['version']}, "
        f"fingerprint {manifest['fingerprint'][:16]}…"
    )
    for entry in manifest["datasets"]:
        tables = ", ".join(
            f"{name} {meta['rows']:,} rows" for name, meta in entry["tables"].items()
        )
        typer.echo(f"  {entry['slug']:<28} {entry['access']:<16} {tables}")
    typer.echo("  files:")
    for path in result.files:
        typer.echo(f"    {path.name} ({_size(path)})")
    if result.regenerated:
        typer.echo(f"  took {seconds:.1f} s")
    typer.echo("  synthetic data (Synthetische Demodaten), not measurements")


def demo(
    days: Annotated[
        int, typer.Option("--days", min=1, max=MAX_DAYS, help="Length of the period in days.")
    ] = 365,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default: <CONNECTOR_DATA_DIR>/demo)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = DEFAULT_SEED,
    start: Annotated[
        str, typer.Option("--start", help="First day of the period (UTC), YYYY-MM-DD.")
    ] = DEFAULT_START.date().isoformat(),
    force: Annotated[
        bool, typer.Option("--force", help="Regenerate even if the data is current.")
    ] = False,
) -> None:
    """Generate the nine Hagen demo datasets (synthetic) as SQLite tables and files."""
    first = _parse_start(start)
    if out is None:
        from connector.cli import load_settings

        out = load_settings().data_dir / "demo"
    clock = SystemClock()
    began = clock.monotonic()
    try:
        config = DemoConfig(seed=seed, days=days, start=first)
        result = write_demo_data(out, config, force=force)
    except (ConnectorError, OSError) as exc:
        typer.echo(f"demo: {exc}", err=True)
        raise typer.Exit(1) from exc
    _report(result, clock.monotonic() - began)
