"""Errors raised by the OpenHands client.

Every failure the client can meet becomes one of these, built in exactly one place
(`error_from_response` for HTTP answers, `error_from_transport` for network failures), so
callers never read status codes or catch httpx2 exceptions themselves.

* OpenHandsError              base: `status`, `message` (what happened), `hint` (what to do next, in
                              OpenHands' words), `resource` (conversation, sandbox, start task …)
  x NotFound                  404, or a batch GET answered `null` for the id
  x SandboxNotRunning         409: the sandbox is PAUSED/STARTING; carries `sandbox_status`
  x Archived                  410: the conversation's sandbox is MISSING (archived)
  x Unavailable               502/503/504: the agent server or sandbox cannot serve the call
  x AuthFailed                401/403: the API key is missing or wrong
    x SessionKeyRefused       401/403 from an agent server: the sandbox's session key was refused
  x InvalidRequest            400/422: the server refused the input; carries the field messages
  x RateLimited               429: carries `retry_after` seconds when the server said
  x ServerError               any other 5xx, or a body we could not understand
  x ConnectionFailed          OpenHands could not be reached at all
    x AgentServerUnreachable  a conversation's agent server (its conversation_url) could not be reached;
                              carries the `url` tried and the `reason`
  x RequestTimeout            no answer within the timeout; `sent` says whether a write may have landed
  x WaitTimedOut              a wait helper's deadline passed (not an HTTP failure)
  x StartFailed               a start task ended in ERROR; carries the task's `detail`
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from .redaction import scrub_known


class OpenHandsError(Exception):
    """Base of every error the OpenHands client raises."""

    status: int | None = None
    default_hint = ""

    def __init__(
        self, message: str, *, hint: str | None = None, status: int | None = None, resource: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        self.resource = resource
        if status is not None:
            self.status = status

    def for_model(self) -> str:
        """One paragraph an assistant can act on: what happened, then what to do."""
        return f"{self.message} {self.hint}".strip()

    def __str__(self) -> str:
        return self.for_model()


class NotFound(OpenHandsError):
    status = 404


class SandboxNotRunning(OpenHandsError):
    status = 409
    default_hint = "It must be RUNNING for this."

    def __init__(
        self, message: str, *, sandbox_status: str | None = None, hint: str | None = None, resource: str | None = None
    ) -> None:
        super().__init__(message, hint=hint, resource=resource)
        self.sandbox_status = sandbox_status


class Archived(OpenHandsError):
    status = 410
    default_hint = "Its sandbox is gone, so it can no longer run."


class Unavailable(OpenHandsError):
    status = 503
    default_hint = "The sandbox or its agent server is not answering; try again once the sandbox is RUNNING."


class AuthFailed(OpenHandsError):
    status = 401
    default_hint = "Check OPENHANDS_API_KEY: it must be a valid key for this OpenHands server."


class SessionKeyRefused(AuthFailed):
    default_hint = (
        "A sandbox gets a new session key when it restarts; read the conversation again and retry. If it "
        "persists, the sandbox is not the one OpenHands knows."
    )


class InvalidRequest(OpenHandsError):
    status = 422
    default_hint = "Correct the arguments and call again."

    def __init__(
        self,
        message: str,
        *,
        field_errors: list[str] | None = None,
        hint: str | None = None,
        status: int = 422,
        resource: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, status=status, resource=resource)
        self.field_errors = field_errors or []


class RateLimited(OpenHandsError):
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        wait = f"Wait {retry_after:g} s, then try again." if retry_after is not None else "Wait a little, then retry."
        super().__init__(message, hint=wait)
        self.retry_after = retry_after


class ServerError(OpenHandsError):
    status = 500
    default_hint = "This is a problem on the OpenHands side; try again later."


class ConnectionFailed(OpenHandsError):
    status = None
    default_hint = "Check that OpenHands is running and that OPENHANDS_URL points at it."

    def __init__(self, message: str, *, hint: str | None = None, reason: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason  # why no connection could be made; None when one broke on the way


class AgentServerUnreachable(ConnectionFailed):
    """The app server answers, but the agent server address it reports does not: typical when oh-mcp
    runs in another container or host than OpenHands, which reports it as `localhost:<port>`."""

    default_hint = (
        "That is the agent server's address as OpenHands reports it; if oh-mcp runs elsewhere (another "
        "container or host), set OH_MCP_AGENT_SERVER_URL to where it is reachable, e.g. http://openhands:{port}."
    )

    def __init__(self, what: str, *, url: str, reason: str) -> None:
        super().__init__(f"Could not reach {what} at {url}: {reason}.", reason=reason)
        self.url = url


class RequestTimeout(OpenHandsError):
    status = None

    def __init__(self, message: str, *, sent: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.sent = sent


class WaitTimedOut(OpenHandsError):
    status = None

    def __init__(self, message: str, *, last: object = None) -> None:
        super().__init__(message, hint="")
        self.last = last


class TooLarge(OpenHandsError):
    """An answer over the size oh-mcp accepts; none of it was used."""

    def __init__(self, message: str, *, limit: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.limit = limit


class StartFailed(OpenHandsError):
    status = None
    default_hint = "Read the detail above, fix the cause (repository, model, sandbox), then start again."


_MAX_DETAIL = 500
_MAX_BODY = 65_536


def scrub(text: str, secrets: tuple[str, ...] = (), limit: int | None = _MAX_DETAIL) -> str:
    """Mask every known secret and credential-shaped string (redaction.py); cut to `limit`."""
    text = scrub_known(text, secrets)
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


def _detail_text(body: Any) -> tuple[str, list[str]]:
    """Normalise the three error shapes: {"detail": str}, {"detail": [errors]}, {"error": str}."""
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error"))
        if isinstance(detail, str):
            return detail, []
        if isinstance(detail, list):
            fields = [_field_message(item) for item in detail]
            return "; ".join(fields), fields
        if detail is not None:
            return str(detail), []
    if isinstance(body, str):
        return body.strip(), []
    return "", []


def _field_message(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc", []) if part not in ("body", "query", "path")]
    msg = str(item.get("msg", "invalid value"))
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def _retry_after(response: httpx2.Response) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_SANDBOX_STATUS = re.compile(r"Sandbox is ([A-Z_]+)")


def error_from_response(response: httpx2.Response, what: str, secrets: tuple[str, ...] = ()) -> OpenHandsError:
    """Build the error for a non-2xx answer. `what` names the resource, e.g. "Conversation 1a2b…"."""
    try:
        body: Any = response.json()
    except ValueError:
        # Bounded, but scrubbed before `scrub` cuts it for display: a key straddling a cut made
        # first would show its opening characters.
        body = response.text[:_MAX_BODY]
    detail, fields = _detail_text(body)
    detail = scrub(detail, secrets)
    fields = [scrub(field, secrets) for field in fields]
    code = response.status_code
    said = f" OpenHands said: {detail}." if detail and detail not in ("Not Found", "Unauthorized") else ""
    if code == 404:
        return NotFound(f"{what} not found (HTTP 404).{said}", hint="Check the id; list the items to find valid ids.")
    if code == 409:
        match = _SANDBOX_STATUS.search(detail)
        status = match.group(1) if match else None
        return SandboxNotRunning(f"{what}: its sandbox is {status or 'not running'} (HTTP 409).", sandbox_status=status)
    if code == 410:
        return Archived(f"{what} is archived (HTTP 410).{said}")
    if code in (401, 403):
        return AuthFailed(f"OpenHands refused the credentials (HTTP {code}) while accessing {what}.", status=code)
    if code in (400, 422):
        return InvalidRequest(
            f"OpenHands rejected the request for {what} (HTTP {code}).{said}", field_errors=fields, status=code
        )
    if code == 429:
        return RateLimited(
            f"OpenHands is rate limiting requests (HTTP 429) for {what}.", retry_after=_retry_after(response)
        )
    if code in (502, 503, 504):
        return Unavailable(f"{what} is unavailable (HTTP {code}).{said}", status=code)
    return ServerError(f"OpenHands failed on {what} (HTTP {code}).{said}", status=code)


def _connect_reason(exc: httpx2.TransportError) -> str:
    """The root cause: httpx2 says only "All connection attempts failed" for a refused connection."""
    if isinstance(exc, httpx2.ConnectTimeout):
        return "the connection timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            # asyncio puts "Connect call failed (…)" in strerror; a positive errno says why.
            return (os.strerror(cause.errno) if cause.errno > 0 else str(cause.strerror)).lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or "the connection failed"


def error_from_transport(exc: httpx2.TransportError, what: str, *, write: bool) -> OpenHandsError:
    """Map a network failure. A write that timed out after sending may have been applied."""
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.ConnectError):
        return ConnectionFailed(f"Could not connect to OpenHands while accessing {what}.", reason=_connect_reason(exc))
    if isinstance(exc, httpx2.TimeoutException):
        if write:
            return RequestTimeout(
                f"OpenHands did not answer in time for {what}; the change may or may not have been applied.",
                sent=True,
                hint="Do not repeat it blindly: check the current state first.",
            )
        return RequestTimeout(f"OpenHands did not answer in time for {what}.", sent=False, hint="Try again.")
    if write:
        return ConnectionFailed(
            f"The connection to OpenHands broke while sending {what}; it may or may not have been applied.",
            hint="Check the current state (e.g. the conversation's events) before repeating it.",
        )
    return ConnectionFailed(f"The connection to OpenHands failed while reading {what}.")
