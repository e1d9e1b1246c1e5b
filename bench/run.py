"""oh-mcp benchmarks: context cost, compactness, per-call overhead, cold start, throughput, memory
and connection reuse, each against a reference measured in the same run (these machines are
shared and noisy, so ratios are what count). Writes bench/results/results.{md,json} and chart.png.

    scripts/bench            # sets up, then runs everything (about 3 minutes)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.streams.buffered
import httpx2
from mcp import Client, StdioServerParameters

from bench import agent_running
from bench.sdk_floor import server as sdk_server
from oh_mcp import Settings, build_server
from oh_mcp.docs import MODEL_VISIBLE_BUDGET, TOOLS_LIST_BUDGET
from tests.fake.server import free_port
from tests.openapi_contract import spec_path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SPEC = spec_path()  # ../shared/spec, or OH_MCP_SPEC_DIR, as the tests read it
REFERENCE_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
REFERENCE = ROOT / "bench" / "fastmcp_reference.py"
PROXY_FLOOR = ROOT / "bench" / "proxy_floor.py"
SDK_FLOOR = ROOT / "bench" / "sdk_floor.py"
SLOW_UPSTREAM_S = 0.02  # a real OpenHands answers list calls in tens of milliseconds
FLOOR = "python -c 'import mcp' (floor)"
SEARCH = "/api/v1/app-conversations/search"
PROXY_ROW = "do-nothing proxy (floor)"
SDK_ROW = "bare MCPServer, one-line tool (SDK floor)"
RAW_ROW = "oh-mcp Streamable HTTP, raw JSON-RPC client"
BARE_IN_PROCESS = "bare MCPServer in-process (SDK floor)"
CALLS = 150
WARMUP = 15
LOAD_LEVELS = (1, 8, 64)
THROUGHPUT_ROUNDS = 3
THROUGHPUT_SECONDS = 1.5


# ---- processes -----------------------------------------------------------------------------------


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    return base | extra


@contextmanager
def process(command: list[str], ready_url: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(**extra), cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{command[:4]} did not start")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def fake(port: int, latency: float = 0.0) -> Any:
    # Without the fake's contract check (about 10 ms a page), which would swamp what is measured.
    command = [sys.executable, "-m", "tests.fake.server", "--port", str(port), "--seed", "25", "--no-contract-check"]
    return process([*command, "--latency", str(latency)], f"http://127.0.0.1:{port}/alive")


def proxy_floor(fake_url: str, port: int) -> Any:
    return process([sys.executable, str(PROXY_FLOOR), fake_url, str(port)], f"http://127.0.0.1:{port}/mcp")


def sdk_floor(fake_url: str, port: int) -> Any:
    return process([sys.executable, str(SDK_FLOOR), fake_url, str(port)], f"http://127.0.0.1:{port}/alive")


def hosted(fake_url: str, port: int, *args: str) -> Any:
    command = [sys.executable, "-m", "oh_mcp", "--transport", "streamable-http", "--port", str(port), *args]
    return process(command, f"http://127.0.0.1:{port}/health", OPENHANDS_URL=fake_url)


def reference(fake_url: str, port: int) -> Any:
    command = [str(REFERENCE_PYTHON), str(REFERENCE), str(SPEC), fake_url, "serve", str(port)]
    return process(command, f"http://127.0.0.1:{port}/mcp")


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def family(pid: int) -> list[int]:
    """A process and its children (uvicorn workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                children.append(int(entry.name))
    return [pid, *children]


# ---- measurements --------------------------------------------------------------------------------


def size(tools: list[dict[str, Any]]) -> int:
    return len(json.dumps(tools, separators=(",", ":"), ensure_ascii=False))


def model_visible(tools: list[dict[str, Any]]) -> int:
    """What hosts pass to the model: name, description and input schema (outputSchema stays with the client)."""
    return size([{k: t[k] for k in ("name", "description", "inputSchema") if k in t} for t in tools])


async def our_tools(settings: Settings) -> list[dict[str, Any]]:
    async with Client(build_server(settings)) as client:
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]


