"""End-to-end stage: the real OpenHands app server (process sandbox), a fake LLM, and oh-mcp over stdio."""
