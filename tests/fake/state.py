"""The fake's state: sandboxes, specs, conversations, start tasks and events, in memory.

Timed transitions (start task steps, a sandbox starting, an agent running) are computed from
monotonic timestamps whenever a record is read, so the fake needs no background tasks and
behaves the same whichever thread serves it. Tests steer it through the public attributes and
methods below.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import string
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import workspace

DEFAULT_SPEC = "ghcr.io/openhands/agent-server:1.34.0-python"
START_STEPS = ("WORKING", "WAITING_FOR_SANDBOX", "STARTING_CONVERSATION", "READY")
_B62 = string.ascii_letters + string.digits


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def local_iso() -> str:
    # Agent-server events carry naive local timestamps (no Z).
    return datetime.now().isoformat()


def new_sandbox_id() -> str:
    return "".join(secrets.choice(_B62) for _ in range(22))


@dataclass
class Injection:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    body: Any
    times: int
    delay: float
    headers: dict[str, str]
    mode: str = "status"  # status | raw (body is bytes/str, as is) | truncate | reset | late


@dataclass
class SandboxRec:
    id: str
    spec_id: str
    status: str
    key: str
    created_at: str
    ready_at: float = 0.0
    stuck: bool = False
    ends_in: str = "RUNNING"  # what a start or resume ends in: RUNNING, ERROR, or MISSING (its runtime gone)


@dataclass
class ConversationRec:
    id: str
    sandbox_id: str
    title: str | None
    repository: str | None = None
    branch: str | None = None
    git_provider: str | None = None
    llm_model: str | None = "openai/fake-model"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    execution_status: str = "idle"
    running_until: float | None = None
    runs_at: float | None = None  # a delivered message's run begins then (see pickup_seconds)
    running_actions: list[dict[str, Any]] = field(default_factory=list)  # observations still to come
    pending: str | None = None
    final: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    agent_title: str | None = None  # the agent server's own title, which auto-title copies over `title`
    title_copy_at: float | None = None
    title_revert: tuple[float, str | None] | None = None  # (when, title read before) of a stale write
    title_stale: str | None = None  # the title a start read, which a stale write puts back after a rename
    # Confirmation mode, as the agent server keeps it: the policy's kind, the actions waiting for an
    # answer (ActionEvents with no observation yet), and how many of the message's RUN commands ran.
    policy: str = "NeverConfirm"
    waiting: list[dict[str, Any]] = field(default_factory=list)
    runs_done: int = 0
    # An agent that chooses this action instead of the scripted one (e.g. an MCP tool call): (tool, action).
    next_action: tuple[str, dict[str, Any]] | None = None


@dataclass
class StartTaskRec:
    id: str
    request: dict[str, Any]
    created: float
    step_seconds: float
    created_at: str
    fail_detail: str | None = None
    sandbox_id: str | None = None
    conversation_id: str | None = None
    updated_at: str = field(default_factory=now_iso)


class FakeOpenHands:
    """All the fake's state, and the knobs tests turn."""

    def __init__(self) -> None:
        self.base_url = ""
        self.version = "1.11.0"
        self.session_api_key: str | None = None
        # Extra accepted keys (per-user keys in hosted mode); every /api/v1 call's key is recorded.
        self.user_keys: set[str] = set()
        self.keys_seen: list[tuple[str, str, str | None]] = []
        self.peers: set[tuple[str, int]] = set()  # client (host, port) pairs: one per upstream connection
        # Which headers carry the user's key, first found wins: a local server reads X-Session-API-Key,
        # Cloud reads the Bearer header first. Tests that claim a header is sent set this to it alone.
        self.key_headers: tuple[str, ...] = ("x-session-api-key",)
        # OpenHands reports agent servers as it sees them; False reports an address oh-mcp cannot
        # reach (another loopback address, where nothing listens), as from another container.
        self.agent_server_reachable = True
        self.agent_server_rejects_keys = False  # the agent server answers 401 to every session key
        # Like the app server's webhook, which stores events in batches: each event shows in the app
        # server's event search only this long after it happened (the agent server has it at once).
        self.event_lag_seconds = 0.0
        # How long POST /sandboxes and /resume hold their answer, as a Docker sandbox start does
        # (about 13 s, up to 30 s, against oh-mcp's default 30 s request timeout).
        self.sandbox_start_blocks_seconds = 0.0
        self.start_task_step_seconds = 0.05
        self.start_sandbox_seconds = 0.05
        self.resume_seconds = 0.05
        self.agent_run_seconds = 0.05
        # How long a run=true message leaves the agent in its previous status before it runs, as the
        # agent server's background run does for a moment.
        self.pickup_seconds = 0.0
        # How long an accepted action runs before its observation is recorded: until then it shows in
        # the events as an action with no observation, as on a real agent server.
        self.action_seconds = 0.0
        # Like 1.11.0's SetTitleCallbackProcessor: this long after the first message, the app's title
        # is overwritten with the agent server's (auto-generated unless set). None: no auto-title.
        self.auto_title_seconds: float | None = None
        # Like 1.11.0's conversation webhook, which saves back a record it read earlier: this long
        # after a start is READY, the title it had then is written again. None: no such write.
        self.stale_title_write_seconds: float | None = None
        self.sandboxes: dict[str, SandboxRec] = {}
        self.conversations: dict[str, ConversationRec] = {}
        self.tasks: dict[str, StartTaskRec] = {}
        self.specs: list[dict[str, Any]] = [
            {
                "id": DEFAULT_SPEC,
                "command": ["python", "-m", "openhands.agent_server"],
                "created_at": now_iso(),
                "initial_env": {"TMUX_TMPDIR": "/tmp/openhands-tmux", "OH_ENABLE_VS_CODE": "0"},
                "working_dir": ".",
            }
        ]
        self.deliveries: list[dict[str, Any]] = []
        # Every exchange is checked against the real server's documents (tests.openapi_contract);
        # tests that send bad requests on purpose turn this off.
        self.check_contract = True
        self.contract_violations: list[str] = []
        self._arrivals: dict[str, float] = {}  # event id -> when the app server has it
        self.commands: list[str] = []  # every shell command run through the agent servers
        self.uploads: list[str] = []  # every path written through the agent servers' upload route
        # What the agent servers' git-delta archive serves instead of the real delta: a hostile
        # sandbox's patch (bytes), or an answer that never ends ("endless").
        self.served_patch: bytes | str | None = None
        self.run_capacity: int | None = None  # agent server 1.58.2's limit of running conversations
        self.questions: list[str] = []  # every side question asked through ask_agent
        self.requests: list[tuple[str, str, str]] = []
        self.started_requests: list[dict[str, Any]] = []
        self._injections: list[Injection] = []
        self._next_start_failure: str | None = None
        self._stuck: set[str] = set()
        self.lock = threading.RLock()
        self._workspaces: Path | None = None  # made on first use, so most fakes leave no directory behind

    # ---- knobs for tests ---------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        body: Any = None,
        *,
        times: int = 1,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        mode: str = "status",
    ) -> None:
        """The next `times` requests matching method and path fail with `status` (or only wait `delay`).

        mode "raw" sends `body` as it is (a non-JSON page, a wrong content type); "truncate" sends
        half a body shorter than its Content-Length; "reset" drops the connection mid-response;
        "late" handles the request at once and holds only the answer for `delay`.
        """
        self._injections.append(
            Injection(method.upper(), re.compile(path_regex), status, body, times, delay, headers or {}, mode)
        )

    def clear_injections(self) -> None:
        self._injections.clear()

    def take_injection(self, method: str, path: str) -> Injection | None:
        with self.lock:
            for injection in self._injections:
                if injection.method in (method, "*") and injection.pattern.search(path) and injection.times > 0:
                    injection.times -= 1
                    return injection
        return None

    def fail_next_start(self, detail: str = "Sandbox not found") -> None:
        self._next_start_failure = detail

    def sandbox_stuck_starting(self, sandbox_id: str) -> None:
        self._stuck.add(sandbox_id)
        if sandbox_id in self.sandboxes:
            self.sandboxes[sandbox_id].stuck = True

    def set_sandbox_status(self, sandbox_id: str, status: str) -> None:
        self.sandboxes[sandbox_id].status = status
        if status == "STARTING":
            self.sandboxes[sandbox_id].ready_at = time.monotonic() + self.start_sandbox_seconds

    def sandbox_start_ends_in(self, sandbox_id: str, status: str) -> None:
        """The sandbox's next start or resume ends in `status` (ERROR, or MISSING: its runtime is gone)."""
        self.sandboxes[sandbox_id].ends_in = status

    def agent_base(self) -> str:
        if self.agent_server_reachable:
            return self.base_url
        return self.base_url.replace("127.0.0.1", "127.0.0.9")

    def stored_events(self, rec: ConversationRec) -> list[dict[str, Any]]:
        """The events the app server has received so far (see event_lag_seconds)."""
        now = time.monotonic()
        return [e for e in rec.events if self._arrivals.get(e["id"], 0.0) <= now]

    def add_events(self, rec: ConversationRec, *events: dict[str, Any]) -> None:
        arrival = time.monotonic() + self.event_lag_seconds
        for event in events:
            self._arrivals[event["id"]] = arrival
        rec.events.extend(events)

    def sandbox_key(self, sandbox_id: str) -> str:
        return self.sandboxes[sandbox_id].key

    def workspace(self, sandbox_id: str) -> Path:
        """The sandbox's workspace root: a real directory, made (git init, agent-server log) on first use."""
        if self._workspaces is None:
            self._workspaces = Path(tempfile.mkdtemp(prefix="oh-mcp-fake-"))
            weakref.finalize(self, shutil.rmtree, self._workspaces, True)
        root = self._workspaces / sandbox_id
        return root if root.exists() else workspace.create(root)

    def shell(self, sandbox_id: str, script: str) -> str:
        """Act as the agent: run `script` with sh in the workspace root; returns stdout, fails loudly."""
        root = self.workspace(sandbox_id)
        done = subprocess.run(script, shell=True, cwd=root, capture_output=True, text=True, env=workspace.git_env(root))
        assert done.returncode == 0, done.stderr
        return done.stdout

    def events_of(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.conversation(conversation_id).events if self.conversation(conversation_id) else []  # type: ignore[union-attr]

    # ---- sandboxes ---------------------------------------------------------------------------

    def add_sandbox(
        self, status: str = "RUNNING", spec_id: str | None = None, sandbox_id: str | None = None
    ) -> dict[str, Any]:
        with self.lock:
            sid = sandbox_id or new_sandbox_id()
            rec = SandboxRec(sid, spec_id or DEFAULT_SPEC, status, "sk-sbx-" + secrets.token_hex(12), now_iso())
            rec.stuck = sid in self._stuck
            if status == "STARTING":
                rec.ready_at = time.monotonic() + self.start_sandbox_seconds
            self.sandboxes[sid] = rec
            return self.sandbox_json(sid)  # type: ignore[return-value]

    def sandbox_status(self, sid: str) -> str:
        rec = self.sandboxes.get(sid)
        if rec is None:
            return "MISSING"
        if rec.status == "STARTING" and not rec.stuck and time.monotonic() >= rec.ready_at:
            rec.status = rec.ends_in
        return rec.status

    def sandbox_json(self, sid: str) -> dict[str, Any] | None:
        rec = self.sandboxes.get(sid)
        if rec is None:
            return None
        running = self.sandbox_status(sid) == "RUNNING"
        return {
            "id": rec.id,
            "created_by_user_id": None,
            "sandbox_spec_id": rec.spec_id,
            "status": rec.status,
            "session_api_key": rec.key if running else None,
            "exposed_urls": self._exposed_urls(rec) if running else None,
            "created_at": rec.created_at,
        }

    def _exposed_urls(self, rec: SandboxRec) -> list[dict[str, Any]]:
        port = int(self.base_url.rsplit(":", 1)[-1]) if self.base_url else 0
        return [
            {"name": "AGENT_SERVER", "url": f"{self.base_url}/agent/{rec.id}", "port": port},
            {"name": "VSCODE", "url": f"{self.base_url}/vscode/{rec.id}?tkn={rec.key}", "port": port},
        ]

    def pause(self, sid: str) -> bool:
        if sid not in self.sandboxes:
            return False
        self.sandboxes[sid].status = "PAUSED"
        return True

    def resume(self, sid: str) -> bool:
        rec = self.sandboxes.get(sid)
        if rec is None:
            return False
        if rec.status != "RUNNING":
            rec.status = "STARTING"
            rec.ready_at = time.monotonic() + self.resume_seconds
        return True

    def delete_sandbox(self, sid: str) -> bool:
        return self.sandboxes.pop(sid, None) is not None

    # ---- conversations -----------------------------------------------------------------------

    def add_conversation(
        self,
        title: str | None = "Conversation",
        sandbox_status: str = "RUNNING",
        execution_status: str = "idle",
        repository: str | None = None,
        branch: str | None = None,
        sandbox_id: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            if sandbox_id is None:
                sandbox_id = self.add_sandbox(status="RUNNING")["id"]
                if sandbox_status == "MISSING":
                    del self.sandboxes[sandbox_id]
                else:
                    self.set_sandbox_status(sandbox_id, sandbox_status)
            rec = ConversationRec(uuid.uuid4().hex, sandbox_id, title, repository, branch)
            rec.execution_status = execution_status
            self.conversations[rec.id] = rec
            return {"id": rec.id, "sandbox_id": sandbox_id}

    def conversation(self, cid: str) -> ConversationRec | None:
        try:
            key = uuid.UUID(cid).hex
        except ValueError:
            return None
        rec = self.conversations.get(key)
        if rec is not None:
            self._advance_agent(rec)
            self._copy_title(rec)
        return rec

    def conversation_json(self, rec: ConversationRec) -> dict[str, Any]:
        status = self.sandbox_status(rec.sandbox_id)
        running = status == "RUNNING"
        sandbox = self.sandboxes.get(rec.sandbox_id)
        return {
            "id": rec.id,
            "created_by_user_id": None,
            "sandbox_id": rec.sandbox_id,
            "selected_repository": rec.repository,
            "selected_branch": rec.branch,
            "git_provider": rec.git_provider,
            "title": rec.title,
            "trigger": None,
            "pr_number": [],
            "llm_model": rec.llm_model,
            "agent_kind": "openhands",
            "metrics": {
                "model_name": "fake-model",
                "accumulated_cost": rec.cost,
                "max_budget_per_task": None,
                "accumulated_token_usage": {
                    "model": "fake-model",
                    "prompt_tokens": rec.prompt_tokens,
                    "completion_tokens": rec.completion_tokens,
                    "cache_read_tokens": 0,
                    "cache_write_tokens": 0,
                    "reasoning_tokens": 0,
                    "context_window": 128000,
                    "per_turn_token": 0,
                    "response_id": "",
                },
            },
            "parent_conversation_id": None,
            "sub_conversation_ids": [],
            "public": None,
            "tags": {"archiveworkspacepath": "."},
            "created_at": rec.created_at,
            "updated_at": rec.updated_at,
            "sandbox_status": status,
            "execution_status": rec.execution_status if running else None,
            "conversation_url": f"{self.agent_base()}/agent/{rec.sandbox_id}/api/conversations/{rec.id}"
            if running
            else None,
            "session_api_key": sandbox.key if running and sandbox else None,
            "acp_server": None,
            "launched_agent_profile": None,
        }

    def at_run_capacity(self, rec: ConversationRec) -> bool:
        """Agent server 1.58.2 runs at most `run_capacity` conversations at once (10 by default there)."""
        if self.run_capacity is None:
            return False
        running = [c for c in self.conversations.values() if c.execution_status == "running" and c is not rec]
        return len(running) >= self.run_capacity

    def run_saved(self, rec: ConversationRec) -> None:
        """POST …/run: the agent starts on the newest user message, which was saved without running."""
        with self.lock:
            users = [e for e in rec.events if e["kind"] == "MessageEvent" and e["source"] == "user"]
            text = _message_text(users[-1]) if users else ""
            rec.execution_status = "running"
            rec.pending, rec.runs_done = text, 0
            rec.running_until = time.monotonic() + self.agent_run_seconds
            self.add_events(rec, _state_event("running"))

    def deliver(self, rec: ConversationRec, text: str, run: bool) -> None:
        """A user message reaches the agent: record it, and start the agent when run is true."""
        with self.lock:
            self.deliveries.append({"conversation_id": rec.id, "text": text, "run": run})
            self.add_events(rec, _message_event("user", text))
            rec.updated_at = now_iso()
            if self.auto_title_seconds is not None and rec.title_copy_at is None:
                rec.agent_title = rec.agent_title or "Auto: " + text[:40]
                rec.title_copy_at = time.monotonic() + self.auto_title_seconds
            if run:
                rec.pending, rec.runs_done = text, 0
                rec.runs_at = time.monotonic() + self.pickup_seconds
                if self.pickup_seconds <= 0:
                    self._run(rec)

    def _run(self, rec: ConversationRec) -> None:
        rec.execution_status, rec.runs_at = "running", None
        rec.running_until = time.monotonic() + self.agent_run_seconds
        self.add_events(rec, _state_event("running"))

    def _copy_title(self, rec: ConversationRec) -> None:
        now = time.monotonic()
        if rec.title_revert is not None and now >= rec.title_revert[0]:
            rec.title, rec.title_revert = rec.title_revert[1], None
        if rec.title_copy_at is not None and now >= rec.title_copy_at:
            rec.title, rec.title_copy_at = rec.agent_title, float("inf")  # once, like the real callback

    def _advance_agent(self, rec: ConversationRec) -> None:
        if rec.runs_at is not None and time.monotonic() >= rec.runs_at:
            self._run(rec)
        if rec.running_until is None or time.monotonic() < rec.running_until:
            return
        if self.sandbox_status(rec.sandbox_id) != "RUNNING":
            return
        if rec.running_actions:  # the accepted action ran: its observation, then the agent goes on
            rec.events.extend(rec.running_actions)
            rec.running_actions = []
            rec.running_until = time.monotonic() + self.agent_run_seconds
            return
        text = rec.pending or ""
        commands = _script_commands(text)
        if rec.runs_done < len(commands) and _needs_confirmation(rec.policy, text):
            self._hold_for_confirmation(rec, commands[rec.runs_done])
            return
        accepted = rec.runs_done > 0
        rec.final = f"Echo: {text}"
        # An agent that prints its environment shows the sandbox key, as a real one would.
        output = f"SESSION_API_KEY={self.sandboxes[rec.sandbox_id].key}\nHOME=/root" if "print env" in text else None
        turn = _agent_turn(text, rec.final, output)
        self.add_events(rec, *(turn[2:] if accepted else turn))  # an accepted action has run already
        rec.runs_done = 0
        rec.execution_status = "finished"
        rec.running_until = None
        rec.pending = None
        rec.cost += 0.01
        rec.prompt_tokens += 100 + len(text) // 4
        rec.completion_tokens += 20
        rec.updated_at = now_iso()

    # ---- steering: interrupt, confirmation, side questions -------------------------------------

    def _hold_for_confirmation(self, rec: ConversationRec, command: str) -> None:
        """The agent chose its action and waits for the user's answer before running it."""
        tool, body = rec.next_action or ("terminal", {"kind": "TerminalAction", "command": command})
        rec.next_action = None
        action = _action_event(tool, body, "Act.")
        action |= {"security_risk": _script_risk(rec.pending or ""), "summary": "run the scripted command"}
        rec.events.append(action)
        rec.events.append(_state_event("waiting_for_confirmation"))
        rec.waiting, rec.running_until, rec.execution_status = [action], None, "waiting_for_confirmation"

    def respond(self, rec: ConversationRec, accept: bool, reason: str) -> None:
        """Answer every pending action at once, as the agent server's route does."""
        actions, rec.waiting = rec.waiting, []
        if not actions:
            return
        if not accept:
            for action in actions:
                rec.events.append(
                    _event(
                        "UserRejectObservation",
                        "user",
                        action_id=action["id"],
                        tool_call_id=action["tool_call_id"],
                        tool_name=action["tool_name"],
                        rejection_reason=reason,
                    )
                )
            rec.execution_status, rec.pending = "idle", None
            rec.events.append(_state_event("idle"))
            return
        observations = [_observation(a, f"ran {a['action'].get('command', a['tool_name'])}") for a in actions]
        rec.runs_done += 1
        rec.execution_status = "running"
        if self.action_seconds > 0:
            rec.running_actions = observations
            rec.running_until = time.monotonic() + self.action_seconds
            return
        rec.events.extend(observations)
        rec.running_until = time.monotonic() + self.agent_run_seconds

    def add_waiting_action(self, conversation_id: str, command: str) -> str:
        """One more action waits beside the first, as when the model asked for two tool calls at once."""
        rec = self.conversations[uuid.UUID(conversation_id).hex]
        assert rec.waiting, "no action is waiting"
        action = _action_event("terminal", {"kind": "TerminalAction", "command": command}, "And this.")
        action["security_risk"] = "HIGH"
        rec.events.append(action)
        rec.waiting.append(action)
        return str(action["id"])

    def replace_waiting_action(self, conversation_id: str, command: str) -> str:
        """The pending action changes under the user's eyes: the old one ends in an error, a new one waits."""
        rec = self.conversations[uuid.UUID(conversation_id).hex]
        assert rec.waiting, "no action is waiting"
        for old in rec.waiting:
            rec.events.append(
                _event(
                    "AgentErrorEvent",
                    "agent",
                    tool_call_id=old["tool_call_id"],
                    tool_name="terminal",
                    error="superseded",
                )
            )
        new = _action_event("terminal", {"kind": "TerminalAction", "command": command}, "Act differently.")
        new["security_risk"] = "HIGH"
        rec.events.append(new)
        rec.waiting = [new]
        return str(new["id"])

    def interrupt(self, rec: ConversationRec) -> None:
        """Cancel the model call in flight: the agent pauses; an idle or finished one is left as it is."""
        if rec.execution_status != "running":
            return
        rec.running_until, rec.execution_status = None, "paused"
        rec.events.append(_event("InterruptEvent", "environment"))
        rec.events.append(_state_event("paused"))

    # ---- start tasks -------------------------------------------------------------------------

    def create_task(self, request: dict[str, Any]) -> StartTaskRec:
        with self.lock:
            self.started_requests.append(request)
            task = StartTaskRec(uuid.uuid4().hex, request, time.monotonic(), self.start_task_step_seconds, now_iso())
            task.fail_detail, self._next_start_failure = self._next_start_failure, None
            wanted = request.get("sandbox_id")
            if wanted and wanted not in self.sandboxes:
                task.fail_detail = "Sandbox not found"
            self.tasks[task.id] = task
            return task

    def task_status(self, task: StartTaskRec) -> str:
        step = int((time.monotonic() - task.created) / task.step_seconds) if task.step_seconds > 0 else 99
        if task.fail_detail is not None:
            return "WORKING" if step < 1 else "ERROR"
        status = START_STEPS[min(step, len(START_STEPS) - 1)]
        if status != "WORKING" and task.sandbox_id is None:
            task.sandbox_id = task.request.get("sandbox_id") or self.add_sandbox(status="RUNNING")["id"]
            task.updated_at = now_iso()
        if status == "READY" and task.conversation_id is None:
            self._finish_task(task)
        return status

    def _finish_task(self, task: StartTaskRec) -> None:
        assert task.sandbox_id is not None
        request = task.request
        made = self.add_conversation(
            title=f"Conversation {task.id[:5]}",
            repository=request.get("selected_repository"),
            branch=request.get("selected_branch"),
            sandbox_id=task.sandbox_id,
        )
        rec = self.conversations[made["id"]]
        rec.git_provider = request.get("git_provider")
        rec.llm_model = request.get("llm_model") or rec.llm_model
        message = request.get("initial_message") or {}
        text = " ".join(c.get("text", "") for c in message.get("content", []) if c.get("type") == "text")
        if text:
            self.deliver(rec, text, bool(message.get("run", False)))
        task.conversation_id = rec.id
        task.updated_at = now_iso()
        if self.stale_title_write_seconds is not None:
            rec.title_stale = rec.title  # written back after the next rename (app.py)

    def task_json(self, task: StartTaskRec) -> dict[str, Any]:
        status = self.task_status(task)
        reached = START_STEPS.index(status) if status in START_STEPS else 0
        return {
            "id": task.id,
            "created_by_user_id": None,
            "status": status,
            "detail": task.fail_detail if status == "ERROR" else None,
            "app_conversation_id": task.conversation_id if status == "READY" else None,
            "sandbox_id": task.sandbox_id,
            "agent_server_url": f"{self.agent_base()}/agent/{task.sandbox_id}" if reached >= 2 else None,
            "request": task.request,
            "created_at": task.created_at,
            "updated_at": task.updated_at,
        }


def _event(kind: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "timestamp": local_iso(), "source": source, "kind": kind, **fields}


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}]


