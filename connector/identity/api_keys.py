"""API keys of the management and audit surfaces: constant-time checks, development defaults.

In ``development`` an unset key is generated once and kept in ``<data dir>/<name>`` (mode 0600)
so the demo works without configuration; ``production`` refuses to start without real keys
(see :class:`connector.settings.Settings`). Keys are never logged.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path


def ensure_dev_key(data_dir: Path, name: str) -> str:
    """Read ``<data_dir>/<name>``, creating it with a random key if absent."""
    path = data_dir / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison; an absent or empty presented key never matches."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
