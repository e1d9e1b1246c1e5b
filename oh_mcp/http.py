"""Hosting oh-mcp over HTTP (Streamable HTTP or SSE): bearer auth, per-user OpenHands keys,
/health, and the Host/Origin guard. Knows nothing of tools.

`oh_mcp.http:app` is an ASGI app configured from the environment, for running under any ASGI
server (`uvicorn oh_mcp.http:app --workers 4`); `serve(settings)` is what `oh-mcp --transport …`
calls.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
from contextvars import ContextVar
from types import FrameType
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from sse_starlette.sse import AppStatus
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__
from .config import LOOPBACK_HOSTS, OPTIONS, Settings
from .heap import settle
from .openhands import OpenHandsError
from .openhands.redaction import request_secrets
from .runtime import Runtime, client_for
from .server import build_server

logger = logging.getLogger(__name__)

USER_KEY_HEADER = "x-openhands-api-key"
GRACEFUL_SHUTDOWN_SECONDS = 20


class StaticTokens(TokenVerifier):
    """Accepts the configured bearer tokens, compared in constant time."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        for index, accepted in enumerate(self._tokens):
            if hmac.compare_digest(token.encode(), accepted.encode()):
                return AccessToken(token=token, client_id=f"token-{index + 1}", scopes=[])
        return None


class UserKey:
    """MCP middleware and the client's key provider: calls made for a request carry the caller's
    own OpenHands key when allowed.

    The key lives in a context variable for the duration of that one request, so concurrent
    requests from different users never see each other's key; follow-up work started by the
    request copies the context, so it keeps the key too.
    """

    def __init__(self, settings: Settings) -> None:
        self._allowed = settings.api_key is None or settings.forward_user_key
        self._current: ContextVar[str | None] = ContextVar("oh_mcp_user_key", default=None)

    def key(self) -> str | None:
        return self._current.get()

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        request = ctx.request
        key = request.headers.get(USER_KEY_HEADER) if self._allowed and isinstance(request, Request) else None
        if not key:
            return await call_next(ctx)
        key = key.strip()
        token = self._current.set(key)
        try:
            # A secret of this request alone: masked in what it returns and logs from the moment it is
            # given, whether or not a call uses it, and never in what another caller receives.
            with request_secrets(key):
                return await call_next(ctx)
        finally:
            self._current.reset(token)


def public_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def transport_security(settings: Settings) -> TransportSecuritySettings | None:
    """Loopback hosts always pass; named hosts and origins are added. With neither a loopback bind
    nor a list, the SDK's check stays off (a proxy in front then owns the Host header)."""
    if not settings.allowed_hosts and settings.host not in LOOPBACK_HOSTS:
        return None
    hosts = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*", *settings.allowed_hosts]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *settings.allowed_origins]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def build_mcp(settings: Settings) -> MCPServer[Runtime]:
    tokens = settings.auth_tokens()
    verifier = StaticTokens(tokens) if tokens else None
    auth = (
        AuthSettings(
            issuer_url=AnyHttpUrl(public_url(settings)),
            resource_server_url=AnyHttpUrl(public_url(settings) + _endpoint(settings)),
            validate_token_resource=False,
        )
        if tokens
        else None
    )
    user_key = UserKey(settings)
    rt = Runtime(settings, lambda s: client_for(s, key_provider=user_key.key))
    server = build_server(settings, token_verifier=verifier, auth=auth, middleware=[user_key], runtime=rt)
    server.custom_route("/health", methods=["GET"])(_health_route(rt))
    return server


def _endpoint(settings: Settings) -> str:
    return "/sse" if settings.transport == "sse" else settings.path