async def tools_list_cost(fake_url: str) -> dict[str, Any]:
    base = Settings(openhands_url=fake_url)
    configs = {
        "all (default)": base,
        "read-only": base.model_copy(update={"read_only": True}),
        "toolset conversations": base.model_copy(update={"toolsets": ("conversations",)}),
        "toolset sandboxes": base.model_copy(update={"toolsets": ("sandboxes",)}),
        "toolset specs": base.model_copy(update={"toolsets": ("specs",)}),
        "toolset review": base.model_copy(update={"toolsets": ("review",)}),
    }
    rows = {}
    for name, settings in configs.items():
        tools = await our_tools(settings)
        rows[name] = {"tools": len(tools), "chars": size(tools), "model_visible_chars": model_visible(tools)}
    listed = subprocess.run(  # noqa: ASYNC221 - a one-off, before any timing starts
        [str(REFERENCE_PYTHON), str(REFERENCE), str(SPEC), fake_url, "list"], capture_output=True, text=True, check=True
    )
    ref = json.loads(listed.stdout)
    rows["FastMCP.from_openapi (reference)"] = {
        "tools": len(ref),
        "chars": size(ref),
        "model_visible_chars": model_visible(ref),
    }
    return rows


async def compactness(fake_url: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=fake_url) as http:
        raw_list = (await http.get("/api/v1/app-conversations/search", params={"limit": 20})).content
        first = json.loads(raw_list)["items"][0]["id"]
        raw_one = (await http.get("/api/v1/app-conversations", params={"ids": [first]})).content
    async with Client(build_server(Settings(openhands_url=fake_url))) as client:
        listed = await client.call_tool("list_conversations", {"limit": 20})
        one = await client.call_tool("get_conversation", {"conversation_id": first})
    ours_list = len(listed.content[0].text)  # type: ignore[union-attr]
    ours_one = len(one.content[0].text)  # type: ignore[union-attr]
    return {
        "list_conversations (20 items)": {
            "raw": len(raw_list),
            "oh_mcp": ours_list,
            "ratio": ours_list / len(raw_list),
        },
        "get_conversation": {"raw": len(raw_one), "oh_mcp": ours_one, "ratio": ours_one / len(raw_one)},
    }


async def timed(call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(WARMUP):
        await call()
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return _summary(samples)


async def timed_alternately(*calls: Callable[[], Awaitable[Any]]) -> list[dict[str, float]]:
    """Calls timed turn about, so that the machine's slow moments fall on all alike: the ratio of
    their medians is what a comparison on a shared machine can trust."""
    for _ in range(WARMUP):
        for call in calls:
            await call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(CALLS):
        for call, into in zip(calls, samples, strict=True):
            started = time.perf_counter()
            await call()
            into.append((time.perf_counter() - started) * 1000)
    return [_summary(taken) for taken in samples]


def _summary(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 3), "p95_ms": round(samples[int(len(samples) * 0.95)], 3)}


async def mcp_call(client: Client, tool: str, args: dict[str, Any]) -> None:
    result = await client.call_tool(tool, args)
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content}")


