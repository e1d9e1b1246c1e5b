"""The client's HTTP transport: one `httpx2.AsyncClient` with keep-alive for every call, the
auth headers (the configured key or the caller's own), retries within the caller's deadline, and
the translation of failures into `errors.py`'s tree. Knows no route."""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import httpx2
from pydantic import SecretStr, TypeAdapter, ValidationError

from .errors import OpenHandsError, RateLimited, ServerError, TooLarge, error_from_response, error_from_transport
from .models import AppConversation
from .redaction import known

logger = logging.getLogger("oh_mcp.openhands.client")

V = TypeVar("V")

# Gives the key for the request being made, or None for the configured one: a hosting layer
# uses it to send each caller's own OpenHands key.
KeyProvider = Callable[[], str | None]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# POST /sandboxes (and a resume) answers only once the agent server is up: about 13 s, and OpenHands
# gives up after 30 s. Those calls get this long, so a slow start is not cut at the usual timeout.
SANDBOX_START_TIMEOUT = 45.0
USER_AGENT = "oh-mcp"


# Upstream connections, all kept alive: churning them costs a TCP and TLS handshake each. No more
# than 16, because the pool probes every idle connection's socket twice per request: with 32, each
# call grew dearer the busier the server got.
POOL_SIZE = 16


class Transport:
    """The HTTP side of the client: one keep-alive connection pool, auth headers, retries and
    errors. The route classes build on it; use `OpenHandsClient`, which joins them."""

    def __init__(
        self,
        base_url: str = "http://localhost:3000",
        *,
        api_key: str | SecretStr | None = None,
        key_provider: KeyProvider | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        poll_interval: float = 1.0,
        transport: httpx2.AsyncBaseTransport | None = None,
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
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=httpx2.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            limits=httpx2.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE, keepalive_expiry=30),
            event_hooks=dict(event_hooks) if event_hooks else None,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={'***' if self._api_key else None})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _key(self) -> str | None:
        override = self._key_provider() if self._key_provider else None
        if override:
            return override  # the caller's: the hosting layer masks it in that caller's results
        return self._api_key.get_secret_value() if self._api_key else None

    def key_fingerprint(self) -> str:
        """Tells the keys of callers apart without holding them: what a cache shared between requests
        keys on, so one caller's reads never answer another's."""
        return hashlib.sha256((self._key() or "").encode()).hexdigest()[:32]

    def _auth_headers(self) -> dict[str, str]:
        key = self._key()
        # Cloud reads the Bearer header, a local server the X-Session-API-Key: send both.
        return {"Authorization": f"Bearer {key}", "X-Session-API-Key": key} if key else {}

    def secrets_for(self, conversation: AppConversation) -> tuple[str, ...]:
        """The keys to redact from anything read for `conversation`: the user's and its sandbox's."""
        return self._secrets(*conversation.secret_values)

    def known_secrets(self) -> tuple[str, ...]:
        """The keys to redact from anything read with this client: the user's own."""
        return self._secrets()

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
        files: Any = None,
    ) -> Any:
        write = method not in ("GET", "HEAD")
        wait = httpx2.USE_CLIENT_DEFAULT if timeout is None else httpx2.Timeout(timeout)
        for attempt in range(1 + self.retries):
            last = attempt == self.retries
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers=headers, timeout=wait, files=files
                )
            except httpx2.TransportError as exc:
                if last or not _may_retry(exc, write):
                    raise error_from_transport(exc, what, write=write) from None
                await self._pause(_backoff(attempt), error_from_transport(exc, what, write=write))
                continue
            if response.status_code < 400:
                if raw:
                    return response.content
                return Body(response.content, response.status_code, what) if not write else _json(response, what)
            error = error_from_response(response, what, secrets or self._secrets())
            if last or write or response.status_code not in _RETRY_STATUSES:
                raise error
            await self._pause(_retry_delay(error, attempt), error)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_capped(
        self, url: str, *, what: str, limit: int, params: Any, headers: dict[str, str], secrets: tuple[str, ...]
    ) -> bytes:
        """A GET whose body is read as it streams and abandoned past `limit` bytes: a body from a
        sandbox may be endless, and buffering it whole would take the memory of every other caller."""
        try:
            async with self._http.stream("GET", url, params=params, headers=headers) as response:
                body = await _read_capped(response, limit if response.status_code < 400 else _MAX_ERROR_BODY)
                if body is None and response.status_code < 400:
                    raise TooLarge(f"{what} is over the limit of {limit:,} bytes; nothing of it was used.", limit=limit)
                if response.status_code < 400:
                    return body or b""
                error = httpx2.Response(response.status_code, headers=response.headers, content=body or b"")
                raise error_from_response(error, what, secrets or self._secrets())
        except httpx2.TransportError as exc:
            raise error_from_transport(exc, what, write=False) from None

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


_MAX_ERROR_BODY = 64 * 1024


async def _read_capped(response: httpx2.Response, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def compact(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _json(response: httpx2.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise _not_json(what, response.status_code) from None


def _not_json(what: str, status: int) -> ServerError:
    return ServerError(
        f"OpenHands answered {what} with a body that is not JSON (HTTP {status}).",
        hint="The server may be misconfigured or behind a proxy page; check OPENHANDS_URL.",
    )


class Body(bytes):
    """A read's JSON body, left as bytes until `validate` reads it into its model: pydantic then
    parses and validates in one pass, without building the Python objects in between."""

    status: int
    what: str

    def __new__(cls, content: bytes, status: int, what: str) -> Self:
        body = super().__new__(cls, content)
        body.status, body.what = status, what
        return body


_adapters: dict[Any, TypeAdapter[Any]] = {}


def validate(kind: type[V], data: Any, what: str) -> V:
    """`data` (a read's `Body`, or JSON already parsed) as `kind`; anything else is a ServerError."""
    adapter: TypeAdapter[V] | None = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    try:
        return adapter.validate_json(data) if isinstance(data, Body) else adapter.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False)
        if isinstance(data, Body) and errors and errors[0]["type"] == "json_invalid":
            raise _not_json(data.what, data.status) from None
        logger.warning("OpenHands sent a %s oh-mcp cannot read: %s", what, errors[:3])
        raise ServerError(
            f"OpenHands sent a {what} that oh-mcp cannot read.", hint="Check the server version (1.11+)."
        ) from None


def _may_retry(exc: httpx2.TransportError, write: bool) -> bool:
    """Reads retry broken connections; a write only when it provably never left (no connection).
    A read that timed out is not retried: that would double a wait the caller already paid."""
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout):
        return True
    return not write and not isinstance(exc, httpx2.TimeoutException)


def _backoff(attempt: int) -> float:
    return min(4.0, 0.25 * 2.0**attempt) * (0.5 + random.random())


def _retry_delay(error: OpenHandsError, attempt: int) -> float:
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return min(float(error.retry_after), 10.0)
    return _backoff(attempt)
