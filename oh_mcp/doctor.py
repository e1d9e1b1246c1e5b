"""`oh-mcp doctor`: checks the configuration and the OpenHands server, and says what to do about
each problem. Table output for people, `--json` for machines; exit code 1 when a problem is found."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from . import __version__
from .config import OPTIONS, Settings
from .openhands import (
    AgentServerUnreachable,
    AppConversation,
    AuthFailed,
    ConnectionFailed,
    OpenHandsClient,
    OpenHandsError,
    StartTaskStatus,
    scrub,
    start_failure_hint,
)
from .openhands.redaction import MIN_SECRET_LENGTH
from .runtime import client_for
from .selection import select
from .tools import TOOLSETS
from .warm import WarmPool

MAX_PAGES = 5
MAX_AGENT_SERVERS = 3
RECENT_STARTS = 10
RECENT_STARTS_WINDOW = timedelta(days=1)
_AGENT_SERVER_FIX = "Check that the sandbox is RUNNING; set OH_MCP_AGENT_SERVER_URL if its address is wrong."


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


@dataclass
class Report:
    oh_mcp: str
    openhands_url: str
    openhands_version: str | None = None
    checks: list[Check] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    sandbox_specs: list[str] = field(default_factory=list)
    sandboxes: dict[str, int] = field(default_factory=dict)
    conversations: dict[str, int] = field(default_factory=dict)
    tools: list[str] = field(default_factory=list)
    disabled_tools: dict[str, str] = field(default_factory=dict)
    warm_spares: dict[str, str] = field(default_factory=dict)  # sandbox id -> status

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)


def mask(secret: str) -> str:
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) > 12 else "***"


def describe_settings(settings: Settings) -> dict[str, str]:
    """The URL and key always, then whatever was set explicitly, each with where it came from."""
    shown: dict[str, str] = {}
    for option in OPTIONS:
        if option.env not in ("OPENHANDS_URL", "OPENHANDS_API_KEY") and settings.source_of(option.field) == "default":
            continue
        value = getattr(settings, option.field)
        if option.secret:
            text = mask(value.get_secret_value()) if value is not None else "(not set)"
        else:
            text = ",".join(value) if isinstance(value, tuple) else str(value)
        shown[option.env] = f"{text} (from {settings.source_of(option.field)})"
    return shown


async def diagnose(settings: Settings, client: OpenHandsClient | None = None) -> Report:
    selection = select(TOOLSETS, settings)
    report = Report(
        oh_mcp=__version__,
        openhands_url=settings.shown_openhands_url,
        settings=describe_settings(settings),
        tools=[spec.name for spec in selection.enabled],
        disabled_tools=dict(selection.hidden),
    )
    report.checks.append(Check("configuration", True, "settings parsed"))
    if settings.api_key is not None and len(settings.api_key.get_secret_value()) < MIN_SECRET_LENGTH:
        report.checks.append(_short_key_check(len(settings.api_key.get_secret_value())))
    own = client is None
    client = client or client_for(settings, timeout=min(settings.timeout, 10))
    key_note = "with an API key" if settings.api_key else "without an API key (the server requires none)"
    try:
        if await _reach(client, report, key_note):
            await _inventory(client, report)
            await _warm(client, settings, report)
    finally:
        if own:
            await client.aclose()
    if not report.tools:
        report.checks.append(
            Check("tools", False, "no tool is enabled", "Loosen OH_MCP_TOOLSETS / OH_MCP_EXCLUDE_TOOLS.")
        )
    return report


def _short_key_check(length: int) -> Check:
    """A key this short is no credential to look for inside words: it is masked only where it stands
    alone, so the person should know that it may show inside longer text."""
    return Check(
        "key length",
        True,
        f"OPENHANDS_API_KEY is {length} characters, under {MIN_SECRET_LENGTH}: oh-mcp masks it only where it "
        "stands alone, never inside longer words",
        f"Use a key of at least {MIN_SECRET_LENGTH} random characters (SESSION_API_KEY on a local server).",
    )


async def _reach(client: OpenHandsClient, report: Report, key_note: str) -> bool:
    try:
        version = await client.version()
    except OpenHandsError as exc:
        fix = "Start OpenHands, or set OPENHANDS_URL to where it runs (Cloud: https://app.all-hands.dev)."
        report.checks.append(Check("reach OpenHands", False, exc.message, fix))
        return False
    report.openhands_version = version or "unknown"
    report.checks.append(Check("reach OpenHands", True, f"version {report.openhands_version}"))
    try:
        specs = await client.search_sandbox_specs(limit=100)
    except AuthFailed:
        fix = "Set OPENHANDS_API_KEY: a Cloud API key, or the SESSION_API_KEY the local server was started with."
        report.checks.append(Check("authentication", False, "OpenHands refused the credentials", fix))
        return False
    except ConnectionFailed as exc:
        report.checks.append(Check("authentication", False, exc.message, exc.hint))
        return False
    report.checks.append(Check("authentication", True, f"accepted {key_note}"))
    report.sandbox_specs = [s.id for s in specs.items]
    if not specs.items:
        report.checks.append(Check("sandbox specs", False, "none available", "Check the OpenHands sandbox setup."))
    return True


async def _inventory(client: OpenHandsClient, report: Report) -> None:
    try:
        sandbox_states: Counter[str] = Counter()
        page_id: str | None = None
        for _ in range(MAX_PAGES):
            sandboxes = await client.search_sandboxes(limit=100, page_id=page_id)
            sandbox_states.update(str(s.status) for s in sandboxes.items)
            if not (page_id := sandboxes.next_page_id):
                break
        conversation_states: Counter[str] = Counter()
        running: list[AppConversation] = []
        page_id = None
        for _ in range(MAX_PAGES):
            conversations = await client.search_conversations(limit=100, page_id=page_id)
            conversation_states.update(str(c.execution_status or c.sandbox_status) for c in conversations.items)
            running += [c for c in conversations.items if c.conversation_url and c.session_api_key]
            if not (page_id := conversations.next_page_id):
                break
    except OpenHandsError as exc:
        report.checks.append(Check("inventory", False, exc.message, exc.hint))
        return
    report.sandboxes = dict(sandbox_states)
    report.conversations = dict(conversation_states)
    report.checks.append(Check("inventory", True, "listed sandboxes and conversations"))
    await _recent_starts(client, report)
    await _agent_servers(client, running[:MAX_AGENT_SERVERS], report)


async def _warm(client: OpenHandsClient, settings: Settings, report: Report) -> None:
    """The warm spares this configuration keeps (OH_MCP_WARM_SANDBOXES), as OpenHands has them now."""
    pool = WarmPool.from_settings(settings)
    if pool.size == 0:
        return
    try:
        spares = await pool.status(client)
    except OpenHandsError as exc:
        report.checks.append(Check("warm sandboxes", False, exc.message, exc.hint))
        return
    report.warm_spares = spares
    running = sum(1 for s in spares.values() if s == "RUNNING")
    listed = ", ".join(f"{sid} {status}" for sid, status in spares.items()) or "none yet"
    detail = f"{pool.size} wanted, {running} running and unused: {listed} (recorded in {pool.folder})"
    report.checks.append(Check("warm sandboxes", True, detail))


async def _recent_starts(client: OpenHandsClient, report: Report) -> None:
    """Whether conversations start at all: the newest start decides, the others show how often it fails."""
    since = datetime.now(UTC) - RECENT_STARTS_WINDOW
    try:
        tasks = await client.search_start_tasks(limit=RECENT_STARTS, created_after=since)
    except OpenHandsError as exc:
        report.checks.append(Check("recent starts", False, exc.message, exc.hint))
        return
    finished = [t for t in tasks if t.finished]
    failed = [t for t in finished if t.status == StartTaskStatus.ERROR]
    if not finished:
        report.checks.append(Check("recent starts", True, "no conversation started in the last day"))
        return
    counts = f"{len(failed)} of the last {len(finished)} starts failed"
    newest = finished[0]
    if newest.status != StartTaskStatus.ERROR:
        report.checks.append(Check("recent starts", True, counts))
        return
    known = next((hint for t in failed if (hint := start_failure_hint(t.detail))), None)
    detail = f"{counts}; the newest: {scrub(newest.detail or 'no detail given', client.known_secrets())}"
    fix = known or "Read the OpenHands server's log for that start; fix the cause, then start again."
    report.checks.append(Check("recent starts", False, detail, fix))


async def _agent_servers(client: OpenHandsClient, running: list[AppConversation], report: Report) -> None:
    """Whether oh-mcp reaches the agent servers of running conversations at the address it would use:
    OpenHands reports them as it sees them, often localhost, which another container cannot reach."""
    if not running:
        report.checks.append(Check("agent servers", True, "no running conversation to check"))
        return
    for conversation in running:
        try:
            await client.get_final_response(conversation)
        except OpenHandsError as exc:
            fix = exc.hint if isinstance(exc, AgentServerUnreachable | AuthFailed) else _AGENT_SERVER_FIX
            report.checks.append(Check("agent servers", False, exc.message, fix))
            return
    where = client.agent_url(running[0].conversation_url or "")
    report.checks.append(Check("agent servers", True, f"reached {len(running)}, e.g. {where}"))


def render_table(report: Report) -> str:
    lines = [f"oh-mcp {report.oh_mcp} → OpenHands at {report.openhands_url}", ""]
    for check in report.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"         next step: {check.fix}")
    lines += ["", "settings:"] + [f"  {k:<30} {v}" for k, v in report.settings.items()]
    if report.sandbox_specs:
        lines += ["", "sandbox specs:"] + [f"  {s}" for s in report.sandbox_specs]
    if report.sandboxes or report.conversations:
        lines += ["", f"sandboxes by status:     {_counts(report.sandboxes)}"]
        lines += [f"conversations by status: {_counts(report.conversations)}"]
    lines += ["", f"tools enabled ({len(report.tools)}): {', '.join(report.tools) or 'none'}"]
    lines += [f"  disabled {name}: {why}" for name, why in report.disabled_tools.items()]
    lines += ["", "healthy" if report.healthy else "problems found: see the next steps above"]
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def run(settings: Settings, as_json: bool) -> int:
    report = anyio.run(diagnose, settings)
    if as_json:
        data: dict[str, Any] = asdict(report) | {"healthy": report.healthy}
        print(json.dumps(data, indent=2))
    else:
        print(render_table(report))
    return 0 if report.healthy else 1
