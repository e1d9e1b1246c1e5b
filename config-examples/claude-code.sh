#!/usr/bin/env sh
# Add oh-mcp to Claude Code (user scope). Needs oh-mcp on PATH (e.g. the venv's bin directory).
claude mcp add openhands --scope user \
  --env OPENHANDS_URL=http://localhost:3000 \
  --env OPENHANDS_API_KEY="${OPENHANDS_API_KEY:-}" \
  -- oh-mcp
