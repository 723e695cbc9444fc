"""Public helpers for tests of the connector and of systems that integrate it.

Fixed clocks, throwaway keys and settings pointing at a temporary data dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connector.clock import FixedClock
from connector.credentials import keys as keymod
from connector.settings import Settings

__all__ = ["FixedClock", "make_settings", "throwaway_keyset"]


def throwaway_keyset(
    did: str = "did:web:connector.test", *, with_rsa: bool = False
) -> keymod.KeySet:
    """A fresh in-memory key set for ``did`` (nothing written to disk)."""
    ed = keymod.generate("ed25519")
    p256 = keymod.generate("p256")
    rsa_key = keymod.generate("rsa") if with_rsa else None
    return keymod.KeySet(
        did=did,
        ed25519=ed,  # type: ignore[arg-type]
        p256=p256,  # type: ignore[arg-type]
        rsa=rsa_key,  # type: ignore[arg-type]
    )


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a connector whose state lives in ``data_dir`` (development mode)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "management_api_key": "test-management-key",
        "auditor_api_key": "test-auditor-key",
    }
    values.update(overrides)
    return Settings(**values)
