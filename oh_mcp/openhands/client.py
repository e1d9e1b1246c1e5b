"""An async client for the OpenHands V1 app server (`/api/v1`) and the agent servers it starts.

One `httpx.AsyncClient` with keep-alive serves every call. The client knows nothing of MCP:
it returns models from `models.py` and raises errors from `errors.py`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from .errors import (
    AgentServerUnreachable,
    Archived,
    AuthFailed,
    ConnectionFailed,
    NotFound,
    OpenHandsError,
    RateLimited,
    SandboxNotRunning,
    ServerError,
    SessionKeyRefused,
    StartFailed,
    Unavailable,
    WaitTimedOut,
    error_from_response,
    error_from_transport,
    scrub,
)
from .models import (
    CONFIRMATION_POLICIES,
    AgentAnswer,
    AppConversation,
    CommandResult,
    ConfirmPolicy,
    Event,
    ExecutionStatus,
    GitChange,
    GitDiff,
    Page,
    PendingAction,
    Sandbox,
    SandboxSpec,
    SandboxStatus,
    SendMessageResult,
    StartRequest,
    StartTask,
    StartTaskStatus,
    conversation_id,
    message_content,
    pending_actions,
    sandbox_id,
)
from .redaction import known

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
W = TypeVar("W")
V = TypeVar("V")

OnChange = Callable[[W], Awaitable[None]]
# Gives the key for the request being made, or None for the configured one: a hosting layer
# uses it to send each caller's own OpenHands key.
KeyProvider = Callable[[], str | None]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# POST /sandboxes (and a resume) answers only once the agent server is up: about 13 s, and OpenHands
# gives up after 30 s. Those calls get this long, so a slow start is not cut at the usual timeout.
SANDBOX_START_TIMEOUT = 45.0
# The agent server filters events by their class's full name (a bare "ActionEvent" matches nothing).
ACTION_EVENT_CLASS = "openhands.sdk.event.llm_convertible.action.ActionEvent"
USER_AGENT = "oh-mcp"


class OpenHandsClient:
    """Typed calls to one OpenHands server. Use as an async context manager."""

    def __init__(
        self,
        base_url: str = "http://localhost:3000",
        *,
        api_key: str | SecretStr | None = None,
        key_provider: KeyProvider | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        poll_interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        agent_server_url: str | None = None,
        sandbox_start_timeout: float = SANDBOX_START_TIMEOUT,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if isinstance(api_key, SecretStr) or api_key is None else SecretStr(api_key)
        self._key_provider = key_provider
        known.add(self._api_key.get_secret_value() if self._api_key else None, pin=True)
        self.retries = retries
        self.poll_interval = poll_interval
        self.agent_server_url = agent_server_url
        self.sandbox_start_timeout = max(timeout, sandbox_start_timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            # Keep every connection we may open: churning them costs a TCP and TLS handshake each.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=30),
            event_hooks=dict(event_hooks) if event_hooks else None,
        )

    def __repr__(self) -> str:
        return f"OpenHandsClient(base_url={self.base_url!r}, api_key={'***' if self._api_key else None})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- transport -------------------------------------------------------------------------

    def _key(self) -> str | None:
        override = self._key_provider() if self._key_provider else None
        if override:
            known.add(override)
            return override
        return self._api_key.get_secret_value() if self._api_key else None

    def _auth_headers(self) -> dict[str, str]:
        key = self._key()
        # Cloud reads the Bearer header, a local server the X-Session-API-Key: send both.
        return {"Authorization": f"Bearer {key}", "X-Session-API-Key": key} if key else {}

    def secrets_for(self, conversation: AppConversation) -> tuple[str, ...]:
        """The keys to redact from anything read for `conversation`: the user's and its sandbox's."""
        return self._secrets(*conversation.secret_values)

    def _secrets(self, *extra: str | None) -> tuple[str, ...]:
        return tuple(s for s in (self._key(), *extra) if s)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        timeout: float | None = None,
        raw: bool = False,
    ) -> Any:
        write = method not in ("GET", "HEAD")
        wait = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout)
        for attempt in range(1 + self.retries):
            last = attempt == self.retries
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers=headers, timeout=wait
                )
            except httpx.TransportError as exc:
                if last or not _may_retry(exc, write):
                    raise error_from_transport(exc, what, write=write) from None
                await self._pause(_backoff(attempt), error_from_transport(exc, what, write=write))
                continue
            if response.status_code < 400:
                return response.content if raw else _json(response, what)
            error = error_from_response(response, what, secrets or self._secrets())
            if last or write or response.status_code not in _RETRY_STATUSES:
                raise error
            await self._pause(_retry_delay(error, attempt), error)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _pause(delay: float, error: OpenHandsError) -> None:
        """Sleep before a retry, unless the caller's deadline would pass first: then fail now."""
        if anyio.current_time() + delay >= anyio.current_effective_deadline():
            raise error
        await anyio.sleep(delay)

    async def _api(
        self, method: str, path: str, *, what: str, params: Any = None, json: Any = None, timeout: float | None = None
    ) -> Any:
        return await self._send(
            method,
            "/api/v1" + path,
            what=what,
            params=params,
            json=json,
            headers=self._auth_headers(),
            timeout=timeout,
        )

    # ---- app conversations ------------------------------------------------------------------

    async def search_conversations(
        self,
        *,
        limit: int = 20,
        page_id: str | None = None,
        title_contains: str | None = None,
        sandbox_id: str | None = None,
    ) -> Page[AppConversation]:
        params = _params(limit=limit, page_id=page_id, title__contains=title_contains, sandbox_id__eq=sandbox_id)
        data = await self._api("GET", "/app-conversations/search", what="conversations", params=params)
        return _validate(Page[AppConversation], data, "conversation page")

    async def get_conversations(self, ids: Iterable[str]) -> list[AppConversation | None]:
        hexes = [conversation_id(i) for i in ids]
        data = await self._api("GET", "/app-conversations", what="conversations", params={"ids": hexes})
        return _validate(list[AppConversation | None], data, "conversation list")

    async def get_conversation(self, conv_id: str) -> AppConversation:
        found = (await self.get_conversations([conv_id]))[0]
        if found is None:
            raise NotFound(
                f"Conversation {conversation_id(conv_id)} not found.", hint="Check the id.", resource="conversation"
            )
        return found

    async def start_conversation(self, request: StartRequest) -> StartTask:
        data = await self._api("POST", "/app-conversations", what="the new conversation", json=request.body())
        return _validate(StartTask, data, "start task")

    async def get_start_task(self, task_id: str) -> StartTask:
        hex_id = conversation_id(task_id)
        data = await self._api(
            "GET", "/app-conversations/start-tasks", what=f"Start task {hex_id}", params={"ids": [hex_id]}
        )
        found = _validate(list[StartTask | None], data, "start task list")[0]
        if found is None:
            raise NotFound(f"Start task {hex_id} not found.", hint="Check the id.", resource="start task")
        return found

    async def update_conversation(self, conv_id: str, *, title: str) -> AppConversation:
        """Rename a conversation on the app server (titles.rename also keeps it there)."""
        hex_id = conversation_id(conv_id)
        data = await self._api(
            "PATCH", f"/app-conversations/{hex_id}", what=f"Conversation {hex_id}", json={"title": title.strip()}
        )
        return _validate(AppConversation, data, "conversation")

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
        return _validate(SendMessageResult, data, "send-message result")

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
        params = _params(limit=limit, kind__eq=kind, sort_order=order, page_id=page_id)
        data = await self._api(
            "GET", f"/conversation/{hex_id}/events/search", what=f"Conversation {hex_id}", params=params
        )
        return _validate(Page[Event], data, "event page")

    # ---- workspace (the sandbox must be RUNNING) ----------------------------------------------

    async def git_changes(self, conv_id: str, path: str, *, ref: str | None = None) -> list[GitChange]:
        """The changed files of the git repository at `path` (absolute, in the sandbox); [] when it is none."""
        data = await self._git(conv_id, "changes", path, ref, "git changes")
        return _validate(list[GitChange], data, "git change list")

    async def git_diff(self, conv_id: str, path: str, *, ref: str | None = None) -> GitDiff:
        """A file's text at `ref` (or the default base) and now. Fails for a file that no longer exists."""
        return _validate(GitDiff, await self._git(conv_id, "diff", path, ref, "git diff"), "git diff")

    async def _git(self, conv_id: str, route: str, path: str, ref: str | None, what: str) -> Any:
        hex_id = conversation_id(conv_id)
        return await self._api(
            "GET",
            f"/app-conversations/{hex_id}/git/{route}",
            what=f"the {what} of {path} in conversation {hex_id}",
            params=_params(path=path, ref=ref),
        )

    async def read_conversation_file(self, conv_id: str, file_path: str) -> str:
        """A workspace file's text through the app server: "" alike for a missing file, a directory and a
        sandbox that is not running, so `download_file` is the one that tells them apart."""
        hex_id = conversation_id(conv_id)
        data = await self._api(
            "GET", f"/app-conversations/{hex_id}/file", what=f"Conversation {hex_id}", params={"file_path": file_path}
        )
        return _validate(str, data, "file text")

    # ---- sandboxes --------------------------------------------------------------------------

    async def search_sandboxes(self, *, limit: int = 20, page_id: str | None = None) -> Page[Sandbox]:
        data = await self._api(
            "GET", "/sandboxes/search", what="sandboxes", params=_params(limit=limit, page_id=page_id)
        )
        return _validate(Page[Sandbox], data, "sandbox page")

    async def get_sandboxes(self, ids: Iterable[str]) -> list[Sandbox | None]:
        checked = [sandbox_id(i) for i in ids]
        data = await self._api("GET", "/sandboxes", what="sandboxes", params={"id": checked})
        return _validate(list[Sandbox | None], data, "sandbox list")

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
            params=_params(sandbox_spec_id=spec_id),
            timeout=self.sandbox_start_timeout,
        )
        return _validate(Sandbox, data, "sandbox")

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
        params = _params(limit=limit, page_id=page_id)
        data = await self._api("GET", "/sandbox-specs/search", what="sandbox specs", params=params)
        return _validate(Page[SandboxSpec], data, "sandbox spec page")

    async def get_sandbox_specs(self, ids: Iterable[str]) -> list[SandboxSpec | None]:
        data = await self._api("GET", "/sandbox-specs", what="sandbox specs", params={"id": list(ids)})
        return _validate(list[SandboxSpec | None], data, "sandbox spec list")

    # ---- agent server -----------------------------------------------------------------------

    def agent_url(self, conversation_url: str) -> str:
        """Where to reach an agent server OpenHands reports at `conversation_url`.

        OpenHands reports the address as it sees it (often http://localhost:<port>); with an
        agent_server_url template its scheme, host and port are replaced, keeping the path.
        """
        if not self.agent_server_url:
            return conversation_url.rstrip("/")
        parts = urlsplit(conversation_url)
        base = self.agent_server_url.format(
            scheme=parts.scheme, host=parts.hostname or "", port=parts.port or _DEFAULT_PORTS.get(parts.scheme, "")
        )
        return base.rstrip("/") + parts.path.rstrip("/")

    def _agent_base(self, conversation: AppConversation, *, so: str = "its workspace cannot be read") -> str:
        """The agent server's root, as oh-mcp reaches it: conversation_url without its /api/conversations/{id} tail."""
        url = conversation.conversation_url
        if not url or conversation.session_api_key is None:
            status = conversation.sandbox_status
            raise SandboxNotRunning(
                f"Conversation {conversation.id}: its sandbox {conversation.sandbox_id} is {status}, so {so}.",
                sandbox_status=str(status),
            )
        return self.agent_url(url).split("/api/conversations/")[0].rstrip("/")

    async def _agent(
        self, conversation: AppConversation, method: str, url: str, *, what: str | None = None, **kwargs: Any
    ) -> Any:
        """One call to the conversation's agent server at `url`, with the sandbox's own key (never the
        user's); a refused key or an address out of reach is reported as the agent server's."""
        assert conversation.session_api_key is not None
        key = conversation.session_api_key.get_secret_value()
        what = what or f"the agent server of conversation {conversation.id}"
        try:
            return await self._send(
                method, url, what=what, headers={"X-Session-API-Key": key}, secrets=self._secrets(key), **kwargs
            )
        except AuthFailed as exc:
            message = f"The agent server at {url} refused the session key of conversation {conversation.id}"
            raise SessionKeyRefused(
                f"{message} (HTTP {exc.status}).", hint=_AGENT_KEY_REFUSED, status=exc.status
            ) from None
        except ConnectionFailed as exc:
            if isinstance(exc, AgentServerUnreachable):
                raise
            if exc.reason is None:  # it was reached, then the connection broke: not an address problem
                raise Unavailable(
                    f"The connection to {what} at {url} broke before it answered.",
                    hint="The sandbox's agent server is not answering; it may be restarting or stopped.",
                    resource="agent server",
                ) from None
            raise AgentServerUnreachable(what, url=url, reason=exc.reason) from None

    def _conversation_url(self, conversation: AppConversation) -> str:
        assert conversation.conversation_url is not None
        return self.agent_url(conversation.conversation_url)

    async def get_final_response(self, conversation: AppConversation) -> str | None:
        """The agent's final answer, read from the sandbox's agent server; None when it is not running."""
        if not conversation.conversation_url or conversation.session_api_key is None:
            return None
        data = await self._agent(conversation, "GET", self._conversation_url(conversation) + "/agent_final_response")
        response = data.get("response") if isinstance(data, dict) else None
        return response if isinstance(response, str) else None

    async def set_agent_title(self, conversation: AppConversation, title: str) -> None:
        """Set the title on the conversation's agent server; a no-op when it is not running."""
        if not conversation.conversation_url or conversation.session_api_key is None:
            return
        await self._agent(conversation, "PATCH", self._conversation_url(conversation), json={"title": title.strip()})

    async def download_file(self, conversation: AppConversation, path: str) -> bytes:
        """A workspace file's bytes. `path` is absolute; a missing file is NotFound, a directory or a
        relative path InvalidRequest, a sandbox that is not running SandboxNotRunning."""
        url = self._agent_base(conversation) + "/api/file/download"
        data: bytes = await self._agent(
            conversation,
            "GET",
            url,
            what=f"the file {path} of conversation {conversation.id}",
            params={"path": path},
            raw=True,
        )
        return data

    async def execute_command(
        self, conversation: AppConversation, command: str, *, cwd: str | None = None, timeout: int = 20
    ) -> CommandResult:
        """Run a shell command in the sandbox (as the agent's own terminal would) and wait for its end.
        The agent server returns the output's last megabyte only, so commands must print less."""
        url = self._agent_base(conversation) + "/api/bash/execute_bash_command"
        body = {"command": command, "timeout": timeout} | ({"cwd": cwd} if cwd else {})
        data = await self._agent(
            conversation, "POST", url, what=f"a command in conversation {conversation.id}", json=body
        )
        return _validate(CommandResult, data, "command result")

    # ---- steering the agent (its agent server) ------------------------------------------------

    async def _steer(self, conversation: AppConversation, method: str, tail: str, **kwargs: Any) -> Any:
        """A call to the conversation's own routes on its agent server (conversation_url + tail). Every
        steering call goes through here, so where the agent server is reached is decided once."""
        if conversation.sandbox_status == SandboxStatus.MISSING:
            raise Archived(f"Conversation {conversation.id} is archived: its sandbox no longer exists.")
        self._agent_base(conversation, so="its agent cannot be reached")
        assert conversation.conversation_url is not None
        return await self._agent(conversation, method, self._conversation_url(conversation) + tail, **kwargs)

    async def interrupt(self, conversation: AppConversation) -> None:
        """Stop the agent at once (the model call in flight is cancelled); it becomes `paused`."""
        await self._steer(conversation, "POST", "/interrupt")

    async def set_confirmation_policy(self, conversation: AppConversation, policy: ConfirmPolicy) -> None:
        """Which actions wait for the user's confirmation from now on."""
        await self._steer(conversation, "POST", "/confirmation_policy", json={"policy": CONFIRMATION_POLICIES[policy]})

    async def respond_to_confirmation(self, conversation: AppConversation, *, accept: bool, reason: str) -> None:
        """Accept or reject every pending action at once (the route takes no ids)."""
        await self._steer(
            conversation, "POST", "/events/respond_to_confirmation", json={"accept": accept, "reason": reason}
        )

    async def ask_agent(self, conversation: AppConversation, question: str) -> str:
        """The agent's answer to a side question; the conversation's history stays as it was."""
        data = await self._steer(conversation, "POST", "/ask_agent", json={"question": question})
        return _validate(AgentAnswer, data, "side-question answer").response

    async def agent_events(self, conversation: AppConversation, *, limit: int = 100) -> list[Event]:
        """The newest events, newest first, straight from the agent server (the app server's copy lags)."""
        params = {"limit": limit, "sort_order": "TIMESTAMP_DESC"}
        data = await self._steer(conversation, "GET", "/events/search", params=params)
        return _validate(Page[Event], data, "agent event page").items

    async def pending_actions(self, conversation: AppConversation) -> list[PendingAction]:
        """The actions waiting for confirmation, read from the agent server; [] unless the agent waits."""
        if conversation.execution_status != ExecutionStatus.WAITING_FOR_CONFIRMATION:
            return []
        return pending_actions(await self.agent_events(conversation))

    async def count_actions(self, conversation: AppConversation) -> int:
        """How many actions (steps) the agent has taken in this conversation."""
        data = await self._steer(conversation, "GET", "/events/count", params={"kind": ACTION_EVENT_CLASS})
        return _validate(int, data, "event count")

    async def alive(self) -> None:
        """GET /alive (no auth): raises when OpenHands does not answer. /server_info is not used
        because OpenHands 1.11.0 blocks its event loop 0.1 s there to sample CPU use."""
        await self._send("GET", "/alive", what="OpenHands liveness check")

    async def version(self) -> str | None:
        """OpenHands' version, from the `info` of its /openapi.json (no auth): no other route has it.
        None when the server does not publish the document (404)."""
        try:
            data = await self._send("GET", "/openapi.json", what="OpenHands' OpenAPI document")
        except NotFound:
            return None
        info = data.get("info") if isinstance(data, dict) else None
        version = info.get("version") if isinstance(info, dict) else None
        return version if isinstance(version, str) else None

    # ---- waits ------------------------------------------------------------------------------

    async def wait_for_start_task(
        self, task_id: str, *, timeout: float, on_change: OnChange[StartTask] | None = None
    ) -> StartTask:
        """Poll a start task until READY. Raises StartFailed on ERROR and WaitTimedOut at the deadline."""
        task = await self._poll(
            lambda: self.get_start_task(task_id), lambda t: t.finished, lambda t: t.status, timeout, on_change
        )
        if task.status == StartTaskStatus.ERROR:
            detail = scrub(task.detail, self._secrets()) if task.detail else "no detail given"
            raise StartFailed(f"Starting the conversation failed: {detail}.")
        return task

    async def wait_for_sandbox(
        self, sid: str, *, timeout: float, on_change: OnChange[Sandbox] | None = None
    ) -> Sandbox:
        """Poll a sandbox until RUNNING. Raises Unavailable on ERROR/MISSING and WaitTimedOut at the deadline."""
        done = {SandboxStatus.RUNNING, SandboxStatus.ERROR, SandboxStatus.MISSING}
        sandbox = await self._poll(
            lambda: self.get_sandbox(sid), lambda s: s.status in done, lambda s: s.status, timeout, on_change
        )
        if sandbox.status != SandboxStatus.RUNNING:
            raise Unavailable(
                f"Sandbox {sid} ended in status {sandbox.status} instead of RUNNING.",
                hint="Delete it and start a new one if it stays broken.",
                resource="sandbox",
            )
        return sandbox

    async def wait_for_agent(
        self, conv_id: str, *, timeout: float, on_poll: OnChange[AppConversation] | None = None
    ) -> AppConversation:
        """Poll until the agent stops running. Calls `on_poll` on every poll, for heartbeats."""
        return await self._poll(lambda: self.get_conversation(conv_id), settled, None, timeout, on_poll)

    async def wait_for_agents(
        self,
        conv_ids: list[str],
        *,
        until: Literal["any", "all"],
        timeout: float,
        on_poll: OnChange[list[AppConversation]] | None = None,
    ) -> list[AppConversation]:
        """Poll several conversations with one batch read each time, until any or all of their agents
        stop running. WaitTimedOut carries the last read list."""

        async def fetch() -> list[AppConversation]:
            found = await self.get_conversations(conv_ids)
            missing = [conv_id for conv_id, c in zip(conv_ids, found, strict=True) if c is None]
            if missing:
                raise NotFound(
                    f"Conversation {conversation_id(missing[0])} not found.",
                    hint="Check the id.",
                    resource="conversation",
                )
            return [c for c in found if c is not None]

        def done(found: list[AppConversation]) -> bool:
            return (any if until == "any" else all)(settled(c) for c in found)

        return await self._poll(fetch, done, None, timeout, on_poll)

    async def _poll(
        self,
        fetch: Callable[[], Awaitable[W]],
        done: Callable[[W], bool],
        key: Callable[[W], object] | None,
        timeout: float,
        on_change: OnChange[W] | None,
    ) -> W:
        """Fetch until `done`; report each change of `key` (or every poll when key is None)."""
        deadline = anyio.current_time() + timeout
        seen: object = object()
        item: W | None = None
        while True:
            with anyio.move_on_after(max(deadline - anyio.current_time(), 0.001)) as scope:
                item = await fetch()
            if scope.cancelled_caught or item is None:
                raise WaitTimedOut("The wait ran out of time.", last=item)
            current = key(item) if key else object()
            if on_change is not None and current != seen:
                await on_change(item)
            seen = current
            if done(item):
                return item
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise WaitTimedOut("The wait ran out of time.", last=item)
            await anyio.sleep(min(self.poll_interval, remaining))


