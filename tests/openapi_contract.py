"""Checks requests and responses against the OpenAPI documents of the real OpenHands 1.11.0.

The app server's document is read from ../shared/spec beside the repository (CI lays shared/ there
too), or from OH_MCP_SPEC_DIR; the agent server's routes oh-mcp uses come from a fragment of the
document openhands-agent-server 1.34.0 generates, kept beside this file. Used three ways: the
fake's own contract tests, an httpx hook on clients in the test suite, and a check inside the fake
itself (`asgi_check`), which also covers oh-mcp in subprocesses and servers built without hooks.

Formats are checked as the server's pydantic reads them (a uuid may come without dashes; a
date-time may be naive, as agent-server events are). Statuses are those the document declares for
the route, plus those its prose documents for that route (ROUTE_ERRORS), plus UNIVERSAL_ERRORS.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx2
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SPEC_FILE = "openhands-openapi-1.11.0.json"
# The agent servers' routes oh-mcp calls, cut by scripts/agent-server-openapi from each agent server oh-mcp
# is tested with: 1.34.0 (OpenHands 1.11.0's sandboxes) and 1.58.2 (newer setups, OpenHands Cloud).
AGENT_VERSIONS = ("1.34.0", "1.58.2")
AGENT_DOCUMENTS = {v: Path(__file__).with_name(f"agent_server_openapi-{v}.json") for v in AGENT_VERSIONS}
BASE = "urn:openhands-openapi"
AGENT_PREFIX = "AgentServer."
# Any route: a wrong or missing key (local SESSION_API_KEY, Cloud), Cloud's rate limit, a crash.
UNIVERSAL_ERRORS = frozenset({401, 403, 429, 500})
# What openhands-v1-api.md documents beyond the document's declarations, route by route.
ROUTE_ERRORS: dict[tuple[str, str], frozenset[int]] = {
    ("GET", "/api/v1/app-conversations"): frozenset({400}),  # too many ids, a bad UUID
    ("PATCH", "/api/v1/app-conversations/{conversation_id}"): frozenset({404}),
    ("DELETE", "/api/v1/app-conversations/{conversation_id}"): frozenset({400}),  # a non-UUID id
    ("POST", "/api/v1/app-conversations/{conversation_id}/send-message"): frozenset({502}),  # agent server failed
    ("GET", "/api/v1/app-conversations/start-tasks"): frozenset({400}),
    ("GET", "/api/v1/sandboxes"): frozenset({400}),
    # review-and-control.md: the git routes proxy the agent server (502 when it fails, e.g. an unknown
    # ref), answer 409 while the sandbox is paused and 404 when it does not run at all.
    ("GET", "/api/v1/app-conversations/{conversation_id}/git/changes"): frozenset({404, 409, 502}),
    ("GET", "/api/v1/app-conversations/{conversation_id}/git/diff"): frozenset({404, 409, 502}),
    # A gateway in front of an agent server that stopped (Cloud's runtime proxy, the fake); interrupting
    # an agent that is not running answers 400 (review-and-control.md).
    # 1.58.2 answers 404 for a conversation it does not hold, 1.34.0 400.
    ("POST", "/api/conversations/{conversation_id}/interrupt"): frozenset({400, 404, 502, 503}),
    ("POST", "/api/conversations/{conversation_id}/run"): frozenset({404, 409, 502, 503}),
    ("POST", "/api/conversations/{conversation_id}/confirmation_policy"): frozenset({502, 503}),
    ("POST", "/api/conversations/{conversation_id}/ask_agent"): frozenset({502, 503}),
    ("GET", "/api/conversations/{conversation_id}/events/search"): frozenset({502, 503}),
    ("GET", "/api/conversations/{conversation_id}/events/count"): frozenset({502, 503}),
    ("POST", "/api/conversations/{conversation_id}/events/respond_to_confirmation"): frozenset({502, 503}),
    ("GET", "/api/file/download"): frozenset({400, 404, 502, 503}),  # not a file / not absolute; missing
    ("POST", "/api/bash/execute_bash_command"): frozenset({502, 503}),
    ("POST", "/api/file/upload"): frozenset({400, 502, 503}),  # a relative path
    ("GET", "/api/file/archive"): frozenset({400, 404, 502, 503}),  # not a repository, an unknown base_ref
    ("GET", "/api/conversations/{conversation_id}/agent_final_response"): frozenset({502, 503}),
    ("PATCH", "/api/conversations/{conversation_id}"): frozenset({502, 503}),
}
FORMATS = FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.fromisoformat(value))


def api_path(path: str) -> str | None:
    """The path as the documents know it, or None for a route outside them: an agent server's
    routes sit below its base URL (the fake serves them under /agent/<sandbox id>)."""
    if path.startswith("/api/v1/"):
        return path
    head, sep, tail = path.partition("/api/")
    return sep + tail if sep and (head == "" or head.startswith("/agent/")) and not head.startswith("/api/") else None


class ContractViolation(AssertionError):
    """A request or response that the real server's OpenAPI document does not allow."""


