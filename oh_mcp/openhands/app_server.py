"""The app server's routes (`/api/v1`): conversations and their start tasks, events, the
workspace's git changes and files as the app server serves them, sandboxes and sandbox specs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .errors import NotFound
from .models import (
    AppConversation,
    Event,
    GitChange,
    GitDiff,
    Page,
    Sandbox,
    SandboxSpec,
    SendMessageResult,
    StartRequest,
    StartTask,
    conversation_id,
    message_content,
    sandbox_id,
)
from .transport import Transport, compact, validate


class AppServerRoutes(Transport):
    """One method per app-server call, returning models."""

    async def search_conversations(
        self,
        *,
        limit: int = 20,
        page_id: str | None = None,
        title_contains: str | None = None,
        sandbox_id: str | None = None,
    ) -> Page[AppConversation]:
        params = compact(limit=limit, page_id=page_id, title__contains=title_contains, sandbox_id__eq=sandbox_id)
        data = await self._api("GET", "/app-conversations/search", what="conversations", params=params)
        return validate(Page[AppConversation], data, "conversation page")

    async def get_conversations(self, ids: Iterable[str]) -> list[AppConversation | None]:
        hexes = [conversation_id(i) for i in ids]
        data = await self._api("GET", "/app-conversations", what="conversations", params={"ids": hexes})
        return validate(list[AppConversation | None], data, "conversation list")

    async def get_conversation(self, conv_id: str) -> AppConversation:
        found = (await self.get_conversations([conv_id]))[0]
        if found is None:
            raise NotFound(
                f"Conversation {conversation_id(conv_id)} not found.", hint="Check the id.", resource="conversation"
            )
        return found

    async def start_conversation(self, request: StartRequest) -> StartTask:
        data = await self._api("POST", "/app-conversations", what="the new conversation", json=request.body())
        return validate(StartTask, data, "start task")

    async def get_start_task(self, task_id: str) -> StartTask:
        hex_id = conversation_id(task_id)
        data = await self._api(
            "GET", "/app-conversations/start-tasks", what=f"Start task {hex_id}", params={"ids": [hex_id]}
        )
        found = validate(list[StartTask | None], data, "start task list")[0]
        if found is None:
            raise NotFound(f"Start task {hex_id} not found.", hint="Check the id.", resource="start task")
        return found

    async def get_start_tasks(self, ids: Iterable[str]) -> list[StartTask | None]:
        """Several start tasks in one call, in the order asked; None for an id not found."""
        hexes = [conversation_id(i) for i in ids]
        data = await self._api("GET", "/app-conversations/start-tasks", what="start tasks", params={"ids": hexes})
        return validate(list[StartTask | None], data, "start task list")

    async def search_start_tasks(self, *, limit: int = 10, created_after: datetime | None = None) -> list[StartTask]:
        """The newest start tasks first."""
        params = compact(limit=limit, created_at__gte=created_after.isoformat() if created_after else None)
        data = await self._api("GET", "/app-conversations/start-tasks/search", what="start tasks", params=params)
        return validate(Page[StartTask], data, "start task page").items

    async def update_conversation(self, conv_id: str, *, title: str) -> AppConversation:
        """Rename a conversation on the app server (titles.rename also keeps it there)."""
        hex_id = conversation_id(conv_id)
        data = await self._api(
            "PATCH", f"/app-conversations/{hex_id}", what=f"Conversation {hex_id}", json={"title": title.strip()}
        )
        return validate(AppConversation, data, "conversation")

    async def delete_conversation(self, conv_id: str) -> None:
        hex_id = conversation_id(conv_id)
        await self._api("DELETE", f"/app-conversations/{hex_id}", what=f"Conversation {hex_id}")

    async def send_message(
        self, conv_id: str, text: str, *, image_urls: list[str] | None = None, run: bool = True
    ) -> SendMessageResult:
        hex_id = conversation_id(conv_id)
        body = {"role": "user", "content": message_content(text, image_urls), "run": run}
        data = await self._api(
            "POST", f"/app-conversations/{hex_id}/send-message", what=f"Conversation {hex_id}", json=body
        )
        return validate(SendMessageResult, data, "send-message result")

    async def search_events(
        self,
        conv_id: str,
        *,
        limit: int = 20,
        kind: str | None = None,
        newest_first: bool = True,
        page_id: str | None = None,
    ) -> Page[Event]:
        hex_id = conversation_id(conv_id)
        order = "TIMESTAMP_DESC" if newest_first else "TIMESTAMP"
        params = compact(limit=limit, kind__eq=kind, sort_order=order, page_id=page_id)
        data = await self._api(
            "GET", f"/conversation/{hex_id}/events/search", what=f"Conversation {hex_id}", params=params
        )
        return validate(Page[Event], data, "event page")

    # ---- workspace (the sandbox must be RUNNING) ----------------------------------------------

    async def git_changes(self, conv_id: str, path: str, *, ref: str | None = None) -> list[GitChange]:
        """The changed files of the git repository at `path` (absolute, in the sandbox); [] when it is none."""
        data = await self._git(conv_id, "changes", path, ref, "git changes")
        return validate(list[GitChange], data, "git change list")

    async def git_diff(self, conv_id: str, path: str, *, ref: str | None = None) -> GitDiff:
        """A file's text at `ref` (or the default base) and now. Fails for a file that no longer exists."""
        return validate(GitDiff, await self._git(conv_id, "diff", path, ref, "git diff"), "git diff")

    async def _git(self, conv_id: str, route: str, path: str, ref: str | None, what: str) -> Any:
        hex_id = conversation_id(conv_id)
        return await self._api(
            "GET",
            f"/app-conversations/{hex_id}/git/{route}",
            what=f"the {what} of {path} in conversation {hex_id}",
            params=compact(path=path, ref=ref),
        )

    async def read_conversation_file(self, conv_id: str, file_path: str) -> str:
        """A workspace file's text through the app server: "" alike for a missing file, a directory and a
        sandbox that is not running, so `download_file` is the one that tells them apart."""
        hex_id = conversation_id(conv_id)
        data = await self._api(
            "GET", f"/app-conversations/{hex_id}/file", what=f"Conversation {hex_id}", params={"file_path": file_path}
        )
        return validate(str, data, "file text")

    # ---- sandboxes --------------------------------------------------------------------------

    async def search_sandboxes(self, *, limit: int = 20, page_id: str | None = None) -> Page[Sandbox]:
        data = await self._api(
            "GET", "/sandboxes/search", what="sandboxes", params=compact(limit=limit, page_id=page_id)
        )
        return validate(Page[Sandbox], data, "sandbox page")

    async def get_sandboxes(self, ids: Iterable[str]) -> list[Sandbox | None]:
        checked = [sandbox_id(i) for i in ids]
        data = await self._api("GET", "/sandboxes", what="sandboxes", params={"id": checked})
        return validate(list[Sandbox | None], data, "sandbox list")

    async def get_sandbox(self, sid: str) -> Sandbox:
        found = (await self.get_sandboxes([sid]))[0]
        if found is None:
            raise NotFound(f"Sandbox {sid} not found.", hint="Check the id.", resource="sandbox")
        return found

    async def create_sandbox(self, spec_id: str | None = None) -> Sandbox:
        # The spec id travels as a query parameter; the route takes no body.
        data = await self._api(
            "POST",
            "/sandboxes",
            what="the new sandbox",
            params=compact(sandbox_spec_id=spec_id),
            timeout=self.sandbox_start_timeout,
        )
        return validate(Sandbox, data, "sandbox")

    async def pause_sandbox(self, sid: str) -> None:
        await self._api("POST", f"/sandboxes/{sandbox_id(sid)}/pause", what=f"Sandbox {sid}")

    async def resume_sandbox(self, sid: str) -> None:
        path = f"/sandboxes/{sandbox_id(sid)}/resume"
        await self._api("POST", path, what=f"Sandbox {sid}", timeout=self.sandbox_start_timeout)

    async def delete_sandbox(self, sid: str) -> None:
        # 1.11.0 ignores the path segment and reads a required ?sandbox_id= query parameter.
        checked = sandbox_id(sid)
        await self._api("DELETE", f"/sandboxes/{checked}", what=f"Sandbox {sid}", params={"sandbox_id": checked})

    # ---- sandbox specs ----------------------------------------------------------------------

    async def search_sandbox_specs(self, *, limit: int = 20, page_id: str | None = None) -> Page[SandboxSpec]:
        params = compact(limit=limit, page_id=page_id)
        data = await self._api("GET", "/sandbox-specs/search", what="sandbox specs", params=params)
        return validate(Page[SandboxSpec], data, "sandbox spec page")

    async def get_sandbox_specs(self, ids: Iterable[str]) -> list[SandboxSpec | None]:
        data = await self._api("GET", "/sandbox-specs", what="sandbox specs", params={"id": list(ids)})
        return validate(list[SandboxSpec | None], data, "sandbox spec list")

    # ---- the server itself ---------------------------------------------------------------

    async def alive(self) -> None:
        """GET /alive (no auth): raises when OpenHands does not answer. /server_info is not used
        because OpenHands 1.11.0 blocks its event loop 0.1 s there to sample CPU use."""
        # Read, not only fetched: a proxy's login page answering 200 is not a live OpenHands.
        validate(Any, await self._send("GET", "/alive", what="OpenHands liveness check"), "liveness answer")

    async def version(self) -> str | None:
        """OpenHands' version, from the `info` of its /openapi.json (no auth): no other route has it.
        None when the server does not publish the document (404)."""
        try:
            body = await self._send("GET", "/openapi.json", what="OpenHands' OpenAPI document")
        except NotFound:
            return None
        data = validate(Any, body, "OpenAPI document")
        info = data.get("info") if isinstance(data, dict) else None
        version = info.get("version") if isinstance(info, dict) else None
        return version if isinstance(version, str) else None
