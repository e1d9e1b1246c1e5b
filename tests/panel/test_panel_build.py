"""The panel shipped in the wheel is exactly what its sources build to, and they type-check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_panel_is_not_stale_against_its_sources() -> None:
    node = shutil.which("node")
    assert node is not None, "Node is needed to build the panel: scripts/setup --dev"
    done = subprocess.run(
        [node, "panel/build.mjs", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_panel_and_the_test_host_type_check() -> None:
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "TypeScript is missing: scripts/setup --dev"
    done = subprocess.run(
        [str(tsc), "-p", "panel/tsconfig.json"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_staleness_check_notices_a_changed_source(tmp_path: Path) -> None:
    # A copy of the tree with one changed line in the style must fail the check.
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "panel", copy / "panel")
    shutil.copytree(ROOT / "oh_mcp" / "panel", copy / "oh_mcp" / "panel")
    (copy / "node_modules").symlink_to(ROOT / "node_modules")
    css = copy / "panel" / "src" / "panel.css"
    css.write_text(css.read_text() + "\n.extra { color: red; }\n")
    done = subprocess.run(
        ["node", "panel/build.mjs", "--check"], cwd=copy, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1 and "stale" in done.stderr
