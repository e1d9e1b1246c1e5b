"""The fake's HTTP face: the /api/v1 routes oh-mcp uses, with the real server's status codes and
error shapes, plus a minimal agent server at /agent/{sandbox_id} that checks the sandbox key."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.openapi_contract import INJECTED, asgi_check, shared_contract

from . import workspace
from .state import FakeOpenHands, Injection, state_update

EVENT_KINDS = (
    "ServerErrorEvent ACPToolCallEvent Condensation CondensationRequest CondensationSummaryEvent "
    "ConversationErrorEvent ConversationStateUpdateEvent HookExecutionEvent LLMCompletionLogEvent ActionEvent "
    "MessageEvent AgentErrorEvent ObservationEvent UserRejectObservation SystemPromptEvent StreamingDeltaEvent "
    "TokenEvent InterruptEvent PauseEvent"
).split() + ["SecurityAnalysisEvent"]  # the union: agent server 1.58.2 writes it, 1.11.0's enum lacks it

Handler = Callable[[FakeOpenHands, Request], Awaitable[Response]]


class Invalid(Exception):
    """A FastAPI-style 422 validation error."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error", value: Any = None) -> None:
        super().__init__(msg)
        self.body = {"detail": [{"type": kind, "loc": loc, "msg": msg, "input": value}]}


def detail(status: int, text: str) -> JSONResponse:
    return JSONResponse({"detail": text}, status_code=status)


def success() -> JSONResponse:
    return JSONResponse({"success": True})


