"""A small fake of the Anthropic Messages API (`POST /v1/messages`, streamed or not) that plays
Claude Code's model from a script: each request's reply is chosen by a function of the request, and
every request is kept for the test to read."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A reply: text, or a tool call as (tool name, input).
Reply = str | tuple[str, dict[str, Any]]
Script = Callable[[dict[str, Any]], Reply]


@dataclass
class FakeAnthropic:
    script: Script
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def reply_to(self, body: dict[str, Any]) -> Reply:
        self.requests.append(body)
        return self.script(body)


def blocks(reply: Reply) -> list[dict[str, Any]]:
    if isinstance(reply, str):
        return [{"type": "text", "text": reply}]
    name, arguments = reply
    return [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": name, "input": arguments}]


def message(model: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    return {
        "id": "msg_" + uuid.uuid4().hex[:20],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def stream_events(done: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "message_start", {"type": "message_start", "message": {**done, "content": [], "stop_reason": None}}
    for i, block in enumerate(done["content"]):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
            )
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": start}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": done["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if self.path.startswith("/v1/messages/count_tokens"):
                self._json({"input_tokens": 100})
                return
            if not self.path.startswith("/v1/messages"):
                self.send_error(404)
                return
            done = message(body.get("model", "claude-fake"), blocks(fake.reply_to(body)))
            if not body.get("stream"):
                self._json(done)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for event, data in stream_events(done):
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        def do_GET(self) -> None:
            self._json({"data": [], "has_more": False})

    return Handler


@contextmanager
def serve_fake_anthropic(fake: FakeAnthropic) -> Iterator[FakeAnthropic]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def last_user_text(body: dict[str, Any]) -> str:
    """The newest user message's text, tool results included."""
    for item in reversed(body.get("messages", [])):
        if item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        parts = []
        for block in content or []:
            if block.get("type") == "text":
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                parts += [inner] if isinstance(inner, str) else [b.get("text", "") for b in inner or []]
        return "\n".join(parts)
    return ""