async def latency(fake_url: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    args = {"limit": 20}
    # One after the other, not turn about: in one event loop, the in-process call's leftover work
    # (its streams' clean-up, garbage) would land inside the direct call's timing and flatter the ratio.
    async with httpx2.AsyncClient(base_url=fake_url) as http:
        rows["direct httpx (reference)"] = await timed(lambda: http.get(SEARCH, params={"limit": 20}))
    async with (
        Client(build_server(Settings(openhands_url=fake_url))) as client,
        Client(sdk_server(fake_url)) as bare,
    ):
        # Turn about: the two share one event loop, so each one's leftover work falls on both alike.
        rows["oh-mcp in-process"], rows[BARE_IN_PROCESS] = await timed_alternately(
            lambda: mcp_call(client, "list_conversations", args), lambda: mcp_call(bare, "list_conversations", args)
        )
    stdio = StdioServerParameters(command=sys.executable, args=["-m", "oh_mcp"], env=env(OPENHANDS_URL=fake_url))
    async with Client(stdio) as client:
        rows["oh-mcp stdio"] = await timed(lambda: mcp_call(client, "list_conversations", args))
    port = free_port()
    with hosted(fake_url, port):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            rows["oh-mcp Streamable HTTP"] = await timed(lambda: mcp_call(client, "list_conversations", args))
    rows |= await over_http(fake_url)
    port = free_port()
    with reference(fake_url, port):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            name = "search_app_conversations_api_v1_app_conversations_search"
            rows["FastMCP.from_openapi Streamable HTTP"] = await timed(lambda: mcp_call(client, name, args))
    return with_ratios(rows)


def with_ratios(rows: dict[str, Any]) -> dict[str, Any]:
    direct = rows["direct httpx (reference)"]["median_ms"]
    for row in rows.values():
        row["x_direct"] = round(row["median_ms"] / direct, 2)
    return rows


async def over_http(fake_url: str) -> dict[str, Any]:
    """oh-mcp over stateless Streamable HTTP and a do-nothing proxy on the same stack, both driven by
    a lean raw JSON-RPC client: the proxy is the floor any server in front of OpenHands pays."""
    rows: dict[str, Any] = {}
    floor_port, sdk_port, our_port = free_port(), free_port(), free_port()
    async with httpx2.AsyncClient() as http:
        with (
            proxy_floor(fake_url, floor_port),
            sdk_floor(fake_url, sdk_port),
            hosted(fake_url, our_port, "--stateless"),
        ):
            floor_url, sdk_url, our_url = (f"http://127.0.0.1:{p}/mcp" for p in (floor_port, sdk_port, our_port))
            rows[PROXY_ROW], rows[SDK_ROW], rows[RAW_ROW] = await timed_alternately(
                lambda: http.post(floor_url, json={}),
                lambda: raw_call(http, sdk_url, "list_conversations", {"limit": 20}),
                lambda: raw_call(http, our_url, "list_conversations", {"limit": 20}),
            )
    return rows


async def slow_upstream(_fake_url: str) -> dict[str, Any]:
    """The same comparison against a fake that takes as long as a real OpenHands to answer."""
    port = free_port()
    slow_url = f"http://127.0.0.1:{port}"
    with fake(port, latency=SLOW_UPSTREAM_S):
        async with httpx2.AsyncClient(base_url=slow_url) as http:
            rows = {"direct httpx (reference)": await timed(lambda: http.get(SEARCH, params={"limit": 20}))}
        rows |= await over_http(slow_url)
    return with_ratios(rows)


def cold_start(fake_url: str, reps: int = 7) -> dict[str, Any]:
    from tests.stdio_raw import INITIALIZE

    ours, floor = [], []
    listing = [*INITIALIZE, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    for _ in range(reps):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mcp"], check=True)
        floor.append(time.perf_counter() - started)
        ours.append(until_answered([sys.executable, "-m", "oh_mcp"], listing, env(OPENHANDS_URL=fake_url)))
    our_ms, floor_ms = statistics.median(ours) * 1000, statistics.median(floor) * 1000
    return {
        "oh-mcp to first tools/list": round(our_ms, 1),
        FLOOR: round(floor_ms, 1),
        "ratio": round(our_ms / floor_ms, 2),
    }


def until_answered(command: list[str], messages: list[dict[str, Any]], environment: dict[str, str]) -> float:
    """Seconds from launch to the last request's answer on stdout: the process's exit afterwards is
    not part of a cold start (with a frozen heap it skips the final full collection, which would
    otherwise flatter oh-mcp)."""
    started = time.perf_counter()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        for line in proc.stdout:  # the answers, in order; notifications carry no id
            if json.loads(line).get("id") == messages[-1]["id"]:
                break
        answered = time.perf_counter() - started
        proc.stdin.close()
        proc.wait(timeout=20)
    return answered


RAW_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


async def raw_call(http: httpx2.AsyncClient, url: str, tool: str, args: dict[str, Any]) -> None:
    """One tools/call as a lean client sends it: a JSON-RPC POST to the stateless endpoint. The SDK's
    own client costs several ms a call itself, which would hide what the server adds."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    response = await http.post(url, json=body, headers=RAW_HEADERS)
    if response.status_code != 200 or response.json()["result"].get("isError"):
        raise RuntimeError(f"{tool} failed: {response.text[:200]}")


class Wire:
    """One keep-alive HTTP/1.1 connection that sends a prepared tools/call and reads the answer. The
    load generator shares 2 cores with the server and the fake: with httpx it was the bottleneck."""

    def __init__(self, port: int, tool: str) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}}).encode()
        headers = "".join(f"{k}: {v}\r\n" for k, v in RAW_HEADERS.items())
        self.port, self.tool = port, tool
        self.request = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def __aenter__(self) -> Wire:
        self.stream = await anyio.connect_tcp("127.0.0.1", self.port)
        self.buffered = anyio.streams.buffered.BufferedByteReceiveStream(self.stream)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stream.aclose()

    async def call(self) -> None:
        await self.stream.send(self.request)
        head = await self.buffered.receive_until(b"\r\n\r\n", 65536)
        length = next(int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        body = await self.buffered.receive_exactly(length)
        if not head.startswith(b"HTTP/1.1 200") or b'"isError":true' in body:
            raise RuntimeError(f"{self.tool} failed: {body[:200]!r}")


async def throughput_run(port: int, clients: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        async with Wire(port, "list_sandbox_specs") as wire:
            while time.perf_counter() < deadline:
                await wire.call()
                done += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(worker)
    return round(done / (time.perf_counter() - started), 1)


async def throughput(fake_url: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for workers in (1, 2):
        port = free_port()
        with hosted(fake_url, port, "--stateless", "--workers", str(workers)) as proc:
            await anyio.sleep(1.0)
            pids = family(proc.pid)
            row: dict[str, Any] = {"idle_rss_mib": rss_mib(pids if workers > 1 else [proc.pid])}
            row |= await load_levels(port)
            row["loaded_rss_mib"] = rss_mib(family(proc.pid) if workers > 1 else [proc.pid])
            rows[f"{workers} worker{'s' if workers > 1 else ''}"] = row
    port = free_port()
    with sdk_floor(fake_url, port) as proc:
        await anyio.sleep(1.0)
        row = {"idle_rss_mib": rss_mib([proc.pid])} | await load_levels(port)
        rows[SDK_ROW] = row | {"loaded_rss_mib": rss_mib([proc.pid])}
    return rows


async def load_levels(port: int) -> dict[str, float]:
    """Calls per second at each load level. Interleaved rounds, each level's median: a neighbour's
    burst on this shared machine then lands on every level alike, not on whichever ran at the time."""
    rates: dict[int, list[float]] = {n: [] for n in LOAD_LEVELS}
    for _ in range(THROUGHPUT_ROUNDS):
        for clients in LOAD_LEVELS:
            rates[clients].append(await throughput_run(port, clients, THROUGHPUT_SECONDS))
    return {f"calls_per_s_{clients}": round(statistics.median(measured), 1) for clients, measured in rates.items()}


async def connection_reuse(fake_url: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=fake_url) as stats:
        before = (await stats.get("/_fake/stats")).json()["connections"]
        async with Client(build_server(Settings(openhands_url=fake_url))) as client:
            for _ in range(100):
                await mcp_call(client, "list_conversations", {"limit": 5})
        after = (await stats.get("/_fake/stats")).json()["connections"]
    return {"tool calls": 100, "upstream connections opened": after - before}


# ---- report --------------------------------------------------------------------------------------


# ---- one ten-minute delegation: tasks against the wait loop (computed, not timed) ---------------

DELEGATION_SECONDS = 600
WAIT_SECONDS = 45  # wait_for_agent's default, under the common 60 s client timeout


def _visible(arguments: dict[str, Any], result: dict[str, Any]) -> int:
    """What the model reads of one call: the arguments it wrote and the result's text."""
    text = sum(len(block.get("text", "")) for block in result.get("content", []))
    return len(json.dumps(arguments)) + text


async def delegation_cost(_fake_url: str) -> dict[str, Any]:
    """Model-visible characters and tool calls for one delegation whose agent works ten minutes: the
    wait loop (start, then wait_for_agent every 45 s) against one task-augmented call whose result
    arrives as a new turn. Each kind of answer is measured once on the fake, then counted as often as
    the loop would see it."""
    from tests.fake.server import serve_fake
    from tests.fake.state import FakeOpenHands
    from tests.tasks.raw import in_memory

    state = FakeOpenHands()
    state.agent_run_seconds = 3600
    with serve_fake(state):
        async with in_memory(build_server(Settings(openhands_url=state.base_url, poll_interval=0.05))) as raw:
            start_args = {"message": "Add a README to acme/app and say what you did."}
            started = await raw.tool("start_conversation", start_args, tasks=False)
            conv_id = started["structuredContent"]["conversation_id"]
            wait_args = {"conversation_id": conv_id, "timeout_seconds": WAIT_SECONDS}
            running = await raw.tool("wait_for_agent", {**wait_args, "timeout_seconds": 1}, tasks=False)
            state.conversations[conv_id].running_until = 0.0
            final = await raw.tool("wait_for_agent", wait_args, tasks=False)
            state.agent_run_seconds = 0.05  # the task's own agent: its length changes nothing counted here
            created = await raw.tool("start_conversation", start_args)
            done = await raw.until(created["taskId"], "completed", seconds=60)
    waits = -(-DELEGATION_SECONDS // WAIT_SECONDS)  # the last one returns the answer
    loop_chars = _visible(start_args, started) + (waits - 1) * _visible(wait_args, running) + _visible(wait_args, final)
    immediate = created["_meta"]["com.anthropic/agent-task"]["modelImmediateResponse"]
    task_chars = len(json.dumps(start_args)) + len(immediate) + _visible({}, done["result"])
    return {
        "wait loop": {"tool_calls": 1 + waits, "model_visible_chars": loop_chars},
        "task": {"tool_calls": 1, "model_visible_chars": task_chars},
    }


def markdown(results: dict[str, Any]) -> str:
    out = [f"# oh-mcp benchmarks\n\nRun {results['when']} on {os.cpu_count()} cores; {results['seconds']} s in all.\n"]
    out += [
        "## Tool-list cost\n",
        "| configuration | tools | tools/list chars | ≈ tokens | model-visible chars |",
        "|---|---|---|---|---|",
    ]
    for name, row in results["tools_list"].items():
        out.append(
            f"| {name} | {row['tools']} | {row['chars']:,} | {row['chars'] // 4:,} | {row['model_visible_chars']:,} |"
        )
    ref = results["tools_list"]["FastMCP.from_openapi (reference)"]["chars"]
    ours = results["tools_list"]["all (default)"]["chars"]
    visible = results["tools_list"]["all (default)"]["model_visible_chars"]
    out.append(f"\noh-mcp's full list is {ours / ref:.1%} of the FastMCP-generated server's.")
    out.append(
        f"With every tool: {ours:,} of {TOOLS_LIST_BUDGET:,} chars in all, {visible:,} of {MODEL_VISIBLE_BUDGET:,} "
        "visible to the model (the budgets tests/test_tools_list.py enforces).\n"
    )
    out += ["## Result compactness\n", "| result | raw upstream JSON | oh-mcp | ratio |", "|---|---|---|---|"]
    for name, row in results["compactness"].items():
        out.append(f"| {name} | {row['raw']:,} | {row['oh_mcp']:,} | {row['ratio']:.0%} |")
    out += [
        "\n## Overhead per call (list_conversations, 20 items)\n",
        "| path | median ms | p95 ms | × direct |",
        "|---|---|---|---|",
    ]
    for name, row in results["latency"].items():
        out.append(f"| {name} | {row['median_ms']} | {row['p95_ms']} | {row['x_direct']} |")
    out += [
        f"\nThe same over HTTP, against a fake that answers in {SLOW_UPSTREAM_S * 1000:.0f} ms, like OpenHands:\n",
        "| path | median ms | p95 ms | × direct |",
        "|---|---|---|---|",
    ]
    for name, row in results["slow_upstream"].items():
        out.append(f"| {name} | {row['median_ms']} | {row['p95_ms']} | {row['x_direct']} |")
    fast, slow = results["latency"], results["slow_upstream"]
    out.append(
        f"\nThe floor is a proxy on oh-mcp's own HTTP stack that forwards the call and does nothing else; the SDK "
        "floor is a bare MCPServer whose one tool forwards the call and returns the upstream text. "
        f"oh-mcp over Streamable HTTP is {fast[RAW_ROW]['x_direct']}× the direct call against the 1 ms fake, where "
        f"that proxy is already {fast[PROXY_ROW]['x_direct']}×: oh-mcp is "
        f"{_ratio(fast, RAW_ROW, PROXY_ROW)}× that floor, the bare SDK server alone "
        f"{_ratio(fast, SDK_ROW, PROXY_ROW)}×, and oh-mcp {_ratio(fast, RAW_ROW, SDK_ROW)}× the bare SDK server. "
        f"Against a {SLOW_UPSTREAM_S * 1000:.0f} ms upstream oh-mcp is {slow[RAW_ROW]['x_direct']}× the direct call."
    )
    out.append(
        f"\nThe per-call overhead targets (at most 1.2× the bare SDK server): over stateless Streamable HTTP oh-mcp "
        f"is **{_ratio(fast, RAW_ROW, SDK_ROW)}×** the bare MCPServer making the same upstream call; in-process it is "
        f"**{_ratio(fast, 'oh-mcp in-process', BARE_IN_PROCESS)}×** a bare in-process MCPServer."
    )
    cold = results["cold_start"]
    out += ["\n## Cold start (stdio)\n", "| what | median ms |", "|---|---|"]
    out += [f"| oh-mcp to first tools/list | {cold['oh-mcp to first tools/list']} |"]
    out += [f"| {FLOOR} | {cold[FLOOR]} |"]
    out += [f"| ratio | {cold['ratio']} |"]
    out += ["\n## Throughput and memory (Streamable HTTP, stateless, raw keep-alive JSON-RPC clients)\n"]
    out += [
        "| server | calls/s, 1 client | 8 clients | 64 clients | idle RSS MiB | loaded RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["throughput"].items():
        out.append(
            f"| {name} | {row['calls_per_s_1']} | {row['calls_per_s_8']} | {row['calls_per_s_64']} "
            f"| {row['idle_rss_mib']} | {row['loaded_rss_mib']} |"
        )
    if "delegation" in results:
        rows = results["delegation"]
        out += [
            f"\n## One {DELEGATION_SECONDS // 60}-minute delegation: tasks against the wait loop (computed)\n",
            "| how | tool calls | model-visible chars |",
            "|---|---|---|",
        ]
        out += [f"| {name} | {r['tool_calls']} | {r['model_visible_chars']:,} |" for name, r in rows.items()]
        loop, task = rows["wait loop"], rows["task"]
        out.append(
            f"\nAs a task the assistant makes 1 call instead of {loop['tool_calls']} and reads "
            f"{task['model_visible_chars'] / loop['model_visible_chars']:.0%} of the characters (the host's own "
            "placeholder and notification wrapper not counted), and its turn is free meanwhile."
        )
    if "agent_running" in results:
        out += agent_running.markdown(results["agent_running"])
    reuse = results["connection_reuse"]
    opened = reuse["upstream connections opened"]
    out += [
        f"\n## Connection reuse\n\n{reuse['tool calls']} sequential tool calls opened "
        f"{opened} upstream connection(s).\n"
    ]
    return "\n".join(out)


def _ratio(rows: dict[str, Any], over: str, under: str) -> str:
    return f"{rows[over]['median_ms'] / rows[under]['median_ms']:.2f}"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Constrained layout sizes each panel around its own labels; tight_layout let the long bar
    # labels push the throughput panel's title and axis off the right edge.
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8), layout="constrained", width_ratios=[1, 1, 0.8])
    sizes = results["tools_list"]
    axes[0].barh(list(sizes), [r["chars"] for r in sizes.values()], color="#4477aa")
    axes[0].set_xscale("log")
    axes[0].set_title("tools/list size (chars, log scale)")
    lat = results["latency"]
    axes[1].barh(list(lat), [r["median_ms"] for r in lat.values()], color="#228833")
    axes[1].set_title("list_conversations median latency (ms)")
    thr = results["throughput"]
    clients = [1, 8, 64]
    for name, row in thr.items():
        axes[2].plot(clients, [row[f"calls_per_s_{n}"] for n in clients], marker="o", label=name)
    axes[2].set_xscale("log")
    axes[2].set_xticks(clients, [str(n) for n in clients])
    axes[2].set_xlabel("concurrent clients")
    axes[2].set_ylim(bottom=0)
    axes[2].set_title("calls/s by concurrent clients")
    axes[2].legend(fontsize="small", loc="lower left")
    fig.savefig(path, dpi=110, bbox_inches="tight")


async def run_all() -> dict[str, Any]:
    started = time.perf_counter()
    port = free_port()
    fake_url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with fake(port):
        for name, step in [
            ("tools_list", tools_list_cost),
            ("compactness", compactness),
            ("latency", latency),
            ("slow_upstream", slow_upstream),
            ("connection_reuse", connection_reuse),
            ("throughput", throughput),
            ("delegation", delegation_cost),
        ]:
            print(f"bench: {name} …", file=sys.stderr, flush=True)
            results[name] = await step(fake_url)
        print("bench: cold_start …", file=sys.stderr, flush=True)
        results["cold_start"] = cold_start(fake_url)
    print("bench: agent_running (real OpenHands) …", file=sys.stderr, flush=True)
    results["agent_running"] = await agent_running.agent_running()
    results["seconds"] = round(time.perf_counter() - started)
    return results


def main() -> None:
    if sys.argv[1:] == ["--chart"]:  # redraw the chart from the recorded results, without a run
        chart(json.loads((RESULTS / "results.json").read_text()), RESULTS / "chart.png")
        return
    if sys.argv[1:] in (["--agent-running"], ["--overhead"]):  # one part, added to the recorded results
        rerun_part(sys.argv[1])
        return
    if sys.argv[1:] == ["--delegation"]:  # only the computed delegation cost, added to the recorded results
        results = json.loads((RESULTS / "results.json").read_text())
        results["delegation"] = anyio.run(delegation_cost, "")
        (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "results.md").write_text(markdown(results) + "\n")
        update_readme(markdown(results))
        print(markdown(results).split("## One", 1)[1])
        return
    results = anyio.run(run_all)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "results.md").write_text(markdown(results) + "\n")
    chart(results, RESULTS / "chart.png")
    update_readme(markdown(results))
    print(markdown(results))


def rerun_part(flag: str) -> None:
    results = json.loads((RESULTS / "results.json").read_text())
    if flag == "--agent-running":
        results["agent_running"] = anyio.run(agent_running.agent_running)
    else:
        port = free_port()
        with fake(port):
            results["latency"] = anyio.run(latency, f"http://127.0.0.1:{port}")
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "results.md").write_text(markdown(results) + "\n")
    update_readme(markdown(results))
    print(markdown(results))


def update_readme(report: str) -> None:
    """Put the latest results between the README's bench markers, one heading level down."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->\n", "<!-- bench:end -->"
    body = report.split("\n", 1)[1].replace("\n## ", "\n### ").strip()
    before, rest = text.split(start, 1)
    readme.write_text(before + start + body + "\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    main()
