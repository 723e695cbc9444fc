"""File sources stay inside ``CONNECTOR_SOURCE_DIRS`` (default: the data dir).

A path is resolved (``..`` and every symlink followed) and must then lie inside one of the
resolved source directories; a directory source lists only regular files that pass the same
check. Files are opened with ``O_NOFOLLOW`` on the resolved path and checked again against
the inode that was approved, so swapping in a symlink after the check does not help.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from connector.errors import Forbidden, NotFound

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SourceDirs:
    """The directories file and SQLite sources may read from."""

    roots: tuple[Path, ...]
    base: Path
    """Relative source paths are taken relative to this directory (the data dir)."""

    @classmethod
    def of(cls, dirs: Iterable[str | Path], data_dir: Path) -> SourceDirs:
        """From ``CONNECTOR_SOURCE_DIRS`` (empty: the data dir)."""
        roots = [Path(d) for d in dirs] or [data_dir]
        base = data_dir.resolve()
        return cls(tuple((r if r.is_absolute() else base / r).resolve() for r in roots), base)

    def resolve(self, path: str) -> Path:
        """The resolved, confined path; Forbidden outside the roots, NotFound if missing."""
        raw = Path(path)
        candidate = raw if raw.is_absolute() else self.base / raw
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound("source file not found", reason="source_missing") from exc
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise Forbidden("source path not allowed", reason="source_outside_dirs") from exc
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.roots):
            raise Forbidden("source path not allowed", reason="source_outside_dirs")
        return resolved

    def files(self, path: str) -> list[Path]:
        """The file, or the regular files below a directory (sorted, each confined)."""
        resolved = self.resolve(path)
        if resolved.is_file():
            return [resolved]
        out: list[Path] = []
        for entry in sorted(resolved.rglob("*")):
            if entry.name.startswith("."):
                continue
            try:
                target = self.resolve(str(entry))
            except Forbidden:
                continue
            if target.is_file():
                out.append(target)
        return out

    def open(self, path: Path) -> BinaryIO:
        """Open a resolved, confined file without following a symlink swapped in since."""
        before = os.stat(path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        after = os.fstat(fd)
        if (before.st_ino, before.st_dev) != (after.st_ino, after.st_dev) or not stat.S_ISREG(
            after.st_mode
        ):
            os.close(fd)
            raise Forbidden("source path not allowed", reason="source_outside_dirs")
        return os.fdopen(fd, "rb", buffering=0)


def read_chunks(dirs: SourceDirs, files: Iterable[Path], size: int = CHUNK) -> Iterator[bytes]:
    """The bytes of ``files`` in order, ``size`` bytes at a time."""
    for path in files:
        with dirs.open(path) as handle:
            while True:
                chunk = handle.read(size)
                if not chunk:
                    break
                yield chunk
