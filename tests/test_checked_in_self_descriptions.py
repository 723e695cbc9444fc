"""The signed self-descriptions checked into the repository verify offline, as published."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from connector.clock import FixedClock, parse_instant
from connector.credentials.did_resolver import DidResolver
from connector.credentials.jsonld import default_loader
from connector.credentials.self_description import build_credentials, load_config
from connector.credentials.shacl import project_shapes
from connector.credentials.verifier import Verifier
from connector.errors import VerificationFailed

FOLDER = Path(__file__).resolve().parents[1] / "self-descriptions"


def _load() -> dict[str, Any]:
    items: dict[str, Any] = {}
    for path in sorted(FOLDER.iterdir()):
        if path.suffix == ".json" and not path.name.startswith("."):
            items[path.name] = json.loads(path.read_text())
        elif path.suffix == ".jwt":
            items[path.name] = path.read_text().strip()
    return items


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    return _load()


@pytest.fixture(scope="module")
def verifier(published: dict[str, Any]) -> Verifier:
    status_list = published["status-list.json"]
    # Verify at a fixed instant inside the validity window, so the test does not age.
    at = parse_instant(status_list["validFrom"]) + dt.timedelta(days=1)
    did_document = json.loads((FOLDER / ".well-known" / "did.json").read_text())
    clock = FixedClock(at)
    return Verifier(
        resolver=DidResolver(clock, None, pinned=[did_document]),
        loader=default_loader(),
        clock=clock,
        status_lookup={status_list["id"]: status_list}.__getitem__,
        shapes=project_shapes(),
        supporting=[v for v in published.values() if isinstance(v, dict)],
    )


def test_every_checked_in_file_verifies(published: dict[str, Any], verifier: Verifier) -> None:
    assert len(published) == 12 * 2 + 1
    for name, item in published.items():
        result = verifier.verify(item)
        assert result.issuer == "did:web:connector.hagen.example", name
        if name != "status-list.json":
            assert "shapes" in result.checks and "status" in result.checks, name


def test_checked_in_set_matches_the_config(published: dict[str, Any]) -> None:
    """The signed files say what hagen.toml says (rebuild, compare everything but the proof)."""
    legal = published["legal-person.json"]
    config = load_config(FOLDER / "hagen.toml")
    rebuilt = build_credentials(
        config,
        issuer_did=legal["issuer"],
        base_url="https://connector.hagen.example",
        issued=parse_instant(legal["validFrom"]),
    )
    for sd_id, credential in rebuilt.items():
        signed = dict(published[f"{sd_id}.json"])
        signed.pop("proof")
        signed.pop("credentialStatus")
        assert signed == credential, f"{sd_id}: re-run 'connector sd build' and 'sd sign'"


def test_a_changed_checked_in_file_fails(published: dict[str, Any], verifier: Verifier) -> None:
    document = json.loads(json.dumps(published["dataset-industrie-co2.json"]))
    document["credentialSubject"] = json.loads(
        json.dumps(document["credentialSubject"]).replace("Hagen", "Hogen", 1)
    )
    with pytest.raises(VerificationFailed):
        verifier.verify(document)
