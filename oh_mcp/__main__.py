# Absolute, so this file also runs as a script (`uv run oh_mcp/__main__.py`, the MCP Bundle's entry point).
from oh_mcp.cli import main

main()
