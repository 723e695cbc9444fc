from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from connector.audit.vocabulary import EventType, Result
from connector.bootstrap import initialise
from connector.cli_audit import audit_app
from connector.clock import FixedClock
from connector.credentials.did_web import build_did_document
from connector.stores.audit_store import SqlAuditStore, checkpoint_signer
from connector.stores.database import create_db_engine, migrate
from connector.testing import make_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    settings = make_settings(tmp_path)
    clock = FixedClock()
    keyset = initialise(settings, clock).keyset
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    store = SqlAuditStore(engine, clock, checkpoint_signer(keyset), checkpoint_every=3)
    for i in range(7):
        clock.advance(60)
        store.record(
            EventType.DATA_ACCESSED,
            actor="did:web:p.example",
            participant="did:web:p.example",
            dataset="urn:dataset:1",
            result=Result.OK,
            details={"bytes": i, "duration_ms": 2},
        )
    (tmp_path / "did.json").write_text(json.dumps(build_did_document(keyset)))
    engine.dispose()
    yield tmp_path


def _run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(audit_app, list(args), env={"CONNECTOR_DATA_DIR": str(data_dir)})
    return result.exit_code, result.stdout, result.stderr


def test_verify_database_and_tampering(data_dir: Path) -> None:
    code, out, _ = _run(data_dir, "verify")
    assert code == 0 and out.startswith("audit chain ok: entries 1..7")
    code, out, _ = _run(data_dir, "verify", "--json")
    assert code == 0 and json.loads(out)["checkpoints_verified"] == 2
    engine = create_db_engine(f"sqlite:///{data_dir / 'connector.db'}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    code, out, _ = _run(data_dir, "verify")
    assert code == 1
    assert out.splitlines() == ["audit chain broken at position 5: deleted (next entry is 6)"]
    code, out, _ = _run(data_dir, "verify", "--from", "6")
    assert code == 2  # entry 5 is gone: nothing to start after
    engine.dispose()


def test_export_and_verify_offline(data_dir: Path) -> None:
    export = data_dir / "audit.jsonl"
    code, out, _ = _run(data_dir, "export", "--format", "jsonl", "-o", str(export))
    assert code == 0 and "10 lines" in out  # header, 2 checkpoints, 7 entries
    pinned = ["--public-key", str(data_dir / "did.json")]
    code, out, err = _run(data_dir, "verify", "--export", str(export), *pinned)
    assert code == 0 and "2 signed checkpoints verified" in out and err == ""
    code, out, err = _run(data_dir, "verify", "--export", str(export))
    assert code == 0 and "not pinned" in err
    lines = export.read_text().splitlines(keepends=True)
    lines[5], lines[6] = lines[6], lines[5]  # entries 3 and 4
    export.write_text("".join(lines))
    code, out, _ = _run(data_dir, "verify", "--export", str(export), *pinned)
    assert code == 1 and out.strip() == (
        "audit chain broken at position 3: reordered (entry 3 comes later)"
    )
    csv_file = data_dir / "audit.csv"
    code, _, _ = _run(data_dir, "export", "--format", "csv", "-o", str(csv_file))
    assert code == 0 and len(csv_file.read_text().splitlines()) == 8


def test_checkpoint_and_prune_commands(data_dir: Path) -> None:
    code, out, _ = _run(data_dir, "checkpoint")
    assert code == 0 and out.startswith("checkpoint 7 ")
    code, out, _ = _run(data_dir, "prune", "--redact", "data.accessed=1")
    assert code == 0
    assert (
        json.loads(out)["redacted"]["data.accessed"]["count"] == 7
    )  # written at 2026-01-01 (fixed clock)
    code, out, _ = _run(data_dir, "verify")
    assert code == 0 and "7 redacted" in out
    code, _, err = _run(data_dir, "prune", "--redact", "nonsense=3")
    assert code == 2 and "nonsense" in err


def test_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, "verify", "--export", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl" in err
    code, _, err = _run(tmp_path, "verify")  # no database tables yet
    assert code == 2
