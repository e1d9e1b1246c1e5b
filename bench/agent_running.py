"""Time to agent running against the real OpenHands 1.11.0 (process sandboxes, the fake LLM of the
e2e stage): from the start_conversation call to READY, and to the agent's first event, cold (no warm
sandbox) against warm (OH_MCP_WARM_SANDBOXES=1). Skipped, with the reason, when OpenHands cannot be
installed here."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from typing import Any

from mcp import Client, StdioServerParameters

from oh_mcp.openhands import OpenHandsClient
from tests.e2e.agent_start import call_ok, spare_ready, timed_start
from tests.e2e.fake_llm import FakeLLM, serve_fake_llm
from tests.e2e.harness import AppServer, running_app_server
from tests.e2e.install import E2EError, ensure_openhands

REPS = 3


def oh_mcp(server: AppServer, **extra: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    env |= {"OPENHANDS_URL": server.url, "NO_PROXY": "127.0.0.1,localhost"} | extra
    return StdioServerParameters(command=sys.executable, args=["-m", "oh_mcp"], env=env)


async def agent_running(_fake_url: str = "") -> dict[str, Any]:
    try:
        python = ensure_openhands().python
    except E2EError as exc:
        return {"skipped": f"no real OpenHands here: {exc}"}
    with serve_fake_llm(FakeLLM()) as llm, running_app_server(python, llm.base_url) as server:
        cold = await _runs(server, warm=False)
        warm = await _runs(server, warm=True)
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        return {"openhands": server.version, "cores": os.cpu_count(), "when": when, "cold": cold, "warm": warm}


async def _runs(server: AppServer, *, warm: bool) -> dict[str, Any]:
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        params = oh_mcp(server, OH_MCP_WARM_SANDBOXES="1" if warm else "0", OH_MCP_WARM_DIR=folder)
        async with Client(params) as client, OpenHandsClient(server.url) as oh:
            for i in range(REPS):
                if warm:
                    await spare_ready(client)
                run = await timed_start(client, oh, f"Please echo run-{i}")
                if run["warm"] != warm:
                    raise RuntimeError(f"expected a {'warm' if warm else 'cold'} start: {run}")
                print(f"bench: {'warm' if warm else 'cold'} start {i}: {run}", file=sys.stderr, flush=True)
                runs.append(run)
                await call_ok(client, "delete_conversation", {"conversation_id": run["conversation_id"]})
    return {
        "ready_s": round(statistics.median(r["ready_s"] for r in runs), 2),
        "first_event_s": round(statistics.median(r["first_event_s"] for r in runs), 2),
        "runs": [{k: r[k] for k in ("ready_s", "first_event_s")} for r in runs],
    }


def markdown(result: dict[str, Any]) -> list[str]:
    out = ["\n## Time to agent running (real OpenHands, process sandboxes)\n"]
    if "skipped" in result:
        return [*out, f"Not measured: {result['skipped']}"]
    cold, warm = result["cold"], result["warm"]
    out += [
        f"Run {result['when']}: OpenHands {result['openhands']} on {result['cores']} cores, the e2e stage's fake LLM; "
        f"medians of {len(cold['runs'])} starts each, from the start_conversation call over stdio.\n",
        "| start | to READY, s | to the agent's first event, s |",
        "|---|---|---|",
        f"| cold (no warm sandbox) | {cold['ready_s']} | {cold['first_event_s']} |",
        f"| warm (OH_MCP_WARM_SANDBOXES=1) | {warm['ready_s']} | {warm['first_event_s']} |",
        f"\nA warm start reaches READY in {warm['ready_s'] / cold['ready_s']:.0%} of a cold start's time.",
    ]
    return out
