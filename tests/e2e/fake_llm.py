"""A tiny OpenAI-compatible LLM on loopback that acts out a script written in the user's message.

Agent steps arrive as `stream: true` chat completions offering tools. By default the answer is one
`finish` tool call whose message is "Echo: <last user message>", sent as SSE chunks. Requests
without a `finish` tool (the title generator) get a short plain answer. Every conversation has a
call cap, and so does the whole server, so a confused agent can never loop for long.

The script: lines of the latest user message that start with a marker, in order.

    RUN: <command>     one model call answering with the `terminal` tool running <command>
    RUNJSON: "<cmd>"   the same, the command a JSON string (so it can hold several lines)
    SLOW: <seconds>    the next model call (a RUN, or the finish) takes that long to answer
    RISK: <level>      the next RUN declares this security_risk (LOW, MEDIUM, HIGH; default LOW)
    SAY: <text>        the message the agent finishes with (default: the echo)

Each model call after the message plays the next step: the number of tool calls the assistant made
since that message says which. After the last RUN's observation the agent finishes. Nothing is kept
between calls, so several conversations can run scripts at once.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ECHO_LIMIT = 300


@dataclass
class FakeLLM:
    per_conversation_cap: int = 40
    latency: float = 0.0  # seconds each answer takes, like a real model thinking
    total_cap: int = 400
    base_url: str = ""
    calls: int = 0
    calls_by_conversation: dict[str, int] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: dict[str, Any]) -> tuple[int, int]:
        """Count a call; returns (calls so far for its conversation, calls so far in total)."""
        key = conversation_key(body)
        with self.lock:
            self.calls += 1
            self.calls_by_conversation[key] = self.calls_by_conversation.get(key, 0) + 1
            self.log.append(
                {
                    "t": time.monotonic(),
                    "stream": bool(body.get("stream")),
                    "tools": [tool_name(t) for t in body.get("tools") or []],
                    "last_user": last_user_text(body)[:80],
                }
            )
            return self.calls_by_conversation[key], self.calls

    def summary(self) -> str:
        with self.lock:
            return f"{self.calls} LLM calls; by conversation: {sorted(self.calls_by_conversation.values())}"


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content")).strip()
    return ""


def conversation_key(body: dict[str, Any]) -> str:
    """The first user message identifies a conversation well enough for a call cap."""
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))[:500]
    return ""


def tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        function = tool.get("function")
        if isinstance(function, dict):
            return str(function.get("name", ""))
        return str(tool.get("name", ""))
    return ""


def echo(body: dict[str, Any]) -> str:
    return "Echo: " + last_user_text(body)[:ECHO_LIMIT]


MARKERS = ("RUN", "RUNJSON", "SLOW", "RISK", "SAY")


@dataclass
class Step:
    """One model call's answer: a tool call (name, arguments), after `delay` seconds."""

    tool: str
    arguments: dict[str, Any]
    delay: float = 0.0


def script_of(text: str) -> list[tuple[str, str]]:
    steps = []
    for line in text.splitlines():
        marker, sep, argument = line.strip().partition(":")
        if sep and marker in MARKERS:
            steps.append((marker, argument.strip()))
    return steps


def plan(text: str) -> tuple[list[Step], str | None]:
    """The RUN steps with their delays and risks, and the SAY text; a trailing SLOW delays the finish."""
    runs: list[Step] = []
    delay, risk, say = 0.0, "LOW", None
    for marker, argument in script_of(text):
        if marker == "SLOW":
            delay += float(argument or 0)
        elif marker == "RISK":
            risk = argument.upper() or "LOW"
        elif marker == "SAY":
            say = argument
        else:
            argument = json.loads(argument) if marker == "RUNJSON" else argument
            arguments = {"command": argument, "security_risk": risk, "summary": f"run {argument[:60]}"}
            runs.append(Step("terminal", arguments, delay))
            delay, risk = 0.0, "LOW"
    runs.append(Step("finish", {}, delay))
    return runs, say


def tool_calls_since_last_user(body: dict[str, Any]) -> int:
    calls = 0
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        if message.get("role") == "user":
            break
        if message.get("role") == "assistant":
            calls += len(message.get("tool_calls") or [])
    return calls


def next_step(body: dict[str, Any]) -> Step:
    """The step this model call plays; once the script is done, the finish again."""
    runs, say = plan(last_user_text(body))
    step = runs[min(tool_calls_since_last_user(body), len(runs) - 1)]
    if step.tool == "finish":
        return Step("finish", {"message": say if say is not None else echo(body)}, step.delay)
    return step


def chunk(model: str, cid: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


class Handler(BaseHTTPRequestHandler):
    server: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "e2e"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        llm = self.server.llm
        per_conversation, total = llm.record(body)
        if per_conversation > llm.per_conversation_cap or total > llm.total_cap:
            # 400 is not retried by LiteLLM, so the agent stops at once with an error.
            self._json(400, {"error": {"message": "fake LLM call cap reached", "type": "invalid_request_error"}})
            return
        # OpenHands' ask_agent offers the agent's tools too, but wants plain text: answer it like the title.
        side_question = last_user_text(body).startswith("<QUESTION>")
        offers_finish = "finish" in [tool_name(t) for t in body.get("tools") or []] and not side_question
        step = next_step(body) if offers_finish else None
        time.sleep(llm.latency + (step.delay if step else 0.0))
        model = str(body.get("model") or "fake-model")
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]
        if body.get("stream"):
            self._stream(body, model, cid, step)
        else:
            self._complete(model, cid, step)

    def _complete(self, model: str, cid: str, step: Step | None) -> None:
        message: dict[str, Any]
        if step is not None:
            call = {"id": "call_" + cid[-12:], "type": "function", "function": function_of(step)}
            message, reason = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        else:
            message, reason = {"role": "assistant", "content": "E2E echo conversation"}, "stop"
        self._json(
            200,
            {
                "id": cid,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": reason}],
                "usage": USAGE,
            },
        )

    def _stream(self, body: dict[str, Any], model: str, cid: str, step: Step | None) -> None:
        events: list[dict[str, Any]]
        if step is not None:
            call = function_of(step)
            events = [
                chunk(
                    model,
                    cid,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_" + cid[-12:],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": ""},
                            }
                        ],
                    },
                ),
                chunk(model, cid, {"tool_calls": [{"index": 0, "function": {"arguments": call["arguments"]}}]}),
                chunk(model, cid, {}, "tool_calls"),
            ]
        else:
            events = [
                chunk(model, cid, {"role": "assistant", "content": "E2E echo conversation"}),
                chunk(model, cid, {}, "stop"),
            ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": cid, "object": "chat.completion.chunk", "model": model, "choices": [], "usage": USAGE})
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def function_of(step: Step) -> dict[str, str]:
    return {"name": step.tool, "arguments": json.dumps(step.arguments)}


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # An interrupted agent hangs up mid-answer (a SLOW step): that is expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, llm: FakeLLM) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.llm = llm


@contextmanager
def serve_fake_llm(llm: FakeLLM) -> Iterator[FakeLLM]:
    """Serve `llm` on a free loopback port until the block ends; sets llm.base_url (ending in /v1)."""
    server = FakeLLMServer(llm)
    llm.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield llm
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
