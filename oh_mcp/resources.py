"""Read-only `openhands://` views over the client, with completion of ids from recent items."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

from .next_steps import for_model
from .openhands import InvalidRequest, NotFound, OpenHandsError
from .records import detail, event_record, sandbox_summary, spec_summary, summary
from .review.changes import Review, build_page, list_changes, read_text
from .review.diffs import ChangeStatus
from .review.patch import agent_patch
from .runtime import Runtime
from .shaping import redact

RECENT = 50
MAX_COMPLETIONS = 20
COMPLETION_TTL = 5.0  # seconds a conversation's changed paths serve completions
MAX_FILE_CHARS = 1_000_000  # a resource has no offset to read on with: a file is served whole up to this


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


class _Guard:
    """Turns client errors into resource errors: missing → not found, anything else → a readable error."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __enter__(self) -> None:
        return None

    def __exit__(self, _t: Any, exc: BaseException | None, _tb: Any) -> None:
        if isinstance(exc, NotFound | InvalidRequest):
            raise ResourceNotFoundError(f"{self.uri}: {exc.message}") from None
        if isinstance(exc, OpenHandsError):
            raise ResourceError(f"{self.uri}: {for_model(exc)}") from None


def register_resources(server: MCPServer[Any], rt: Runtime) -> None:
    @server.resource("openhands://sandbox-specs", mime_type="application/json", title="Sandbox specs")
    async def sandbox_specs() -> str:
        """The sandbox specs (templates) new sandboxes can start from."""
        with _Guard("openhands://sandbox-specs"):
            page = await rt.client.search_sandbox_specs(limit=100)
        return _json([spec_summary(s).model_dump(exclude_none=True) for s in page.items])

    @server.resource("openhands://sandboxes", mime_type="application/json", title="Sandboxes")
    async def sandboxes() -> str:
        """The most recent sandboxes and their status."""
        with _Guard("openhands://sandboxes"):
            page = await rt.client.search_sandboxes(limit=RECENT)
        return _json([sandbox_summary(s).model_dump(exclude_none=True) for s in page.items])

    @server.resource("openhands://sandboxes/{sandbox_id}", mime_type="application/json", title="Sandbox")
    async def sandbox(sandbox_id: str) -> str:
        """One sandbox: status, spec, creation time, exposed URL names."""
        with _Guard(f"openhands://sandboxes/{sandbox_id}"):
            found = await rt.client.get_sandbox(sandbox_id)
        return _json(sandbox_summary(found).model_dump(exclude_none=True))

    @server.resource("openhands://conversations", mime_type="application/json", title="Recent conversations")
    async def conversations() -> str:
        """The most recent conversations, newest first."""
        with _Guard("openhands://conversations"):
            page = await rt.client.search_conversations(limit=RECENT)
        return _json([summary(c).model_dump(exclude_none=True) for c in page.items])

    @server.resource("openhands://conversations/{conversation_id}", mime_type="application/json", title="Conversation")
    async def conversation(conversation_id: str) -> str:
        """One conversation's metadata and live status."""
        with _Guard(f"openhands://conversations/{conversation_id}"):
            found = await rt.client.get_conversation(conversation_id)
        return _json(detail(found).model_dump(exclude_none=True))

    @server.resource(
        "openhands://conversations/{conversation_id}/events", mime_type="application/json", title="Conversation events"
    )
    async def conversation_events(conversation_id: str) -> str:
        """The conversation's most recent events, newest first, as compact records."""
        with _Guard(f"openhands://conversations/{conversation_id}/events"):
            found = await rt.client.get_conversation(conversation_id)
            page = await rt.client.search_events(found.id, limit=50, newest_first=True)
        secrets = rt.client.secrets_for(found)
        return _json([event_record(e, secrets).model_dump(exclude_none=True) for e in page.items])

    register_review_resources(server, rt)
    recent = RecentPaths()

    @server.completion()  # type: ignore[untyped-decorator, no-untyped-call]  # the SDK leaves this decorator untyped
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        if argument.name == "path":
            return await complete_path(rt, (context.arguments or {}) if context else {}, argument.value, recent)
        return await complete_id(rt, argument.name, argument.value)