def _message_event(role_source: str, text: str) -> dict[str, Any]:
    role = "user" if role_source == "user" else "assistant"
    return _event("MessageEvent", role_source, llm_message={"role": role, "content": _text(text)})


def _message_text(event: dict[str, Any]) -> str:
    content = event.get("llm_message", {}).get("content", [])
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _state_event(value: str) -> dict[str, Any]:
    return state_update("execution_status", value)


def state_update(key: str, value: Any) -> dict[str, Any]:
    return _event("ConversationStateUpdateEvent", "environment", key=key, value=value)


def _action_event(tool: str, action: dict[str, Any], thought: str) -> dict[str, Any]:
    call_id = "call_" + secrets.token_hex(6)
    return _event(
        "ActionEvent",
        "agent",
        thought=_text(thought),
        action=action,
        tool_name=tool,
        tool_call_id=call_id,
        tool_call={"id": call_id, "name": tool, "arguments": "{}", "origin": "completion"},
        llm_response_id="resp-" + secrets.token_hex(4),
    )


FAILING = "frobnicate"  # a message that mentions it makes the agent run a command that fails


_RISKY = {"AlwaysConfirm": {"LOW", "MEDIUM", "HIGH", "UNKNOWN"}, "ConfirmRisky": {"HIGH", "UNKNOWN"}}


