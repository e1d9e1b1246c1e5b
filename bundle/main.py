"""The MCP Bundle's entry point, `server/main.py` in the bundle: `uv run` installs oh-mcp from the
bundle's pyproject.toml, then runs this. It lives outside the package because a script's own folder
comes first on sys.path, and oh_mcp/ holds modules named like the standard library's (http.py)."""

from oh_mcp.cli import main

main()
