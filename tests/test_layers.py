"""The OpenHands client knows nothing of MCP, and the MCP layer reads no HTTP details."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "oh_mcp"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level
            names.add(prefix + (node.module or ""))
    return names


def test_the_openhands_client_imports_no_mcp_and_nothing_from_the_mcp_layer() -> None:
    for path in (PACKAGE / "openhands").glob("*.py"):
        for name in _imports(path):
            assert not name.startswith("mcp"), f"{path.name} imports {name}"
            assert not name.startswith(("..tools", "..server", "..resources", "oh_mcp.")), f"{path.name} imports {name}"


def test_tools_never_touch_httpx() -> None:
    for path in [*(PACKAGE / "tools").glob("*.py"), PACKAGE / "resources.py", PACKAGE / "prompts.py"]:
        assert "httpx" not in _imports(path), f"{path.name} imports httpx"
        assert "status_code" not in path.read_text(), f"{path.name} reads HTTP status codes"


def test_nothing_prints_to_stdout_outside_the_cli() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("cli.py", "doctor.py"):  # commands whose output is the point, never run while serving
            continue
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert not calls, f"{path.relative_to(PACKAGE)} calls print()"