def spec_path() -> Path:
    env = os.environ.get("OH_MCP_SPEC_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "spec"
    path = root / SPEC_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the contract tests need ../shared/spec (or OH_MCP_SPEC_DIR)")
    return path


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _agent_fragment() -> dict[str, Any]:
    """The agent servers' paths and schemas, their schema names prefixed so they never meet the app's:
    1.34.0's, with the answers only 1.58.2 gives added (its 429s), so the fake may follow either."""
    older, newer = (_prefixed(AGENT_DOCUMENTS[v]) for v in AGENT_VERSIONS)
    for path, operations in newer["paths"].items():
        for method, operation in operations.items():
            known = older["paths"].setdefault(path, {}).setdefault(method, operation)
            for status, answer in operation.get("responses", {}).items():
                known.setdefault("responses", {}).setdefault(status, answer)
    schemas = newer["components"]["schemas"] | older["components"]["schemas"]
    return {"paths": older["paths"], "schemas": {AGENT_PREFIX + name: schema for name, schema in schemas.items()}}


def _prefixed(path: Path) -> dict[str, Any]:
    text = path.read_text().replace("#/components/schemas/", f"#/components/schemas/{AGENT_PREFIX}")
    document: dict[str, Any] = json.loads(text)
    return document


class OpenAPIContract:
    def __init__(self, path: Path | None = None) -> None:
        self.doc: dict[str, Any] = json.loads((path or spec_path()).read_text())
        agent = _agent_fragment()
        self.doc["paths"] |= agent["paths"]
        self.doc["components"]["schemas"] |= agent["schemas"]
        resource = Resource.from_contents(self.doc | {"$id": BASE}, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(BASE, resource)
        self.violations: list[str] = []
        self._validators: dict[str, Draft202012Validator] = {}
        self._routes = sorted(
            ((self._regex(p), p) for p in self.doc["paths"]),
            key=lambda item: item[1].count("{"),  # literal segments win over templates
        )

    @staticmethod
    def _regex(template: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{([^/}]+)\}", r"(?P<\1>[^/]+)", template) + "$")

    def match(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        template, operation, _ = self._match(method, path)
        return template, operation

    def _match(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        for regex, template in self._routes:
            found = regex.match(path)
            if found:
                operation = self.doc["paths"][template].get(method.lower())
                if operation is not None:
                    return template, operation, found.groupdict()
        raise ContractViolation(f"{method} {path}: no such operation in the OpenAPI document")

    def _check_path(self, method: str, template: str, operation: dict[str, Any], values: dict[str, str]) -> None:
        for index, param in enumerate(operation.get("parameters", [])):
            if param["in"] == "path" and param["name"] in values:
                pointer = f"/paths/{_escape(template)}/{method.lower()}/parameters/{index}/schema"
                self._check_param(pointer, values[param["name"]], f"{method} {template}: path {param['name']}")

    def _validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator(
                {"$ref": f"{BASE}#{pointer}"}, registry=self.registry, format_checker=FORMATS
            )
            self._validators[pointer] = validator
        return validator

    def _check(self, pointer: str, instance: Any, what: str) -> None:
        errors = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(map(str, first.path)) or "(root)"
            raise ContractViolation(f"{what}: at {where}: {first.message[:300]}")

    def validate_request(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        template, operation, path_values = self._match(method, path)
        what = f"{method} {template}"
        self._check_path(method, template, operation, path_values)
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        for name in query:
            if name not in declared:
                raise ContractViolation(f"{what}: query parameter {name!r} is not declared")
        for name, param in declared.items():
            if param.get("required") and name not in query:
                raise ContractViolation(f"{what}: required query parameter {name!r} is missing")
            index = [i for i, p in enumerate(operation["parameters"]) if p["name"] == name][0]
            pointer = f"/paths/{_escape(template)}/{method.lower()}/parameters/{index}/schema"
            values = query.get(name, [])
            if param.get("schema", {}).get("type") == "array":
                self._check(pointer, values, f"{what}: query {name}")
                continue
            for value in values:
                self._check_param(pointer, value, f"{what}: query {name}")
        declared_bodies = operation.get("requestBody", {}).get("content", {})
        if "multipart/form-data" in declared_bodies:
            return  # an upload: its parts are files, not JSON
        content = declared_bodies.get("application/json")
        if content is None:
            if body is not None:
                raise ContractViolation(f"{what}: takes no JSON body")
            return
        if body is None and operation["requestBody"].get("required"):
            raise ContractViolation(f"{what}: the JSON body is required")
        if body is not None:
            self._check(
                f"/paths/{_escape(template)}/{method.lower()}/requestBody/content/application~1json/schema", body, what
            )

    def _check_param(self, pointer: str, raw: str, what: str) -> None:
        candidates: list[Any] = [raw]
        if raw in ("true", "false"):
            candidates.insert(0, raw == "true")
        if re.fullmatch(r"-?\d+", raw):
            candidates.insert(0, int(raw))
        for value in candidates:
            if self._validator(pointer).is_valid(value):
                return
        raise ContractViolation(f"{what}: {raw!r} does not fit the declared schema")

    def record(self, kind: str, check: Callable[..., None], *args: Any, into: list[str] | None = None) -> None:
        try:
            check(*args)
        except ContractViolation as exc:
            (self.violations if into is None else into).append(f"{kind} {exc}")

    def validate_response(self, method: str, path: str, status: int, body: Any) -> None:
        template, operation = self.match(method, path)
        what = f"{method} {template} -> {status}"
        responses = operation.get("responses", {})
        declared = responses.get(str(status))
        if declared is None and status not in UNIVERSAL_ERRORS | ROUTE_ERRORS.get((method, template), frozenset()):
            raise ContractViolation(f"{what}: status neither declared nor documented for this route")
        if status >= 400:
            if not isinstance(body, dict) or not ({"detail"} <= set(body) or {"error"} <= set(body)):
                raise ContractViolation(f"{what}: error body is not {{'detail': …}} or {{'error': …}}: {body!r:.200}")
        if declared is None or "application/json" not in declared.get("content", {}):
            return
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{status}/content/application~1json/schema"
        self._check(pointer, body, what)


def _body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")


INJECTED = "x-fake-injected"  # set by the fake on answers a test injected: they break the contract on purpose


def contract_event_hooks(
    contract: OpenAPIContract, *, check_requests: bool = True, check_responses: bool = True
) -> dict[str, list[Any]]:
    """httpx hooks that check each exchange with the app or an agent server and record violations on
    the contract (raising inside a hook would surface as an oh-mcp bug rather than a contract failure)."""

    async def on_request(request: httpx2.Request) -> None:
        path = api_path(request.url.path)
        if check_requests and path is not None:
            await request.aread()  # an upload's multipart body is a stream until read
            query = _query(request.url.params.multi_items())
            contract.record("request", contract.validate_request, request.method, path, query, _body(request.content))

    async def on_response(response: httpx2.Response) -> None:
        request = response.request
        path = api_path(request.url.path)
        if not check_responses or path is None or INJECTED in response.headers:
            return
        await response.aread()
        body = _body(response.content)
        contract.record("response", contract.validate_response, request.method, path, response.status_code, body)

    return {"request": [on_request], "response": [on_response]}


def _query(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in items:
        query.setdefault(key, []).append(value)
    return query


@functools.cache
def shared_contract() -> OpenAPIContract:
    return OpenAPIContract()


def asgi_check(app: ASGIApp, contract: OpenAPIContract, enabled: Callable[[], bool], into: list[str]) -> ASGIApp:
    """Check every exchange the app serves, whoever the client is (a subprocess, a server built
    without hooks); violations go to `into`. `enabled()` is read per request."""

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        path = api_path(scope["path"]) if scope["type"] == "http" else None
        if path is None or not enabled():
            await app(scope, receive, send)
            return
        method = scope["method"]
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        query = _query(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        contract.record("request", contract.validate_request, method, path, query, _body(b"".join(chunks)), into=into)
        answer: dict[str, Any] = {"status": 0, "injected": False}
        sent: list[bytes] = []
        replayed = False

        async def replay() -> Message:
            # The body once; after it, the real channel: a streaming answer waits on it for the
            # client's disconnect, and a replay that always answered would spin the loop forever.
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["injected"] = any(k.decode().lower() == INJECTED for k, _ in message.get("headers", []))
            elif message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
            await send(message)

        await app(scope, replay, capture)
        if not answer["injected"]:
            body = _body(b"".join(sent))
            contract.record("response", contract.validate_response, method, path, answer["status"], body, into=into)

    return checked
