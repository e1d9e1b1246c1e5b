"""Whole directory trees as data, to show that a refused operation wrote nothing anywhere."""

from __future__ import annotations

import os
from pathlib import Path


def everything(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Every entry under `root`, .git included: kind, bytes (a link's target) and permission bits."""
    found: dict[str, tuple[str, bytes, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path).encode(), 0)
            elif path.is_dir():
                found[rel] = ("dir", b"", path.lstat().st_mode & 0o777)
            else:
                found[rel] = ("file", path.read_bytes(), path.lstat().st_mode & 0o777)
    return found


def changed(before: dict[str, tuple[str, bytes, int]], after: dict[str, tuple[str, bytes, int]]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
