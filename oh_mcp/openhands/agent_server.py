"""The agent servers' routes: each conversation's own agent server (reached at its
conversation_url with the sandbox's session key, never the user's) for files, commands, the
final response, and steering the agent (interrupt, confirmation, side questions, events)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from . import agent_routes as routes
from .errors import (
    AgentServerUnreachable,
    Archived,
    AuthFailed,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    SandboxNotRunning,
    SessionKeyRefused,
    Unavailable,
)
from .models import (
    CONFIRMATION_POLICIES,
    AgentAnswer,
    AppConversation,
    CommandResult,
    ConfirmPolicy,
    Event,
    ExecutionStatus,
    Page,
    PendingAction,
    SandboxStatus,
    pending_actions,
)
from .transport import Transport, validate

# The agent server filters events by their class's full name (a bare "ActionEvent" matches nothing).
ACTION_EVENT_CLASS = "openhands.sdk.event.llm_convertible.action.ActionEvent"
MESSAGE_EVENT_CLASS = "openhands.sdk.event.llm_convertible.message.MessageEvent"


# read_file windows a file it holds whole: a sandbox may send any size, so reading stops here.
DOWNLOAD_LIMIT = 64 * 1024 * 1024


class AgentServerRoutes(Transport):
    """One method per agent-server call, returning models."""

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
        self,
        conversation: AppConversation,
        method: str,
        url: str,
        *,
        what: str | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call to the conversation's agent server at `url`, with the sandbox's own key (never the
        user's); a refused key or an address out of reach is reported as the agent server's."""
        assert conversation.session_api_key is not None
        key = conversation.session_api_key.get_secret_value()
        what = what or f"the agent server of conversation {conversation.id}"
        headers, secrets = {"X-Session-API-Key": key}, self._secrets(key)
        try:
            if limit is not None:  # a GET whose body is read as it streams, up to `limit` bytes
                params = kwargs.get("params")
                return await self._send_capped(
                    url, what=what, limit=limit, params=params, headers=headers, secrets=secrets
                )
            return await self._send(method, url, what=what, headers=headers, secrets=secrets, **kwargs)
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
        url = self._conversation_url(conversation) + routes.FINAL_RESPONSE.tail
        body = await self._agent(conversation, routes.FINAL_RESPONSE.method, url)
        data = validate(Any, body, "final response")
        response = data.get("response") if isinstance(data, dict) else None
        return response if isinstance(response, str) else None

    async def set_agent_title(self, conversation: AppConversation, title: str) -> None:
        """Set the title on the conversation's agent server; a no-op when it is not running."""
        if not conversation.conversation_url or conversation.session_api_key is None:
            return
        await self._agent(
            conversation, routes.RENAME.method, self._conversation_url(conversation), json={"title": title.strip()}
        )

    async def download_file(self, conversation: AppConversation, path: str, *, limit: int = DOWNLOAD_LIMIT) -> bytes:
        """A workspace file's bytes. `path` is absolute; a missing file is NotFound, a directory or a
        relative path InvalidRequest, a sandbox that is not running SandboxNotRunning, one over `limit`
        bytes TooLarge (read no further: the sandbox decides what it sends)."""
        url = self._agent_base(conversation) + routes.DOWNLOAD.path
        what = f"the file {path} of conversation {conversation.id}"
        data: bytes = await self._agent(
            conversation, routes.DOWNLOAD.method, url, what=what, params={"path": path}, limit=limit
        )
        return data

    async def upload_file(self, conversation: AppConversation, path: str, content: bytes) -> None:
        """Write `content` to the absolute `path` in the sandbox (parent folders are made). The body is
        sent once: a broken connection is not retried, so a half-written file is never taken for done."""
        url = self._agent_base(conversation, so="nothing can be uploaded") + routes.UPLOAD.path
        await self._agent(
            conversation,
            routes.UPLOAD.method,
            url,
            what=f"an upload to conversation {conversation.id}",
            params={"path": path},
            files={"file": ("upload", content, "application/octet-stream")},
            timeout=UPLOAD_TIMEOUT,
        )

    async def git_delta(self, conversation: AppConversation, repository: str, base_ref: str, *, limit: int) -> bytes:
        """A binary git patch of the repository's working tree (committed or not, untracked files too,
        ignored ones not) against `base_ref`, made by the agent server without touching its index.
        Raises TooLarge past `limit` bytes, having read no more than that."""
        url = self._agent_base(conversation) + routes.ARCHIVE.path
        params = {"path": repository, "format": "git-delta", "base_ref": base_ref, "use_default_excludes": "false"}
        what = f"the changes of conversation {conversation.id}"
        data: bytes = await self._agent(conversation, routes.ARCHIVE.method, url, what=what, params=params, limit=limit)
        return data

    async def execute_command(
        self, conversation: AppConversation, command: str, *, cwd: str | None = None, timeout: int = 20
    ) -> CommandResult:
        """Run a shell command in the sandbox (as the agent's own terminal would) and wait for its end.
        Agent server 1.34.0 returns only the output's last megabyte, 1.58.2 all of it: commands print little."""
        url = self._agent_base(conversation) + routes.EXECUTE.path
        body = {"command": command, "timeout": timeout} | ({"cwd": cwd} if cwd else {})
        data = await self._agent(
            conversation, routes.EXECUTE.method, url, what=f"a command in conversation {conversation.id}", json=body
        )
        return validate(CommandResult, data, "command result")

    # ---- steering the agent (its agent server) ------------------------------------------------

    async def _steer(self, conversation: AppConversation, route: routes.AgentRoute, **kwargs: Any) -> Any:
        """A call to the conversation's own routes on its agent server (conversation_url + tail). Every
        steering call goes through here, so where the agent server is reached is decided once."""
        if conversation.sandbox_status == SandboxStatus.MISSING:
            raise Archived(f"Conversation {conversation.id} is archived: its sandbox no longer exists.")
        self._agent_base(conversation, so="its agent cannot be reached")
        assert conversation.conversation_url is not None
        url = self._conversation_url(conversation) + route.tail
        return await self._agent(conversation, route.method, url, **kwargs)

    async def interrupt(self, conversation: AppConversation) -> bool:
        """Stop the agent at once (the model call in flight is cancelled); it becomes `paused`. False when
        the agent server holds no such conversation running (1.34.0 answers 400, 1.58.2 404): nothing
        was running to stop. An idle or finished agent is answered 200 and left as it is."""
        try:
            await self._steer(conversation, routes.INTERRUPT)
        except (InvalidRequest, NotFound):
            return False
        return True

    async def run_agent(self, conversation: AppConversation) -> None:
        """Start the agent on what the conversation holds, with no new message (one saved earlier)."""
        await self._steer(conversation, routes.RUN)

    async def set_confirmation_policy(self, conversation: AppConversation, policy: ConfirmPolicy) -> None:
        """Which actions wait for the user's confirmation from now on."""
        policy_body = {"policy": CONFIRMATION_POLICIES[policy]}
        await self._steer(conversation, routes.CONFIRMATION_POLICY, json=policy_body)

    async def respond_to_confirmation(self, conversation: AppConversation, *, accept: bool, reason: str) -> None:
        """Accept or reject every pending action at once (the route takes no ids)."""
        await self._steer(conversation, routes.RESPOND, json={"accept": accept, "reason": reason})

    async def ask_agent(self, conversation: AppConversation, question: str) -> str:
        """The agent's answer to a side question; the conversation's history stays as it was."""
        data = await self._steer(conversation, routes.ASK, json={"question": question})
        return validate(AgentAnswer, data, "side-question answer").response

    async def agent_events(
        self,
        conversation: AppConversation,
        *,
        limit: int = 100,
        newest_first: bool = True,
        since: str | None = None,
        before: str | None = None,
    ) -> list[Event]:
        """Events straight from the agent server (the app server's copy lags), newest first unless told;
        `since` and `before` are event timestamps as the agent server gave them (its local time)."""
        params: dict[str, Any] = {"limit": limit, "sort_order": "TIMESTAMP_DESC" if newest_first else "TIMESTAMP"}
        params |= {k: v for k, v in (("timestamp__gte", since), ("timestamp__lt", before)) if v is not None}
        data = await self._steer(conversation, routes.EVENTS, params=params)
        return validate(Page[Event], data, "agent event page").items

    async def user_messages(
        self, conversation: AppConversation, *, limit: int = 100, newest_first: bool = True
    ) -> list[Event]:
        """The person's messages (each begins a turn), from the agent server."""
        order = "TIMESTAMP_DESC" if newest_first else "TIMESTAMP"
        params = {"limit": limit, "sort_order": order, "kind": MESSAGE_EVENT_CLASS, "source": "user"}
        data = await self._steer(conversation, routes.EVENTS, params=params)
        return validate(Page[Event], data, "agent event page").items

    async def pending_actions(self, conversation: AppConversation) -> list[PendingAction]:
        """The actions waiting for confirmation, read from the agent server; [] unless the agent waits."""
        if conversation.execution_status != ExecutionStatus.WAITING_FOR_CONFIRMATION:
            return []
        return pending_actions(await self.agent_events(conversation))

    async def count_actions(self, conversation: AppConversation) -> int:
        """How many actions (steps) the agent has taken in this conversation."""
        data = await self._steer(conversation, routes.COUNT, params={"kind": ACTION_EVENT_CLASS})
        return validate(int, data, "event count")


_DEFAULT_PORTS = {"http": 80, "https": 443}
# An upload of up to OH_MCP_LOCAL_MAX_BYTES goes in one request: allow for a slow link, not just a slow server.
UPLOAD_TIMEOUT = 300.0
_AGENT_KEY_REFUSED = (
    "The agent server refused the session key OpenHands gave for this conversation. If "
    "OH_MCP_AGENT_SERVER_URL is set, check that it leads to each conversation's own agent server."
)
