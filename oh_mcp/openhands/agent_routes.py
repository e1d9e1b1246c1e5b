"""Every agent-server route oh-mcp calls, with what it sends and what it reads: the one list the
client builds its agent-server URLs from, and that the contract test checks against each agent
server's OpenAPI document (tests/agent_server_openapi*.json, cut by scripts/agent-server-openapi,
which reads this file on its own: it imports nothing but the standard library)."""

from __future__ import annotations

from dataclasses import dataclass, field

CONVERSATION = "/api/conversations/{conversation_id}"


@dataclass(frozen=True)
class AgentRoute:
    method: str
    path: str  # as the OpenAPI documents write it
    params: tuple[str, ...] = ()  # query parameters oh-mcp sends
    body: tuple[str, ...] = ()  # JSON body fields oh-mcp sends
    reads: tuple[str, ...] = ()  # fields of the JSON answer oh-mcp reads
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)  # parameter -> the values oh-mcp sends

    @property
    def tail(self) -> str:
        """The path below a conversation's own URL (conversation_url), for the conversation's routes."""
        return self.path.removeprefix(CONVERSATION)


FINAL_RESPONSE = AgentRoute("GET", CONVERSATION + "/agent_final_response", reads=("response",))
RENAME = AgentRoute("PATCH", CONVERSATION, body=("title",))
INTERRUPT = AgentRoute("POST", CONVERSATION + "/interrupt")
RUN = AgentRoute("POST", CONVERSATION + "/run")
CONFIRMATION_POLICY = AgentRoute("POST", CONVERSATION + "/confirmation_policy", body=("policy",))
RESPOND = AgentRoute("POST", CONVERSATION + "/events/respond_to_confirmation", body=("accept", "reason"))
ASK = AgentRoute("POST", CONVERSATION + "/ask_agent", body=("question",), reads=("response",))
EVENTS = AgentRoute(
    "GET",
    CONVERSATION + "/events/search",
    # its answer is untyped in both documents: the fake's contract holds it
    params=("limit", "sort_order", "kind", "source", "timestamp__gte", "timestamp__lt"),
    enums={"sort_order": ("TIMESTAMP_DESC", "TIMESTAMP")},
)
COUNT = AgentRoute("GET", CONVERSATION + "/events/count", params=("kind",))
DOWNLOAD = AgentRoute("GET", "/api/file/download", params=("path",))
UPLOAD = AgentRoute("POST", "/api/file/upload", params=("path",))
ARCHIVE = AgentRoute(
    "GET",
    "/api/file/archive",
    params=("path", "format", "base_ref", "use_default_excludes"),
    enums={"format": ("git-delta",)},
)
EXECUTE = AgentRoute(
    "POST",
    "/api/bash/execute_bash_command",
    body=("command", "timeout", "cwd"),
    reads=("exit_code", "stdout", "stderr"),
)

ROUTES: tuple[AgentRoute, ...] = (
    FINAL_RESPONSE,
    RENAME,
    INTERRUPT,
    RUN,
    CONFIRMATION_POLICY,
    RESPOND,
    ASK,
    EVENTS,
    COUNT,
    DOWNLOAD,
    UPLOAD,
    ARCHIVE,
    EXECUTE,
)
