"""An environment for running programs through uv as a person's machine would: uv alone on PATH
next to the system's tools (no checkout, no venv), a scratch cache, and no Python downloads (the
machine's own Python serves; only the package index is reached)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

UV = Path(sys.executable).parent / "uv"  # from the test extras
DROPPED = ("OH_MCP_", "OPENHANDS_", "UV_", "VIRTUAL_ENV", "PYTHON", "CONDA")


def uv_env(scratch: Path) -> dict[str, str]:
    bin_dir = scratch / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if not (bin_dir / "uv").exists():
        (bin_dir / "uv").symlink_to(UV)
        (bin_dir / "uvx").symlink_to(UV.with_name("uvx"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED)}
    return base | {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(scratch / "home"),
        "UV_CACHE_DIR": str(scratch / "uv-cache"),
        "UV_TOOL_DIR": str(scratch / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(scratch / "uv-tool-bin"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
