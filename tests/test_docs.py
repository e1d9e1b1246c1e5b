from __future__ import annotations

from pathlib import Path

from oh_mcp.docs import render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_tables_match_the_server() -> None:
    text = README.read_text()
    assert render(text) == text, "README tables are stale: run python -m oh_mcp.docs"
    assert "| `send_message` |" in text and "| `OPENHANDS_URL` |" in text