def register_review_resources(server: MCPServer[Any], rt: Runtime) -> None:
    """The agent's changes and the workspace's files; they need a RUNNING sandbox and never resume one."""

    @server.resource(
        "openhands://conversations/{conversation_id}/changes", mime_type="application/json", title="Changes"
    )
    async def conversation_changes(conversation_id: str) -> str:
        """The files the agent changed (status, lines added and removed), without diffs."""
        with _Guard(f"openhands://conversations/{conversation_id}/changes"):
            found = await rt.client.get_conversation(conversation_id)
            workspace, files = await list_changes(rt.client, found)
            review = Review(rt.settings.output_budget, rt.client.secrets_for(found), diff=False)
            page = await build_page(rt.client, found, workspace, files, review)
        return _json(page.model_dump(exclude_none=True))

    @server.resource(
        "openhands://conversations/{conversation_id}/files/{+path}", mime_type="text/plain", title="Workspace file"
    )
    async def workspace_file(conversation_id: str, path: str) -> str:
        """A text file of the conversation's workspace, by its path from the workspace root."""
        with _Guard(f"openhands://conversations/{conversation_id}/files/{path}"):
            found = await rt.client.get_conversation(conversation_id)
            secrets = rt.client.secrets_for(found)
            text = await read_text(rt.client, found, path, offset=0, budget=MAX_FILE_CHARS, secrets=secrets)
        return text.text


class RecentPaths:
    """Each conversation's changed paths for a few seconds: a client asks for completions on every
    keystroke, and each listing runs git in the sandbox. Keyed by caller too, so that one caller's
    per-user OpenHands key never serves another caller the listing."""

    def __init__(self, ttl: float = COMPLETION_TTL) -> None:
        self._ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, list[str]]] = {}

    async def get(self, rt: Runtime, conversation_id: str) -> list[str]:
        key = (conversation_id, rt.client.key_fingerprint())
        hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        found = await rt.client.get_conversation(conversation_id)
        _, files = await list_changes(rt.client, found)
        paths = [f.workspace_path for f in files if f.change.status != ChangeStatus.DELETED]
        now = time.monotonic()
        self._entries = {k: v for k, v in self._entries.items() if now - v[0] < self._ttl}
        self._entries[key] = (now, paths)
        return paths


async def complete_path(rt: Runtime, arguments: dict[str, str], prefix: str, recent: RecentPaths) -> Completion:
    """Offer the changed files (from the workspace root) of the conversation named in the context."""
    conversation_id = arguments.get("conversation_id")
    if not conversation_id:
        return Completion(values=[])
    try:
        paths = await recent.get(rt, conversation_id)
    except OpenHandsError:
        return Completion(values=[])
    matches = [p for p in paths if p.startswith(prefix)]
    return Completion(values=matches[:MAX_COMPLETIONS], total=len(matches), has_more=len(matches) > MAX_COMPLETIONS)


async def complete_id(rt: Runtime, name: str, prefix: str) -> Completion | None:
    """Offer recent ids that start with what the user typed."""
    try:
        if name == "conversation_id":
            ids = [c.id for c in (await rt.client.search_conversations(limit=RECENT)).items]
        elif name == "sandbox_id":
            ids = [s.id for s in (await rt.client.search_sandboxes(limit=RECENT)).items]
        else:
            return None
    except OpenHandsError:
        return Completion(values=[])
    matches = [i for i in ids if i.startswith(prefix)]
    return Completion(values=matches[:MAX_COMPLETIONS], total=len(matches), has_more=len(matches) > MAX_COMPLETIONS)


def register_patch_resource(server: MCPServer[Any], rt: Runtime) -> None:
    @server.resource(
        "openhands://conversations/{conversation_id}/patch", mime_type="text/x-patch", title="Patch of the changes"
    )
    async def conversation_patch(conversation_id: str) -> str | bytes:
        """The agent's changes as one git patch, as get_changes(format="patch") gives it, whole. Its first
        line holds the digest apply_changes takes; git ignores it."""
        uri = f"openhands://conversations/{conversation_id}/patch"
        try:
            with anyio.fail_after(rt.settings.apply_timeout):
                conversation = await rt.client.get_conversation(conversation_id)
                patch = await agent_patch(rt.client, conversation, limit=rt.settings.patch_max_bytes)
        except TimeoutError:
            raise ResourceError(f"{uri}: the sandbox took over {rt.settings.apply_timeout:g} s to give it.") from None
        except (NotFound, InvalidRequest) as exc:
            raise ResourceNotFoundError(f"{uri}: {exc.message}") from None
        except OpenHandsError as exc:
            raise ResourceError(f"{uri}: {for_model(exc)}") from None
        preamble = f"oh-mcp patch_digest: {patch.digest}\n\n"
        try:
            return preamble + redact(patch.data.decode("utf-8"), rt.client.secrets_for(conversation))
        except UnicodeDecodeError:
            return preamble.encode() + patch.data
