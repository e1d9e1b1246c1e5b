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
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from . import __version__
from .config import LOOPBACK_HOSTS, OPTIONS, Settings
from .openhands import OpenHandsError, request_api_key
from .runtime import Runtime
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
    """MCP middleware: calls made for a request carry the caller's own OpenHands key when allowed.

    The key lives in a context variable for the duration of that one request, so concurrent
    requests from different users never see each other's key.
    """

    def __init__(self, settings: Settings) -> None:
        self._allowed = settings.api_key is None or settings.forward_user_key

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        request = ctx.request
        key = request.headers.get(USER_KEY_HEADER) if self._allowed and isinstance(request, Request) else None
        if not key:
            return await call_next(ctx)
        token = request_api_key.set(key.strip())
        try:
            return await call_next(ctx)
        finally:
            request_api_key.reset(token)


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
    rt = Runtime(settings)
    server = build_server(settings, token_verifier=verifier, auth=auth, middleware=[UserKey(settings)], runtime=rt)
    server.custom_route("/health", methods=["GET"])(_health_route(rt))
    return server


def _endpoint(settings: Settings) -> str:
    return "/sse" if settings.transport == "sse" else settings.path


def _health_route(rt: Runtime) -> Any:
    """No auth, no secrets: whether this process serves and whether OpenHands answers."""

    async def health(request: Request) -> JSONResponse:
        openhands: dict[str, Any] = {"url": rt.settings.openhands_url}
        try:
            info = await rt.client.server_info()
            openhands |= {"reachable": True, "version": info.get("version")}
        except (OpenHandsError, RuntimeError) as exc:
            openhands |= {"reachable": False, "error": exc.message if isinstance(exc, OpenHandsError) else str(exc)}
        status = "ok" if openhands["reachable"] else "degraded"
        return JSONResponse({"status": status, "oh_mcp": __version__, "openhands": openhands})

    return health


def create_app(settings: Settings) -> Starlette:
    """The ASGI app for these settings (its lifespan starts the MCP session manager)."""
    server = build_mcp(settings)
    security = transport_security(settings)
    if settings.transport == "sse":
        return server.sse_app(transport_security=security, host=settings.host)
    return server.streamable_http_app(
        streamable_http_path=settings.path,
        stateless_http=settings.stateless,
        json_response=settings.stateless,
        transport_security=security,
        host=settings.host,
    )


class _AppFromEnvironment:
    """`oh_mcp.http:app`: built on first use from the environment, so importing has no side effects."""

    def __init__(self) -> None:
        self._app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            settings = Settings.load([], os.environ)
            if settings.transport == "stdio":
                settings = settings.model_copy(update={"transport": "streamable-http"})
            self._app = create_app(settings)
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
    if settings.workers > 1:
        export_to_environment(settings)
        os.environ["OH_MCP_TRANSPORT"] = settings.transport
        uvicorn.run("oh_mcp.http:app", workers=settings.workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
