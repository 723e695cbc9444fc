"""Start-up steps shared by ``connector init``, ``connector serve`` and the app factory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connector.clock import Clock
from connector.credentials.did_web import did_from_url
from connector.credentials.keys import KeySet
from connector.identity.keystore import init_keys, load_keys
from connector.settings import Settings


@dataclass(frozen=True)
class Initialised:
    did: str
    keyset: KeySet
    created: list[Path]


def initialise(settings: Settings, clock: Clock) -> Initialised:
    """Create missing keys (never overwriting) and load them."""
    did = did_from_url(settings.base_url)
    created = init_keys(settings.keys_dir, with_rsa=settings.rsa_key, did=did, now=clock.now())
    return Initialised(did=did, keyset=load_keys(settings.keys_dir, did), created=created)
