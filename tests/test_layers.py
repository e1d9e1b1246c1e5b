"""The OpenHands client knows nothing of MCP, and the MCP layer reads no HTTP details."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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
    mcp_layer = [*(PACKAGE / "tools").glob("*.py"), *(PACKAGE / "tasks").glob("*.py"), PACKAGE / "resources.py"]
    for path in [*mcp_layer, PACKAGE / "prompts.py"]:
        assert not {"httpx", "httpx2"} & set(_imports(path)), f"{path.name} imports an HTTP client"
        assert "status_code" not in path.read_text(), f"{path.name} reads HTTP status codes"


def test_nothing_prints_to_stdout_outside_the_cli() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("cli.py", "doctor.py"):  # commands whose output is the point, never run while serving
            continue
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert not calls, f"{path.relative_to(PACKAGE)} calls print()"


def _strings(path: Path) -> list[str]:
    """Every string literal in a module, f-string parts included."""
    tree = ast.parse(path.read_text())
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_the_client_speaks_openhands_words_and_names_no_tool() -> None:
    from oh_mcp.tools import TOOLSETS

    names = [spec.name for ts in TOOLSETS for spec in ts.tools]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    for path in (PACKAGE / "openhands").glob("*.py"):
        # A route path is OpenHands' own word, even where a tool is named after it (/ask_agent).
        for text in (t for t in _strings(path) if not re.fullmatch(r"/[\w/{}.-]*", t)):
            found = pattern.search(text)
            assert found is None, f"{path.name} names the tool {found.group(0)} in {text[:80]!r}"


def test_resources_read_records_not_tools() -> None:
    imported = _imports(PACKAGE / "resources.py")
    assert not [name for name in imported if name.startswith((".tools", "oh_mcp.tools"))], imported


def test_help_and_a_bad_setting_load_no_mcp_sdk() -> None:
    probe = (
        "import sys\n"
        "from oh_mcp.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "loaded = sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.'))\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    for argv, code in ((["--help"], "0"), (["--port", "not-a-port"], "2")):
        done = subprocess.run(
            [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.stderr.strip().endswith(f"{code} []"), done.stderr