_DEFAULT_PORTS = {"http": 80, "https": 443}
_AGENT_KEY_REFUSED = (
    "The agent server refused the session key OpenHands gave for this conversation. If "
    "OH_MCP_AGENT_SERVER_URL is set, check that it leads to each conversation's own agent server."
)


def settled(conversation: AppConversation) -> bool:
    """Whether the agent has stopped running (finished, idle, paused, waiting, in error)."""
    status = conversation.execution_status
    return status is not None and status != ExecutionStatus.RUNNING


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"OpenHands answered {what} with a body that is not JSON (HTTP {response.status_code}).",
            hint="The server may be misconfigured or behind a proxy page; check OPENHANDS_URL.",
        ) from None


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _validate(kind: type[V], data: Any, what: str) -> V:
    adapter: TypeAdapter[V] | None = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        logger.warning("OpenHands sent a %s oh-mcp cannot read: %s", what, exc.errors(include_input=False)[:3])
        raise ServerError(
            f"OpenHands sent a {what} that oh-mcp cannot read.", hint="Check the server version (1.11+)."
        ) from None


def _may_retry(exc: httpx.TransportError, write: bool) -> bool:
    """Reads retry broken connections; a write only when it provably never left (no connection).
    A read that timed out is not retried: that would double a wait the caller already paid."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    return not write and not isinstance(exc, httpx.TimeoutException)


def _backoff(attempt: int) -> float:
    return min(4.0, 0.25 * 2.0**attempt) * (0.5 + random.random())


def _retry_delay(error: OpenHandsError, attempt: int) -> float:
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return min(float(error.retry_after), 10.0)
    return _backoff(attempt)
