"""What the routers need, assembled once by the app factory and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from connector.clock import Clock
from connector.credentials.keys import KeySet
from connector.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    keyset: KeySet
    management_key: str
    auditor_key: str
    did_document: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def did(self) -> str:
        return self.keyset.did


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
