"""Settings: one frozen object, built once from CLI flags over environment variables over defaults.

Every option is declared once in `OPTIONS` (flag, env twin, help), so the CLI parser and the
README's configuration table come from the same data, and `Settings.sources` records where each
value came from (for `oh-mcp doctor`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

Transport = Literal["stdio", "sse", "streamable-http"]
Approvals = Literal["elicit", "model", "off"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConfigError(ValueError):
    """A configuration value is wrong; the message is one line for a human."""


@dataclass(frozen=True)
class Option:
    field: str
    flag: str
    env: str
    help: str
    kind: Literal["str", "float", "int", "bool", "list"] = "str"
    secret: bool = False
    # The flag also takes several values (`--local-roots /a /b`): an MCP Bundle host expands a
    # multiple-folder field into separate arguments, and cannot join it into one env value.
    many: bool = False


OPTIONS: tuple[Option, ...] = (
    Option("openhands_url", "--openhands-url", "OPENHANDS_URL", "Base URL of the OpenHands server."),
    Option(
        "api_key",
        "--api-key",
        "OPENHANDS_API_KEY",
        "OpenHands API key (Cloud) or SESSION_API_KEY (local); sent as Bearer and X-Session-API-Key.",
        secret=True,
    ),
    Option(
        "agent_server_url",
        "--agent-server-url",
        "OH_MCP_AGENT_SERVER_URL",
        "Where to reach agent servers whose reported address is out of reach, e.g. http://openhands:{port}.",
    ),
    Option("timeout", "--timeout", "OH_MCP_TIMEOUT", "Seconds allowed for one request to OpenHands.", "float"),
    Option("read_only", "--read-only", "OH_MCP_READ_ONLY", "Expose only tools that change nothing.", "bool"),
    Option("toolsets", "--toolsets", "OH_MCP_TOOLSETS", "Comma list of toolsets to enable, or 'all'.", "list"),
    Option("tools", "--tools", "OH_MCP_TOOLS", "Comma list of single tools to add to the toolsets.", "list"),
    Option(
        "exclude_tools", "--exclude-tools", "OH_MCP_EXCLUDE_TOOLS", "Comma list of tools to hide (always wins).", "list"
    ),
    Option(
        "approvals",
        "--approvals",
        "OH_MCP_APPROVALS",
        "Approving agent actions: elicit (ask the person through the host), model (respond_to_action only) or off.",
    ),
    Option("output_budget", "--output-budget", "OH_MCP_OUTPUT_BUDGET", "Most characters of text in one result.", "int"),
    Option("transport", "--transport", "OH_MCP_TRANSPORT", "stdio (default), sse or streamable-http."),
    Option("host", "--host", "OH_MCP_HOST", "Address the HTTP transports listen on."),
    Option("port", "--port", "OH_MCP_PORT", "Port the HTTP transports listen on.", "int"),
    Option("log_level", "--log-level", "OH_MCP_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR (logs go to stderr)."),
    Option("path", "--path", "OH_MCP_PATH", "Endpoint path of the Streamable HTTP transport (SSE uses /sse)."),
    Option(
        "stateless", "--stateless", "OH_MCP_STATELESS", "No sessions, JSON responses: for several processes.", "bool"
    ),
    Option("workers", "--workers", "OH_MCP_WORKERS", "Worker processes for the HTTP transports.", "int"),
    Option("auth_token", "--auth-token", "OH_MCP_AUTH_TOKEN", "Bearer token clients must send (HTTP).", secret=True),
    Option(
        "auth_tokens_file",
        "--auth-tokens-file",
        "OH_MCP_AUTH_TOKENS_FILE",
        "File of accepted bearer tokens, one a line.",
    ),
    Option(
        "allow_unauthenticated",
        "--allow-unauthenticated",
        "OH_MCP_ALLOW_UNAUTHENTICATED",
        "Serve a non-loopback address without auth.",
        "bool",
    ),
    Option(
        "forward_user_key",
        "--forward-user-key",
        "OH_MCP_FORWARD_USER_KEY",
        "Use the caller's X-OpenHands-API-Key header even when a server key is set.",
        "bool",
    ),
    Option("allowed_hosts", "--allowed-hosts", "OH_MCP_ALLOWED_HOSTS", "Comma list of Host values to accept.", "list"),
    Option(
        "allowed_origins", "--allowed-origins", "OH_MCP_ALLOWED_ORIGINS", "Comma list of Origins to accept.", "list"
    ),
    Option("public_url", "--public-url", "OH_MCP_PUBLIC_URL", "URL clients reach this server at (auth metadata)."),
    Option(
        "local_roots",
        "--local-roots",
        "OH_MCP_LOCAL_ROOTS",
        "Comma list of folders local_path may name when the client declares no roots; over HTTP, enables it.",
        "list",
        many=True,
    ),
    Option(
        "local_max_bytes",
        "--local-max-bytes",
        "OH_MCP_LOCAL_MAX_BYTES",
        "Most bytes of a local repository start_conversation(local_path) sends.",
        "int",
    ),
    Option(
        "patch_max_bytes",
        "--patch-max-bytes",
        "OH_MCP_PATCH_MAX_BYTES",
        "Most bytes of an agent's patch that get_changes, the patch resource and apply_changes read.",
        "int",
    ),
    Option(
        "apply_max_bytes",
        "--apply-max-bytes",
        "OH_MCP_APPLY_MAX_BYTES",
        "Most bytes apply_changes writes into a local checkout.",
        "int",
    ),
    Option(
        "apply_max_files",
        "--apply-max-files",
        "OH_MCP_APPLY_MAX_FILES",
        "Most files one apply_changes may change.",
        "int",
    ),
    Option(
        "apply_timeout",
        "--apply-timeout",
        "OH_MCP_APPLY_TIMEOUT",
        "Seconds allowed to read, check and apply a patch (and to read the patch resource).",
        "float",
    ),
    Option(
        "warm_sandboxes",
        "--warm-sandboxes",
        "OH_MCP_WARM_SANDBOXES",
        "Sandboxes kept RUNNING and unused for the next start_conversation (each holds memory; on Cloud, costs).",
        "int",
    ),
    Option(
        "warm_idle_pause",
        "--warm-idle-pause",
        "OH_MCP_WARM_IDLE_PAUSE",
        "Seconds without a start after which warm sandboxes are paused (the next start resumes them).",
        "float",
    ),
    Option(
        "warm_keep",
        "--warm-keep",
        "OH_MCP_WARM_KEEP",
        "Keep warm sandboxes when a stdio session ends (they are deleted otherwise).",
        "bool",
    ),
    Option(
        "warm_dir",
        "--warm-dir",
        "OH_MCP_WARM_DIR",
        "Folder of the files that record which sandboxes are oh-mcp's warm spares (default ~/.cache/oh-mcp/warm).",
    ),
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Settings(BaseModel):
    """Everything oh-mcp needs to run. Build with `Settings.load()`; keys are SecretStr."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    openhands_url: str = "http://localhost:3000"
    api_key: SecretStr | None = None
    agent_server_url: str | None = None
    timeout: float = Field(default=30.0, gt=0, le=3600)
    read_only: bool = False
    toolsets: tuple[str, ...] = ("all",)
    tools: tuple[str, ...] = ()
    exclude_tools: tuple[str, ...] = ()
    approvals: Approvals = "elicit"
    output_budget: int = Field(default=20_000, ge=1_000, le=1_000_000)
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: LogLevel = "WARNING"
    path: str = Field(default="/mcp", pattern=r"^/[A-Za-z0-9/_.-]*$")
    stateless: bool = False
    workers: int = Field(default=1, ge=1, le=64)
    auth_token: SecretStr | None = None
    auth_tokens_file: str | None = None
    allow_unauthenticated: bool = False
    forward_user_key: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None
    local_roots: tuple[str, ...] = ()
    local_max_bytes: int = Field(default=100_000_000, ge=1, le=10_000_000_000)
    patch_max_bytes: int = Field(default=50_000_000, ge=1, le=10_000_000_000)
    apply_max_bytes: int = Field(default=200_000_000, ge=1, le=100_000_000_000)
    apply_max_files: int = Field(default=10_000, ge=1, le=10_000_000)
    apply_timeout: float = Field(default=60.0, gt=0, le=3600)
    warm_sandboxes: int = Field(default=0, ge=0, le=16)
    warm_idle_pause: float = Field(default=900.0, gt=0, le=7 * 86400)
    warm_keep: bool = False
    warm_dir: str | None = None
    poll_interval: float = Field(default=1.0, gt=0, le=30)
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    @property
    def shown_openhands_url(self) -> str:
        """OPENHANDS_URL fit to show anyone: a password in it (https://user:pw@host) masked."""
        parts = urlsplit(self.openhands_url)
        if parts.password is None:
            return self.openhands_url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

    @field_validator("openhands_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL with a host, got {value!r}")
        return value.strip().rstrip("/")

    @field_validator("agent_server_url")
    @classmethod
    def _check_agent_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            sample = value.strip().format(scheme="http", host="localhost", port=8000)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{scheme}}, {{host}} and {{port}} may be used, got {value!r} ({exc})") from None
        parts = urlsplit(sample)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL (template) with a host, got {value!r}")
        return value.strip().rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def load(cls, argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Flags win over the environment, which wins over defaults. Raises ConfigError."""
        return cls.from_flags(vars(option_parser().parse_known_args(argv or [])[0]), env)

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
        """Settings from already parsed flags (absent ones None) over the environment."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for option in OPTIONS:
            raw, source = flags.get(option.field), option.flag
            if raw is None:
                raw, source = env.get(option.env) or None, option.env
            if raw is not None:
                values[option.field] = _convert(option, raw)
                sources[option.field] = source
        if env.get("OH_MCP_POLL_INTERVAL"):
            values["poll_interval"] = env["OH_MCP_POLL_INTERVAL"]
        try:
            return cls(**values, sources=sources)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc, sources)) from None

    @property
    def call_budget(self) -> float:
        """Longest one tool call may take beyond its own wait: a few upstream requests' worth."""
        return 3 * self.timeout + 5

    @property
    def local_enabled(self) -> bool:
        """Local paths name the machine oh-mcp runs on: its own user's over stdio, and over HTTP only
        where the operator named the folders."""
        return not self.read_only and (self.transport == "stdio" or bool(self.local_roots))

    def source_of(self, field: str) -> str:
        return self.sources.get(field, "default")

    def auth_tokens(self) -> tuple[str, ...]:
        """Every accepted bearer token: the one given directly plus those in the tokens file."""
        tokens = [self.auth_token.get_secret_value()] if self.auth_token else []
        if self.auth_tokens_file:
            try:
                lines = Path(self.auth_tokens_file).read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"cannot read {self.source_of('auth_tokens_file')}: {exc.strerror}") from None
            tokens += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        return tuple(tokens)

    def check_exposure(self) -> None:
        """Refuse to serve a non-loopback address with no auth unless told to."""
        if self.transport == "stdio" or self.host in LOOPBACK_HOSTS or self.allow_unauthenticated:
            return
        if not self.auth_tokens():
            raise ConfigError(
                f"refusing to serve {self.host} without authentication: anyone who reaches it could drive OpenHands. "
                "Set OH_MCP_AUTH_TOKEN (or --auth-token / --auth-tokens-file), or pass --allow-unauthenticated"
            )


def _convert(option: Option, raw: Any) -> Any:
    if option.kind == "bool" and isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            raise ConfigError(f"{option.env} must be true or false, got {raw!r}")
        return lowered in ("1", "true", "yes", "on")
    if option.kind == "list" and isinstance(raw, str):
        raw = [raw]
    if option.kind == "list" and isinstance(raw, list):
        return tuple(part.strip() for value in raw for part in value.split(",") if part.strip())
    return raw


def _one_line(exc: ValidationError, sources: dict[str, str]) -> str:
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "configuration"
    where = sources.get(field, field)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"invalid {where}: {message}"


def option_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add one flag per option. Defaults are None so an absent flag falls back to the env."""
    parser = parser or argparse.ArgumentParser(add_help=False)
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}]"
        if option.kind == "bool":
            parser.add_argument(option.flag, dest=option.field, action="store_const", const=True, help=help_text)
        elif option.many:
            parser.add_argument(
                option.flag, dest=option.field, metavar="DIR", nargs="*", action="extend", help=help_text
            )
        else:
            parser.add_argument(option.flag, dest=option.field, metavar=option.env, help=help_text)
    return parser
