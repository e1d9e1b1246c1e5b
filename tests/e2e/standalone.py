"""A standalone agent server (openhands-agent-server from locks/agent-server.txt), run without an app
server, so oh-mcp's agent-server calls can be checked against a newer agent server than OpenHands
1.11.0's sandboxes run. Conversations are started on it directly, and handed to oh-mcp's client as
the app server would describe them (conversation_url, session key, status)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from oh_mcp.openhands import AppConversation

from .harness import AGENT_SERVER_LOG, free_port, tail
from .install import E2EError
from .reaper import MARKER, Tied, kill_marked, spawn_tied

REQUEST_SCRIPT = Path(__file__).with_name("agent_request.py")
START_TIMEOUT = 120.0


@dataclass
class StandaloneAgentServer:
    python: Path
    llm_base_url: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="oh-mcp-agent-server-")))
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=lambda: "e2e-" + secrets.token_hex(16))
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    tied: Tied | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / AGENT_SERVER_LOG

    def diagnostics(self) -> str:
        return f"--- agent server log tail ({self.log_path}) ---\n{tail(self.log_path)}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OH_", "OPENHANDS_", "SESSION_API_KEY"))}
        env |= {
            MARKER: self.marker,
            "OH_SESSION_API_KEYS_0": self.key,
            "OH_SECRET_KEY": secrets.token_urlsafe(32),
            "HOME": str(self.root),
            "OPENHANDS_SUPPRESS_BANNER": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "NO_PROXY": "127.0.0.1,localhost",
            "COLUMNS": "200",
        }
        (self.root / "work").mkdir(exist_ok=True)
        with self.log_path.open("wb") as log:
            self.tied = spawn_tied(
                [str(self.python), "-m", "openhands.agent_server", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                marker=self.marker,
                remove=None,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=5, trust_env=False) as client:
            while True:
                if self.tied.process.poll() is not None:
                    raise E2EError(f"the agent server exited before it answered\n{self.diagnostics()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/alive").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise E2EError(
                        f"the agent server did not answer /alive in {START_TIMEOUT:g} s\n{self.diagnostics()}"
                    )
                time.sleep(0.3)

    def stop(self) -> None:
        if self.tied is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.tied.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.tied.process.wait(timeout=10)
            kill_marked(self.marker)
            self.tied.release()
            self.tied = None
        if not os.environ.get("OH_MCP_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=60, trust_env=False) as client:
            return client.request(method, path, headers={"X-Session-API-Key": self.key}, **kwargs)

    def start_conversation(self, *, policy: str = "never") -> str:
        """A new conversation on this server, with no message yet; its id."""
        made = subprocess.run(
            [str(self.python), str(REQUEST_SCRIPT), f"{self.llm_base_url}", str(self.root / "work"), policy],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ | {"OPENHANDS_SUPPRESS_BANNER": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
            check=False,
        )
        if made.returncode != 0:
            raise E2EError(f"agent_request.py failed: {made.stderr[-2000:]}")
        body = json.loads(made.stdout.strip().splitlines()[-1])
        answer = self.request("POST", "/api/conversations", json=body)
        if answer.status_code not in (200, 201):  # 1.58.2 answers 201 Created
            raise E2EError(f"POST /api/conversations answered {answer.status_code}: {answer.text[:500]}")
        return uuid.UUID(answer.json()["id"]).hex

    def send(self, conversation_id: str, text: str, *, run: bool = True) -> None:
        body = {"role": "user", "content": [{"type": "text", "text": text}], "run": run}
        answer = self.request("POST", f"/api/conversations/{conversation_id}/events", json=body)
        if answer.status_code != 200:
            raise E2EError(f"sending a message answered {answer.status_code}: {answer.text[:500]}")

    def execution_status(self, conversation_id: str) -> str:
        answer = self.request("GET", f"/api/conversations/{conversation_id}")
        return str(answer.json().get("execution_status"))

    def described(self, conversation_id: str) -> AppConversation:
        """The conversation as the app server would describe it to oh-mcp."""
        now = datetime.now(UTC)
        return AppConversation.model_validate(
            {
                "id": conversation_id,
                "sandbox_id": "standalone",
                "created_at": now,
                "updated_at": now,
                "sandbox_status": "RUNNING",
                "execution_status": self.execution_status(conversation_id),
                "conversation_url": f"{self.url}/api/conversations/{conversation_id}",
                "session_api_key": self.key,
            }
        )


@contextlib.contextmanager
def standalone_agent_server(python: Path, llm_base_url: str) -> Iterator[StandaloneAgentServer]:
    server = StandaloneAgentServer(python=python, llm_base_url=llm_base_url)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def events_of(server: StandaloneAgentServer, conversation_id: str) -> list[dict[str, Any]]:
    answer = server.request("GET", f"/api/conversations/{conversation_id}/events/search", params={"limit": 100})
    items: list[dict[str, Any]] = json.loads(answer.text)["items"]
    return items
