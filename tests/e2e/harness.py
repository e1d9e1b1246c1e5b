"""Install and run the real OpenHands app server for the end-to-end stage, and always clean up after it.

- `ensure_openhands()` (install.py) makes, or reuses, a Python 3.12 venv built from locks/openhands.txt.
- `running_app_server()` starts `launcher.py` in that venv with the process sandbox, waits until it
  answers, points its LLM at the fake, and on exit kills it and every process it spawned (the agent
  servers are found by a marker in their environment, since they outlive the app server), then removes
  its temporary directory. A watchdog (reaper.py) does the same kill if the test process dies first.

Every failure raises E2EError with the reason and the log tail; the fixtures turn it into pytest.fail,
so a broken install or server fails the stage instead of skipping it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from .install import LOG_TAIL, E2EError, say
from .reaper import MARKER, Tied, kill_marked, marked_pids, spawn_tied

LAUNCHER = Path(__file__).with_name("launcher.py")
START_TIMEOUT = 120.0
AGENT_SERVER_LOG = ".openhands-agent-server.log"
AGENT_SERVER_LOGS = 3


def tail(path: Path, size: int = LOG_TAIL) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return data[-size:].decode("utf-8", "replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Agent-server ports. The process sandbox probes upward from its base port (8000 by default) and
# only test-binds each port, so two OpenHands on one machine starting sandboxes at once could pick
# the same port, and one would then talk to the other's agent server (seen: 401 from :8001). Each
# stage claims a block of its own, below the kernel's ephemeral range, held by a lock file while
# its app server lives.
PORT_BLOCKS = range(20_000, 32_000, 200)
# Machine-wide, not in the cache: two stages with different caches (a CI clone beside a developer's
# checkout) each locked block 20000 in their own folder, and one app server's agent server failed to
# bind, so the other's answered its start with 401 (seen: "address already in use" on :20002).
PORT_LOCKS = Path(tempfile.gettempdir()) / "oh-mcp-e2e-port-blocks"


@dataclass
class PortBlock:
    base: int
    lock: IO[str]

    def release(self) -> None:
        self.lock.close()


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def claim_port_block() -> PortBlock:
    """The first block whose lock no other stage holds and whose first ports are free."""
    PORT_LOCKS.mkdir(parents=True, exist_ok=True)
    for base in PORT_BLOCKS:
        lock = (PORT_LOCKS / f"{base}.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if all(bindable(port) for port in range(base, base + 5)):
            return PortBlock(base, lock)
        lock.close()
    raise E2EError(f"no free agent-server port block in {PORT_BLOCKS}")


# ---- processes ----------------------------------------------------------------------------------


@dataclass
class AppServer:
    """One OpenHands app server with its own persistence, home and temp directories."""

    python: Path
    llm_base_url: str
    session_api_key: str | None = None
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="oh-mcp-e2e-")))
    port: int = field(default_factory=free_port)
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    tied: Tied | None = None
    ports: PortBlock | None = None
    started_in: float = 0.0
    version: str = "?"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "app-server.log"

    def env(self) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OH_", "OPENHANDS_", "LLM_", "VIRTUAL_ENV", "PYTHON", "SESSION_API_KEY"))
        }
        for name in ("home", "tmp", "tmux", "persistence", "sandboxes"):
            (self.root / name).mkdir(exist_ok=True)
        if self.ports is None:
            self.ports = claim_port_block()
        env = inherited | {
            MARKER: self.marker,
            "RUNTIME": "process",
            # The process sandbox's settings (ProcessSandboxServiceInjector), read by OpenHands' env parser.
            "OH_SANDBOX_KIND": "ProcessSandboxServiceInjector",
            "OH_SANDBOX_BASE_PORT": str(self.ports.base),
            "OH_SANDBOX_BASE_WORKING_DIR": str(self.root / "sandboxes"),
            "OH_PERSISTENCE_DIR": str(self.root / "persistence"),
            "OH_WEBHOOKS_0_BASE_URL": f"{self.url}/api/v1/webhooks",
            "HOME": str(self.root / "home"),
            "TMPDIR": str(self.root / "tmp"),  # the process sandbox puts its working dirs here
            "TMUX_TMPDIR": str(self.root / "tmux"),  # this server's own tmux server (launcher.py, fix 5)
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the cost map from GitHub
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            # The agent servers log through rich, which wraps at 80 columns without a terminal: a
            # traceback's last line then spans five lines of a log tail.
            "COLUMNS": "200",
        }
        if self.session_api_key:
            env["SESSION_API_KEY"] = self.session_api_key
        return env

    def headers(self) -> dict[str, str]:
        return {"X-Session-API-Key": self.session_api_key} if self.session_api_key else {}

    def agent_server_logs(self) -> list[Path]:
        """The agent servers' own logs (each in its sandbox's folder), newest first."""
        found = [path for path in self.root.rglob(AGENT_SERVER_LOG) if path.is_file()]
        return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)[:AGENT_SERVER_LOGS]

    def diagnostics(self) -> str:
        """The tails of the app server's log and of the newest agent servers' logs: why a start failed
        is usually in an agent server's log, never in the 500 the app server passes on."""
        parts = [f"--- app server log tail ({self.log_path}) ---\n{tail(self.log_path)}"]
        logs = self.agent_server_logs()
        parts += [f"--- agent server log tail ({path}) ---\n{tail(path)}" for path in logs]
        if not logs:
            parts.append(f"--- no agent server log under {self.root} ---")
        return "\n".join(parts)

    def fail(self, reason: str) -> E2EError:
        return E2EError(f"{reason}\n{self.diagnostics()}")

    def start(self) -> None:
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.tied = spawn_tied(
                [str(self.python), str(LAUNCHER), "--port", str(self.port)],
                env=self.env(),
                marker=self.marker,
                remove=None if os.environ.get("OH_MCP_E2E_KEEP") else self.root,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready(started)
        self.started_in = time.monotonic() - started
        # /server_info holds only uptime and resource figures in 1.11.0; the version is in the OpenAPI info.
        info = self.get("/server_info").json()
        self.version = str(self.get("/openapi.json").json().get("info", {}).get("version", "?"))
        base = self.ports.base if self.ports else "?"
        say(
            f"OpenHands app server {self.version} ready at {self.url} in {self.started_in:.1f} s (pid {self.pid}, "
            f"agent servers from port {base}, sandboxes in {self.root / 'sandboxes'}); "
            f"/server_info keys: {sorted(info) if isinstance(info, dict) else info!r}"
        )

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.tied.process if self.tied else None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def wait_ready(self, started: float, timeout: float = START_TIMEOUT) -> None:
        assert self.process is not None
        with httpx.Client(timeout=5, trust_env=False) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise self.fail(f"the app server exited with code {code} before it answered /alive")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/alive").status_code == 200:
                        return
                if time.monotonic() - started > timeout:
                    raise self.fail(f"the app server did not answer /alive within {timeout:g} s")
                time.sleep(0.5)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False, headers=self.headers()) as client:
            return client.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.request("GET", path, **kwargs)
        if response.status_code != 200:
            raise self.fail(f"GET {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def configure_llm(self) -> None:
        llm = {"model": "openai/fake-model", "api_key": "sk-fake", "base_url": self.llm_base_url}
        response = self.request("POST", "/api/v1/settings", json={"agent_settings_diff": {"llm": llm}})
        if response.status_code != 200:
            raise self.fail(f"POST /api/v1/settings answered {response.status_code}: {response.text[:500]}")
        say(f"LLM set to {llm['model']} at {self.llm_base_url}")

    def stop(self) -> None:
        """Kill the process group, then every marked process left (orphaned agent servers), then the files."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        leftovers = kill_marked(self.marker)
        if leftovers:
            say(f"killed {len(leftovers)} leftover process(es): " + "; ".join(leftovers))
        left = marked_pids(self.marker)
        if left:
            say(f"WARNING: still alive after SIGKILL: {left}")
        if self.tied is not None:
            self.tied.release()  # everything is gone: the watchdog finds nothing and exits
            self.tied = None
        if self.ports is not None:
            self.ports.release()
            self.ports = None
        if os.environ.get("OH_MCP_E2E_KEEP"):
            say(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_app_server(python: Path, llm_base_url: str, session_api_key: str | None = None) -> Iterator[AppServer]:
    server = AppServer(python=python, llm_base_url=llm_base_url, session_api_key=session_api_key)
    atexit.register(server.stop)  # also when pytest is interrupted between setup and teardown
    try:
        server.start()
        server.configure_llm()
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


# ---- driving oh-mcp -----------------------------------------------------------------------------

CALL_TIMEOUT = 150.0


def oh_mcp_params(server: AppServer, api_key: str | None = None) -> StdioServerParameters:
    """oh-mcp as a desktop client launches it: `python -m oh_mcp` over stdio, pointed at `server`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    env |= {"OPENHANDS_URL": server.url, "OH_MCP_POLL_INTERVAL": "0.5", "NO_PROXY": "127.0.0.1,localhost"}
    if api_key is not None:
        env["OPENHANDS_API_KEY"] = api_key
    return StdioServerParameters(command=sys.executable, args=["-m", "oh_mcp"], env=env)


def text_of(result: CallToolResult) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


def short(value: Any, limit: int = 220) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Journey:
    """Calls oh-mcp tools, prints every step with its time, and keeps each call's progress messages."""

    client: Client
    started: float = field(default_factory=time.monotonic)
    progress: list[tuple[float, str]] = field(default_factory=list)

    def step(self, message: str) -> None:
        print(f"[e2e +{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    async def _on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((time.monotonic() - self.started, message or ""))

    def progress_seen(self) -> list[str]:
        return [f"+{t:.1f}s {m}" for t, m in self.progress]

    async def call(self, tool: str, args: dict[str, Any]) -> CallToolResult:
        self.progress.clear()
        began = time.monotonic()
        result = await self.client.call_tool(
            tool, args, read_timeout_seconds=CALL_TIMEOUT, progress_callback=self._on_progress
        )
        took = time.monotonic() - began
        shown = text_of(result) if result.is_error else result.structured_content
        self.step(f"{tool}({short(args)}) -> {'ERROR ' if result.is_error else ''}{short(shown)} [{took:.1f}s]")
        return result

    async def ok(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.call(tool, args)
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        content: dict[str, Any] = result.structured_content
        return content

    async def answer(self, conversation_id: str, expected: str, *, after: str) -> dict[str, Any]:
        """One wait_for_agent, which must return the reply to the message just sent (not an older one)."""
        answer = await self.ok("wait_for_agent", {"conversation_id": conversation_id, "timeout_seconds": 60})
        seen = self.progress_seen()
        self.step(f"  statuses polled during the wait: {seen}")
        assert answer["settled"], f"agent still running after 60 s; progress: {seen}"
        assert expected in (answer["final_response"] or ""), (
            f"wait_for_agent right after {after} returned status {answer['execution_status']!r} with "
            f"final_response {answer['final_response']!r}, not the reply to {expected!r}; progress: {seen}"
        )
        return answer