def limit_of(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(["query", "limit"], "Input should be a valid integer", "int_parsing", raw) from None
    if not 0 < value <= 100:
        raise Invalid(["query", "limit"], "Input should be greater than 0 and at most 100", "less_than_equal", raw)
    return value


def paginate(request: Request, items: list[Any]) -> dict[str, Any]:
    limit = limit_of(request)
    raw = request.query_params.get("page_id")
    start = int(raw) if raw and raw.isdigit() else 0
    page = items[start : start + limit]
    more = start + limit < len(items)
    return {"items": page, "next_page_id": str(start + limit) if more else None}


def ids_param(request: Request, name: str) -> list[str]:
    values = request.query_params.getlist(name)
    if not values:
        raise Invalid(["query", name], "Field required", "missing")
    return values


def parse_uuids(values: list[str]) -> list[str] | JSONResponse:
    bad = []
    for value in values:
        try:
            uuid.UUID(value)
        except ValueError:
            bad.append(value)
    return detail(400, f"Invalid UUID format for ids: {bad}") if bad else values


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Invalid(["body"], "JSON decode error", "json_invalid") from None
    if not isinstance(body, dict):
        raise Invalid(["body"], "Input should be a valid dictionary", "dict_type", body)
    return body


# ---- app conversations ---------------------------------------------------------------------------


async def search_conversations(fake: FakeOpenHands, request: Request) -> Response:
    q = request.query_params
    records = [fake.conversation(cid) for cid in list(fake.conversations)]
    found = [r for r in records if r is not None]
    if q.get("title__contains"):
        found = [r for r in found if r.title and q["title__contains"] in r.title]
    if q.get("sandbox_id__eq"):
        found = [r for r in found if r.sandbox_id == q["sandbox_id__eq"]]
    found.sort(key=lambda r: r.created_at, reverse=True)
    page = paginate(request, found)
    page["items"] = [fake.conversation_json(r) for r in page["items"]]
    return JSONResponse(page)


async def batch_conversations(fake: FakeOpenHands, request: Request) -> Response:
    ids = ids_param(request, "ids")
    if len(ids) >= 100:
        return detail(400, "Too many ids requested. Maximum is 99.")
    checked = parse_uuids(ids)
    if isinstance(checked, JSONResponse):
        return checked
    records = [fake.conversation(i) for i in checked]
    return JSONResponse([fake.conversation_json(r) if r else None for r in records])


async def start_conversation(fake: FakeOpenHands, request: Request) -> Response:
    body = await json_body(request)
    message = body.get("initial_message")
    if message is not None and not isinstance(message, dict):
        raise Invalid(["body", "initial_message"], "Input should be a valid dictionary", "model_type", message)
    task = fake.create_task(body)
    return JSONResponse(fake.task_json(task))


async def patch_conversation(fake: FakeOpenHands, request: Request) -> Response:
    rec = fake.conversation(request.path_params["cid"])
    if rec is None:
        return detail(404, "unknown_app_conversation")
    body = await json_body(request)
    if "title" in body:
        rec.title = body["title"]
        if rec.title_stale is not None and fake.stale_title_write_seconds is not None:
            # Timed from the rename, so the stale write lands after it however slow the machine: timed
            # from the start, on a loaded machine it landed before the rename, where it is no stale
            # write at all, and the test of it waited for a second rename that never came.
            rec.title_revert = (time.monotonic() + fake.stale_title_write_seconds, rec.title_stale)
            rec.title_stale = None
    return JSONResponse(fake.conversation_json(rec))


async def delete_conversation(fake: FakeOpenHands, request: Request) -> Response:
    cid = request.path_params["cid"]
    if isinstance(parse_uuids([cid]), JSONResponse):
        return detail(400, f"Invalid UUID: {cid}")
    rec = fake.conversation(cid)
    if rec is None:
        return detail(404, "Conversation not found")
    del fake.conversations[rec.id]
    if not any(c.sandbox_id == rec.sandbox_id for c in fake.conversations.values()):
        fake.delete_sandbox(rec.sandbox_id)
    return success()


async def send_message(fake: FakeOpenHands, request: Request) -> Response:
    rec = fake.conversation(request.path_params["cid"])
    if rec is None:
        return detail(404, "Conversation not found")
    body = await json_body(request)
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise Invalid(["body", "content"], "List should have at least 1 item after validation", "too_short", content)
    status = fake.sandbox_status(rec.sandbox_id)
    if status == "MISSING":
        return detail(410, "Conversation is archived and its sandbox no longer exists.")
    if status == "ERROR":
        return detail(503, "Sandbox is in ERROR state.")
    if status != "RUNNING":
        return detail(
            409, f"Sandbox is {status}. Use POST /api/v1/sandboxes/{rec.sandbox_id}/resume to resume it first."
        )
    text = " ".join(c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text")
    run = bool(body.get("run", True))
    if run and fake.at_run_capacity(rec):  # agent server 1.58.2: saved first, then refused to run
        fake.deliver(rec, text, False)
        return detail(429, CAPACITY_FULL)
    fake.deliver(rec, text, run)
    return JSONResponse({"success": True, "sandbox_status": "RUNNING", "message": None})


CAPACITY_FULL = "Server conversation run capacity is full"


async def batch_tasks(fake: FakeOpenHands, request: Request) -> Response:
    ids = ids_param(request, "ids")
    if len(ids) > 100:
        return detail(400, "Too many ids requested. Maximum is 100.")
    checked = parse_uuids(ids)
    if isinstance(checked, JSONResponse):
        return checked
    tasks = [fake.tasks.get(uuid.UUID(i).hex) for i in checked]
    return JSONResponse([fake.task_json(t) if t else None for t in tasks])


async def search_tasks(fake: FakeOpenHands, request: Request) -> Response:
    tasks = sorted(fake.tasks.values(), key=lambda t: t.created, reverse=True)
    since = request.query_params.get("created_at__gte")
    if since is not None:
        floor = datetime.fromisoformat(since)
        tasks = [t for t in tasks if datetime.fromisoformat(t.created_at) >= floor]
    page = paginate(request, tasks)
    page["items"] = [fake.task_json(t) for t in page["items"]]
    return JSONResponse(page)


# ---- events ----------------------------------------------------------------------------------------


async def search_events(fake: FakeOpenHands, request: Request) -> Response:
    q = request.query_params
    kind = q.get("kind__eq")
    if kind is not None and kind not in EVENT_KINDS:
        raise Invalid(["query", "kind__eq"], f"Input should be {', '.join(map(repr, EVENT_KINDS))}", "enum", kind)
    order = q.get("sort_order", "TIMESTAMP")
    if order not in ("TIMESTAMP", "TIMESTAMP_DESC"):
        raise Invalid(["query", "sort_order"], "Input should be 'TIMESTAMP' or 'TIMESTAMP_DESC'", "enum", order)
    rec = fake.conversation(request.path_params["cid"])
    # Like 1.11.0's webhook batches: the action an agent waits on reaches the app server's store later.
    held = {a["id"] for a in rec.waiting} if rec else set()
    events = [e for e in fake.stored_events(rec) if e["id"] not in held] if rec else []
    if kind:
        events = [e for e in events if e["kind"] == kind]
    if order == "TIMESTAMP_DESC":
        events.reverse()
    return JSONResponse(paginate(request, events))


async def count_events(fake: FakeOpenHands, request: Request) -> Response:
    rec = fake.conversation(request.path_params["cid"])
    return JSONResponse(len(fake.stored_events(rec)) if rec else 0)


# ---- sandboxes and specs -----------------------------------------------------------------------------


async def search_sandboxes(fake: FakeOpenHands, request: Request) -> Response:
    ids = list(reversed(fake.sandboxes))
    page = paginate(request, ids)
    page["items"] = [fake.sandbox_json(i) for i in page["items"]]
    return JSONResponse(page)


async def batch_sandboxes(fake: FakeOpenHands, request: Request) -> Response:
    ids = ids_param(request, "id")
    if len(ids) > 100:
        return detail(400, "Too many ids requested. Maximum is 100.")
    return JSONResponse([fake.sandbox_json(i) for i in ids])


async def create_sandbox(fake: FakeOpenHands, request: Request) -> Response:
    spec = request.query_params.get("sandbox_spec_id")
    if spec is not None and spec not in {s["id"] for s in fake.specs}:
        return detail(500, "Agent Server Failed to start properly")
    made = fake.add_sandbox(status="STARTING", spec_id=spec)
    return JSONResponse(made)


async def pause_sandbox(fake: FakeOpenHands, request: Request) -> Response:
    return success() if fake.pause(request.path_params["sid"]) else detail(404, "Not Found")


async def resume_sandbox(fake: FakeOpenHands, request: Request) -> Response:
    return success() if fake.resume(request.path_params["sid"]) else detail(404, "Not Found")


async def delete_sandbox(fake: FakeOpenHands, request: Request) -> Response:
    # 1.11.0 reads the id from a required query parameter and ignores the path segment.
    sid = request.query_params.get("sandbox_id")
    if sid is None:
        raise Invalid(["query", "sandbox_id"], "Field required", "missing")
    return success() if fake.delete_sandbox(sid) else detail(404, "Not Found")


async def search_specs(fake: FakeOpenHands, request: Request) -> Response:
    return JSONResponse(paginate(request, fake.specs))


async def batch_specs(fake: FakeOpenHands, request: Request) -> Response:
    by_id = {s["id"]: s for s in fake.specs}
    return JSONResponse([by_id.get(i) for i in ids_param(request, "id")])


# ---- root and agent server -------------------------------------------------------------------------


async def server_info(fake: FakeOpenHands, request: Request) -> Response:
    """Shaped like 1.11.0's: uptime and resource figures, and no version."""
    resources = {"cpu_percent": 0.0, "memory": {"rss": 1, "vms": 1, "percent": 0.1}}
    return JSONResponse({"uptime": 1.0, "idle_time": 1.0, "resources": resources})


async def openapi_document(fake: FakeOpenHands, request: Request) -> Response:
    """The head of the real document: its `info` is the only place 1.11.0 gives its version."""
    info = {"title": "OpenHands", "description": "OpenHands: Code Less, Make More", "version": fake.version}
    return JSONResponse({"openapi": "3.1.0", "info": info, "paths": {}})


async def health(fake: FakeOpenHands, request: Request) -> Response:
    return JSONResponse("OK")


async def stats(fake: FakeOpenHands, request: Request) -> Response:
    """Not OpenHands: counters for benchmarks run against a fake in another process."""
    return JSONResponse({"requests": len(fake.requests), "connections": len(fake.peers)})


async def alive(fake: FakeOpenHands, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def agent_guard(fake: FakeOpenHands, request: Request) -> tuple[Any, Response | None]:
    sid = request.path_params["sid"]
    _, error = sandbox_guard(fake, request)
    if error:
        return None, error
    rec = fake.conversation(request.path_params["cid"])
    if rec is None or rec.sandbox_id != sid:
        return None, detail(404, "Conversation not found")
    return rec, None


async def agent_final_response(fake: FakeOpenHands, request: Request) -> Response:
    rec, error = agent_guard(fake, request)
    return error or JSONResponse({"response": rec.final or ""})


async def agent_update_conversation(fake: FakeOpenHands, request: Request) -> Response:
    """The agent server's PATCH: its UpdateConversationRequest takes a title of 1 to 200 characters."""
    rec, error = agent_guard(fake, request)
    if error:
        return error
    title = (await json_body(request)).get("title")
    if title is not None and not (isinstance(title, str) and 1 <= len(title) <= 200):
        raise Invalid(["body", "title"], "String should have at most 200 characters", "string_too_long", title)
    if title is not None:
        rec.agent_title = title.strip()
    return success()


# ---- agent server: steering ---------------------------------------------------------------------------

POLICY_KINDS = ("NeverConfirm", "AlwaysConfirm", "ConfirmRisky")


async def agent_interrupt(fake: FakeOpenHands, request: Request) -> Response:
    rec, error = agent_guard(fake, request)
    if error:
        return error
    fake.interrupt(rec)
    return success()


async def agent_run(fake: FakeOpenHands, request: Request) -> Response:
    rec, error = agent_guard(fake, request)
    if error:
        return error
    if fake.at_run_capacity(rec):
        return detail(429, CAPACITY_FULL)
    if rec.execution_status == "running":
        return detail(409, "Conversation already running")
    fake.run_saved(rec)
    return success()


async def agent_confirmation_policy(fake: FakeOpenHands, request: Request) -> Response:
    rec, error = agent_guard(fake, request)
    if error:
        return error
    policy = (await json_body(request)).get("policy")
    kind = policy.get("kind") if isinstance(policy, dict) else None
    if kind not in POLICY_KINDS:
        raise Invalid(
            ["body", "policy"], "Unable to extract tag using discriminator 'kind'", "union_tag_invalid", policy
        )
    rec.policy = kind
    # Like the SDK's state, whose every change is an event: where the policy set shows afterwards.
    rec.events.append(state_update("confirmation_policy", policy))
    return success()


async def agent_respond(fake: FakeOpenHands, request: Request) -> Response:
    rec, error = agent_guard(fake, request)
    if error:
        return error
    body = await json_body(request)
    if not isinstance(body.get("accept"), bool):
        raise Invalid(["body", "accept"], "Field required", "missing")
    fake.respond(rec, body["accept"], str(body.get("reason", "User rejected the action.")))
    return success()


async def agent_ask(fake: FakeOpenHands, request: Request) -> Response:
    """Answers at once, or, during a running step, once the step ends (the run holds the conversation's lock)."""
    rec, error = agent_guard(fake, request)
    if error:
        return error
    question = (await json_body(request)).get("question")
    if not isinstance(question, str):
        raise Invalid(["body", "question"], "Field required", "missing")
    # The fake computes a step's end from timestamps when read, so no event fires: poll.
    while fake.conversation(rec.id) is not None and rec.execution_status == "running":  # noqa: ASYNC110
        await anyio.sleep(0.02)
    fake.questions.append(question)
    return JSONResponse({"response": f"Fake agent: about {question!r}, all is well."})


def _agent_events(fake: FakeOpenHands, request: Request) -> tuple[list[dict[str, Any]], Response | None]:
    rec, error = agent_guard(fake, request)
    if error:
        return [], error
    # The agent server matches an event's full class name, e.g. openhands.sdk.event.….ActionEvent.
    query = request.query_params
    kind, source = query.get("kind"), query.get("source")
    # Like the agent server: a timestamp filter is parsed, made naive local time, and compared with
    # each event's (naive local) timestamp as ISO text.
    since, before = (_server_time(query.get(name)) for name in ("timestamp__gte", "timestamp__lt"))
    return [
        e
        for e in rec.events
        if (kind is None or ("." in kind and kind.rsplit(".", 1)[1] == e["kind"]))
        and (source is None or e.get("source") == source)
        and (since is None or e["timestamp"] >= since)
        and (before is None or e["timestamp"] < before)
    ], None


def _server_time(value: str | None) -> str | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return (parsed.astimezone(None).replace(tzinfo=None) if parsed.tzinfo else parsed).isoformat()


async def agent_search_events(fake: FakeOpenHands, request: Request) -> Response:
    events, error = _agent_events(fake, request)
    if error:
        return error
    if request.query_params.get("sort_order", "TIMESTAMP") == "TIMESTAMP_DESC":
        events.reverse()
    return JSONResponse(paginate(request, events))


async def agent_count_events(fake: FakeOpenHands, request: Request) -> Response:
    events, error = _agent_events(fake, request)
    return error or JSONResponse(len(events))


# ---- workspace: git, files and commands -------------------------------------------------------------


def workspace_guard(fake: FakeOpenHands, request: Request) -> tuple[Any, Response | None]:
    """Like 1.11.0's `_proxy_git_runtime_call`: 404 unless the sandbox runs, 409 while it is paused."""
    cid = request.path_params["cid"]
    rec = fake.conversation(cid)
    status = fake.sandbox_status(rec.sandbox_id) if rec else "MISSING"
    if rec is not None and status == "PAUSED":
        return None, detail(409, "Sandbox is paused; resume it before reading git state.")
    if rec is None or status != "RUNNING":
        return None, detail(404, f"Conversation {uuid.UUID(cid)} is not reachable")
    return rec, None


def git_failed(exc: workspace.GitFailed) -> Response:
    # The agent server answers 400; the app server passes on only its status.
    return detail(502, "Agent server error: 400")


def required_query(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None:
        raise Invalid(["query", name], "Field required", "missing")
    return value


async def git_changes(fake: FakeOpenHands, request: Request) -> Response:
    return _git_route(fake, request, workspace.git_changes)


async def git_diff(fake: FakeOpenHands, request: Request) -> Response:
    return _git_route(fake, request, workspace.git_diff)


def _git_route(fake: FakeOpenHands, request: Request, answer: Callable[[Path, str | None], Any]) -> Response:
    rec, error = workspace_guard(fake, request)
    if error:
        return error
    fake.workspace(rec.sandbox_id)
    try:
        return JSONResponse(answer(Path(required_query(request, "path")), request.query_params.get("ref")))
    except workspace.GitFailed as exc:
        return git_failed(exc)


async def conversation_file(fake: FakeOpenHands, request: Request) -> Response:
    """1.11.0 answers "" for a missing file, a directory, a relative path and a paused sandbox alike."""
    rec = fake.conversation(request.path_params["cid"])
    path = Path(request.query_params.get("file_path", "/workspace/project/PLAN.md"))
    if rec is None or fake.sandbox_status(rec.sandbox_id) != "RUNNING":
        return JSONResponse("")
    fake.workspace(rec.sandbox_id)
    return JSONResponse(workspace.text_or_empty(path))


def sandbox_guard(fake: FakeOpenHands, request: Request) -> tuple[Path | None, Response | None]:
    """The agent server's own check: it runs (503 otherwise) and the sandbox key matches (401)."""
    sid = request.path_params["sid"]
    sandbox = fake.sandboxes.get(sid)
    if sandbox is None or fake.sandbox_status(sid) != "RUNNING":
        return None, detail(503, "Agent server is not running")
    if fake.agent_server_rejects_keys or request.headers.get("x-session-api-key") != sandbox.key:
        return None, detail(401, "Unauthorized")
    return fake.workspace(sid), None


async def agent_download(fake: FakeOpenHands, request: Request) -> Response:
    root, error = sandbox_guard(fake, request)
    if error:
        return error
    status, content = workspace.download(Path(required_query(request, "path")))
    if isinstance(content, str):
        return detail(status, content)
    return Response(content, media_type="application/octet-stream")


async def agent_upload(fake: FakeOpenHands, request: Request) -> Response:
    root, error = sandbox_guard(fake, request)
    if error:
        return error
    async with request.form() as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid(["body", "file"], "Field required", "missing")
        content = await upload.read()
    status, problem = workspace.upload(Path(required_query(request, "path")), content)
    fake.uploads.append(required_query(request, "path"))
    # The union of both agent servers' answers: 1.34.0's Success, 1.58.2's FileUploadResult.
    return detail(status, problem) if problem else JSONResponse({"success": True, "file_size": len(content)})


async def agent_archive(fake: FakeOpenHands, request: Request) -> Response:
    root, error = sandbox_guard(fake, request)
    if error:
        return error
    if request.query_params.get("format", "git-delta") != "git-delta":
        return detail(400, "the fake makes git-delta archives only")
    if fake.served_patch == "endless":
        return StreamingResponse(_endless(), media_type="text/x-patch")
    if isinstance(fake.served_patch, bytes):
        return Response(fake.served_patch, media_type="text/x-patch")
    status, content = workspace.git_delta(Path(required_query(request, "path")), request.query_params.get("base_ref"))
    if isinstance(content, str):
        return detail(status, content)
    return Response(content, media_type="text/x-patch")


async def _endless() -> AsyncIterator[bytes]:
    chunk = b"+" + b"x" * 65_535
    while True:
        yield chunk
        await anyio.lowlevel.checkpoint()


async def agent_execute(fake: FakeOpenHands, request: Request) -> Response:
    root, error = sandbox_guard(fake, request)
    if error:
        return error
    assert root is not None
    body = await json_body(request)
    if not isinstance(body.get("command"), str):
        raise Invalid(["body", "command"], "Field required", "missing")
    fake.commands.append(body["command"])
    return JSONResponse(workspace.execute(root, body["command"], body.get("cwd"), float(body.get("timeout", 300))))


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v1/app-conversations/search", search_conversations),
    ("GET", "/api/v1/app-conversations/start-tasks/search", search_tasks),
    ("GET", "/api/v1/app-conversations/start-tasks", batch_tasks),
    ("GET", "/api/v1/app-conversations", batch_conversations),
    ("POST", "/api/v1/app-conversations", start_conversation),
    ("PATCH", "/api/v1/app-conversations/{cid}", patch_conversation),
    ("DELETE", "/api/v1/app-conversations/{cid}", delete_conversation),
    ("POST", "/api/v1/app-conversations/{cid}/send-message", send_message),
    ("GET", "/api/v1/app-conversations/{cid}/git/changes", git_changes),
    ("GET", "/api/v1/app-conversations/{cid}/git/diff", git_diff),
    ("GET", "/api/v1/app-conversations/{cid}/file", conversation_file),
    ("GET", "/api/v1/conversation/{cid}/events/search", search_events),
    ("GET", "/api/v1/conversation/{cid}/events/count", count_events),
    ("GET", "/api/v1/sandboxes/search", search_sandboxes),
    ("GET", "/api/v1/sandboxes", batch_sandboxes),
    ("POST", "/api/v1/sandboxes", create_sandbox),
    ("POST", "/api/v1/sandboxes/{sid}/pause", pause_sandbox),
    ("POST", "/api/v1/sandboxes/{sid}/resume", resume_sandbox),
    ("DELETE", "/api/v1/sandboxes/{sid}", delete_sandbox),
    ("GET", "/api/v1/sandbox-specs/search", search_specs),
    ("GET", "/api/v1/sandbox-specs", batch_specs),
    ("GET", "/server_info", server_info),
    ("GET", "/alive", alive),
    ("GET", "/_fake/stats", stats),
    ("GET", "/health", health),
    ("GET", "/openapi.json", openapi_document),
    ("PATCH", "/agent/{sid}/api/conversations/{cid}", agent_update_conversation),
    ("GET", "/agent/{sid}/api/conversations/{cid}/agent_final_response", agent_final_response),
    ("GET", "/agent/{sid}/api/file/download", agent_download),
    ("POST", "/agent/{sid}/api/bash/execute_bash_command", agent_execute),
    ("POST", "/agent/{sid}/api/file/upload", agent_upload),
    ("GET", "/agent/{sid}/api/file/archive", agent_archive),
    ("POST", "/agent/{sid}/api/conversations/{cid}/interrupt", agent_interrupt),
    ("POST", "/agent/{sid}/api/conversations/{cid}/run", agent_run),
    ("POST", "/agent/{sid}/api/conversations/{cid}/confirmation_policy", agent_confirmation_policy),
    ("POST", "/agent/{sid}/api/conversations/{cid}/events/respond_to_confirmation", agent_respond),
    ("POST", "/agent/{sid}/api/conversations/{cid}/ask_agent", agent_ask),
    ("GET", "/agent/{sid}/api/conversations/{cid}/events/search", agent_search_events),
    ("GET", "/agent/{sid}/api/conversations/{cid}/events/count", agent_count_events),
]


def _endpoint(fake: FakeOpenHands, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            with fake.lock:
                return await handler(fake, request)
        except Invalid as exc:
            return JSONResponse(exc.body, status_code=422)

    return endpoint


_SANDBOX_START = re.compile(r"^/api/v1/sandboxes(/[^/]+/resume)?$")


class Faults:
    """Outermost layer: records each request, checks SESSION_API_KEY, applies injected faults."""

    def __init__(self, app: ASGIApp, fake: FakeOpenHands) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.fake.requests.append((method, path, scope.get("query_string", b"").decode()))
        if scope.get("client"):
            self.fake.peers.add(tuple(scope["client"]))
        injection = self.fake.take_injection(method, path)
        if injection is not None and injection.mode == "late":
            await self.app(scope, receive, _delayed(send, injection.delay))
            return
        if injection is not None:
            await anyio.sleep(injection.delay)
            if injection.status is not None:
                await _inject(injection, scope, receive, send)
                return
        if method == "POST" and _SANDBOX_START.match(path):
            # Outside the handler and its lock: a start holds only its own answer.
            await anyio.sleep(self.fake.sandbox_start_blocks_seconds)
        if path.startswith("/api/v1/"):
            key = user_key(self.fake, dict(scope["headers"]))
            self.fake.keys_seen.append((path, scope.get("query_string", b"").decode(), key))
            accepted = self.fake.user_keys | ({self.fake.session_api_key} if self.fake.session_api_key else set())
            if accepted and key not in accepted:
                await detail(401, "Unauthorized")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def user_key(fake: FakeOpenHands, headers: dict[bytes, bytes]) -> str | None:
    """The key as the server reads it: from the first of fake.key_headers the request carries."""
    for name in fake.key_headers:
        value = headers.get(name.encode(), b"").decode()
        if name == "authorization":
            value = value.removeprefix("Bearer ") if value.startswith("Bearer ") else ""
        if value:
            return value
    return None


def _delayed(send: Send, delay: float) -> Send:
    """The request is handled at once; only its answer is late (a write whose outcome is unknown)."""

    async def late_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            await anyio.sleep(delay)
        await send(message)

    return late_send


_INJECTED = {INJECTED: "1"}


class DroppedConnection(Exception):
    """Raised mid-response so the server drops the connection, as a crashing upstream would."""


async def _inject(injection: Injection, scope: Scope, receive: Receive, send: Send) -> None:
    if injection.mode in ("truncate", "reset"):
        # truncate: half a body, then the connection drops; reset: it drops right after the headers.
        payload = b'{"items": [{"id": "half' if injection.mode == "truncate" else b""
        headers = [(b"content-type", b"application/json"), (b"content-length", b"200"), (INJECTED.encode(), b"1")]
        await send({"type": "http.response.start", "status": injection.status or 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload, "more_body": True})
        raise DroppedConnection(injection.mode)
    if injection.mode == "raw":
        raw = injection.body if isinstance(injection.body, bytes) else str(injection.body or "").encode()
        content_type = injection.headers.get("content-type", "text/html")
        response = Response(raw, status_code=injection.status or 200, media_type=content_type, headers=_INJECTED)
    else:
        body = injection.body if injection.body is not None else {"detail": "injected failure"}
        response = JSONResponse(body, status_code=injection.status or 200, headers=injection.headers | _INJECTED)
    await response(scope, receive, send)


def create_app(fake: FakeOpenHands) -> ASGIApp:
    routes = [Route(path, _endpoint(fake, handler), methods=[method]) for method, path, handler in ROUTES]
    inner = Starlette(routes=routes)
    # Outermost, so it sees what clients send and get, whoever they are (a subprocess included).
    return asgi_check(Faults(inner, fake), shared_contract(), lambda: fake.check_contract, fake.contract_violations)
