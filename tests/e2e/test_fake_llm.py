"""The fake LLM's script protocol, without OpenHands: what each model call answers (not an e2e test)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from .fake_llm import FakeLLM, serve_fake_llm

TOOLS = [{"type": "function", "function": {"name": name}} for name in ("terminal", "finish", "think")]


def ask(llm: FakeLLM, messages: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"model": "fake-model", "messages": messages, "tools": TOOLS}
    response = httpx.post(f"{llm.base_url}/chat/completions", json=body, timeout=10, trust_env=False)
    call: dict[str, Any] = response.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    return {"name": call["name"], **json.loads(call["arguments"])}


def after(messages: list[dict[str, Any]], call: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation once the agent made `call` and saw its observation."""
    tool_call = {"id": "c", "type": "function", "function": {"name": call["name"], "arguments": "{}"}}
    return [*messages, {"role": "assistant", "tool_calls": [tool_call]}, {"role": "tool", "content": "ok"}]


def test_a_script_runs_its_commands_in_order_then_finishes_with_its_words() -> None:
    with serve_fake_llm(FakeLLM()) as llm:
        messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "RUN: ls\nRUN: pwd\nSAY: done"}]
        first = ask(llm, messages)
        assert (first["name"], first["command"], first["security_risk"]) == ("terminal", "ls", "LOW")
        messages = after(messages, first)
        second = ask(llm, messages)
        assert (second["name"], second["command"]) == ("terminal", "pwd")
        assert ask(llm, after(messages, second)) == {"name": "finish", "message": "done"}


def test_a_message_without_a_script_is_echoed_and_risk_applies_to_the_next_run_only() -> None:
    with serve_fake_llm(FakeLLM()) as llm:
        assert ask(llm, [{"role": "user", "content": "hello"}]) == {"name": "finish", "message": "Echo: hello"}
        risky = [{"role": "user", "content": "RISK: HIGH\nRUN: rm x\nRUN: ls"}]
        assert ask(llm, risky)["security_risk"] == "HIGH"
        assert ask(llm, after(risky, {"name": "terminal"}))["security_risk"] == "LOW"


def test_slow_delays_the_next_model_call() -> None:
    with serve_fake_llm(FakeLLM()) as llm:
        began = time.monotonic()
        assert ask(llm, [{"role": "user", "content": "SLOW: 0.5\nRUN: ls"}])["command"] == "ls"
        assert time.monotonic() - began >= 0.5