def _health_route(rt: Runtime) -> Any:
    """No auth, no secrets: whether this process serves and whether OpenHands answers."""

    async def health(request: Request) -> JSONResponse:
        openhands: dict[str, Any] = {"url": rt.settings.shown_openhands_url}
        try:
            await rt.client.alive()
            openhands["reachable"] = True
        except (OpenHandsError, RuntimeError) as exc:
            openhands |= {"reachable": False, "error": exc.message if isinstance(exc, OpenHandsError) else str(exc)}
        status = "ok" if openhands["reachable"] else "degraded"
        body = {"status": status, "oh_mcp": __version__, "worker": os.getpid(), "openhands": openhands}
        return JSONResponse(body)

    return health


class Drain:
    """Graceful shutdown: after SIGTERM, calls in flight finish and new ones get 503.

    sse-starlette ends every SSE stream the moment uvicorn sees a signal, which would cut off
    calls still running; so its automatic drain is turned off, and streams are released only
    when the last call in flight has answered (uvicorn's graceful timeout bounds the wait).
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.stopping = False

    def begin(self) -> None:
        self.stopping = True
        self._release_if_idle()

    def _release_if_idle(self) -> None:
        if self.stopping and self.in_flight == 0:
            AppStatus.should_exit = True

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def drained(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                await app(scope, receive, send)
                return
            if self.stopping:
                await JSONResponse({"error": "oh-mcp is shutting down; retry on another instance"}, 503)(
                    scope, receive, send
                )
                return
            self.in_flight += 1
            try:
                await app(scope, receive, send)
            finally:
                self.in_flight -= 1
                self._release_if_idle()

        return drained


DRAIN = Drain()


def _install_drain() -> None:
    """Hook uvicorn's signal handling once per process (the parent, or each worker)."""
    if getattr(uvicorn.Server.handle_exit, "_oh_mcp", False):
        return
    AppStatus.enable_automatic_graceful_drain = False
    original = uvicorn.Server.handle_exit

    def handle_exit(self: uvicorn.Server, sig: int, frame: FrameType | None) -> None:
        DRAIN.begin()
        original(self, sig, frame)

    handle_exit._oh_mcp = True  # type: ignore[attr-defined]
    uvicorn.Server.handle_exit = handle_exit  # type: ignore[method-assign]


def create_app(settings: Settings) -> ASGIApp:
    """The ASGI app for these settings (its lifespan starts the MCP session manager)."""
    server = build_mcp(settings)
    security = transport_security(settings)
    _install_drain()
    if settings.transport == "sse":
        return DRAIN.wrap(server.sse_app(transport_security=security, host=settings.host))
    app = server.streamable_http_app(
        streamable_http_path=settings.path,
        stateless_http=settings.stateless,
        json_response=settings.stateless,
        transport_security=security,
        host=settings.host,
    )
    return DRAIN.wrap(app)


class _AppFromEnvironment:
    """`oh_mcp.http:app`: built on first use from the environment, so importing has no side effects."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            settings = Settings.load([], os.environ)
            if settings.transport == "stdio":
                settings = settings.model_copy(update={"transport": "streamable-http"})
            self._app = create_app(settings)
            settle()
        await self._app(scope, receive, send)


app = _AppFromEnvironment()


def export_to_environment(settings: Settings) -> None:
    """Worker processes rebuild Settings from the environment, so flags must travel there too."""
    for option in OPTIONS:
        if settings.source_of(option.field).startswith("--"):
            value = getattr(settings, option.field)
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            elif isinstance(value, tuple):
                value = ",".join(value)
            os.environ[option.env] = str(value).lower() if isinstance(value, bool) else str(value)


def serve(settings: Settings) -> None:
    """Run the HTTP transports under uvicorn; SIGTERM lets in-flight calls finish, then exits 0."""
    settings.check_exposure()
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "lifespan": "on",
    }
    # uvicorn re-raises the signal once it has shut down; a no-op handler makes that exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    if settings.workers > 1:
        export_to_environment(settings)
        os.environ["OH_MCP_TRANSPORT"] = settings.transport
        uvicorn.run("oh_mcp.http:app", workers=settings.workers, **common)
    else:
        app = create_app(settings)
        settle()
        uvicorn.run(app, **common)