def _script_commands(text: str) -> list[str]:
    """The commands a message asks for, one per `RUN: <command>` line (the e2e fake LLM's script; a
    `RUNJSON: "<command>"` line holds a JSON string, for commands of several lines), else `ls -la`."""
    commands = []
    for marker, argument in re.findall(r"^\s*(RUN|RUNJSON):\s*(.+)$", text, re.MULTILINE):
        commands.append(json.loads(argument) if marker == "RUNJSON" else argument.strip())
    return commands or ["ls -la"]


def _script_risk(text: str) -> str:
    found = re.search(r"^\s*RISK:\s*(\w+)", text, re.MULTILINE)
    return found.group(1).upper() if found else "LOW"


def _needs_confirmation(policy: str, text: str) -> bool:
    return _script_risk(text) in _RISKY.get(policy, set())


def _observation(action: dict[str, Any], output: str) -> dict[str, Any]:
    command = action["action"].get("command", "")
    failed = command == FAILING
    return _event(
        "ObservationEvent",
        "environment",
        tool_name="terminal",
        tool_call_id=action["tool_call_id"],
        observation={
            "kind": "TerminalObservation",
            "content": _text(output),
            "command": command,
            "exit_code": 127 if failed else 0,
            "is_error": failed,
        },
        action_id=action["id"],
    )


def _agent_turn(text: str, final: str, output: str | None = None) -> list[dict[str, Any]]:
    command = FAILING if FAILING in text else "env" if output else "ls -la"
    action = _action_event("terminal", {"kind": "TerminalAction", "command": command}, "Look around first.")
    failed = command == FAILING
    observation = _observation(
        action, f"bash: {FAILING}: command not found" if failed else output or "total 0\nREADME.md"
    )
    finish = _action_event("finish", {"kind": "FinishAction", "message": final}, "Done.")
    errors = _error_events(action) if failed else []
    return [action, observation, *errors, finish, _state_event("finished")]


def _error_events(action: dict[str, Any]) -> list[dict[str, Any]]:
    """What the SDK records when a tool call goes wrong and when the conversation itself fails."""
    agent_error = _event(
        "AgentErrorEvent",
        "agent",
        tool_name="terminal",
        tool_call_id=action["tool_call_id"],
        error="Tool call interrupted before completion: the command was killed.",
    )
    conversation_error = _event(
        "ConversationErrorEvent",
        "environment",
        code="LLMContextWindowExceedError",
        detail="The context window is full.",
    )
    return [agent_error, conversation_error]
