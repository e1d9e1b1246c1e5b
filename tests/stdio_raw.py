"""Speak raw JSON-RPC lines to an MCP server over stdio, checking every stdout line is protocol."""

from __future__ import annotations

import json
import subprocess
from typing import Any, TextIO

INITIALIZE: list[dict[str, Any]] = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
]


def exchange(
    command: list[str], messages: list[dict[str, Any]], env: dict[str, str], stderr: TextIO | int = subprocess.DEVNULL
) -> dict[int, dict[str, Any]]:
    """Send the messages, read until every request id has its answer, then close stdin."""
    wanted = {m["id"] for m in messages if "id" in m}
    answers: dict[int, dict[str, Any]] = {}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        while not wanted <= set(answers):
            line = proc.stdout.readline()
            assert line, "the server closed stdout before answering"
            message = json.loads(line)  # every stdout line must be JSON-RPC
            assert message["jsonrpc"] == "2.0"
            if message.get("id") is not None:
                answers[message["id"]] = message
        proc.stdin.close()
        proc.wait(timeout=20)
    return answers
