"""Bad input never crashes and never reaches OpenHands in a dangerous shape: property-based calls
of every tool and resource, and malformed JSON-RPC over stdio and HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.server import MCPServer
from mcp.types import CallToolResult

from oh_mcp import Settings, build_server
from oh_mcp.tools.params import EVENT_KINDS
from tests.calls import ALL_TOOLS
from tests.fake.state import FakeOpenHands
from tests.stdio_raw import INITIALIZE, exchange
from tests.test_http import connect, hosted
from tests.test_stdio import server_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings_(settings: Settings, tmp_path: Path) -> Settings:
    """The shared settings, under a name that does not shadow hypothesis' `settings`; local paths may
    name only an empty folder, so no drawn path reaches a real checkout."""
    return settings.model_copy(update={"local_roots": (str(tmp_path),)})


NASTY_STRINGS = [
    "../",
    "../../etc/passwd",
    "..%2f..%2f",
    "%2f",
    "a?b=c&limit=0",
    "a#frag",
    "line\nbreak",
    "\x00\x01\x1b[31m",
    "😀" * 20,
    "x" * 5000,
    "http://evil.example/",
    "0123456789abcdef0123456789abcdef",
    "01234567-89ab-cdef-0123-456789abcdef/../x",
    " ",
    "",
]
NASTY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(NASTY_STRINGS),
    st.lists(st.sampled_from(NASTY_STRINGS), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
TOOLS = [
    ("list_conversations", ["limit", "page_id", "title_contains", "sandbox_id"]),
    ("get_conversation", ["conversation_id"]),
    (
        "start_conversation",
        [
            "message",
            "repository",
            "local_path",
            "branch",
            "git_provider",
            "sandbox_id",
            "llm_model",
            "title",
            "wait",
            "timeout_seconds",
            "confirm",
        ],
    ),
    ("get_start_task", ["task_id"]),
    ("send_message", ["conversation_id", "message", "image_urls", "run", "auto_resume", "timeout_seconds"]),
    ("wait_for_agent", ["conversation_id", "timeout_seconds", "response_offset", "other_ids", "until"]),
    ("interrupt_agent", ["conversation_id"]),
    ("respond_to_action", ["conversation_id", "action_ids", "accept", "reason"]),
    ("ask_agent", ["conversation_id", "question"]),
    ("get_conversation_events", ["conversation_id", "limit", "kind", "newest_first", "page_id"]),
    ("update_conversation", ["conversation_id", "title"]),
    ("delete_conversation", ["conversation_id"]),
    (
        "get_changes",
        ["conversation_id", "path", "repository_path", "ref", "diff", "page_id", "auto_resume", "format"],
    ),
    ("read_file", ["conversation_id", "path", "offset", "auto_resume"]),
    ("apply_changes", ["conversation_id", "local_path", "patch_digest"]),
    ("list_sandboxes", ["limit", "page_id"]),
    ("get_sandbox", ["sandbox_id"]),
    ("start_sandbox", ["sandbox_spec_id", "wait", "timeout_seconds"]),
    ("pause_sandbox", ["sandbox_id"]),
    ("resume_sandbox", ["sandbox_id", "wait", "timeout_seconds"]),
    ("delete_sandbox", ["sandbox_id"]),
    ("list_sandbox_specs", ["limit", "page_id"]),
]


def arguments(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys([*names, "unexpected_extra"], NASTY))


def _bounded(args: dict[str, Any]) -> dict[str, Any]:
    # Waits are real: keep generated waits short so a valid call returns quickly.
    if isinstance(args.get("timeout_seconds"), int | float) and not isinstance(args["timeout_seconds"], bool):
        args["timeout_seconds"] = min(abs(args["timeout_seconds"]), 0.2)
    return args


async def test_every_tool_and_argument_is_covered(mcp_client: Client) -> None:
    listed = {t.name: set(t.input_schema.get("properties", {})) for t in (await mcp_client.list_tools()).tools}
    assert listed == {name: set(names) for name, names in TOOLS}


@pytest.fixture
def server(settings_: Settings, client_factory: Any) -> MCPServer[Any]:
    """One server per test, shared by its examples (as `fake` is), each example on a connection of its
    own: building one costs about 0.1 s (the tools' schemas), 80% of an example's time when each built
    its own."""
    return build_server(settings_, client_factory=client_factory)


async def _call(server: MCPServer[Any], tool: str, args: dict[str, Any]) -> CallToolResult:
    async with Client(server, raise_exceptions=True) as client:
        return await client.call_tool(tool, args)  # a crash outside the tool body would raise here


# A sync test that runs its own event loop per example, on purpose. Hypothesis ends an example by
# raising StopTest (a BaseException) from `data.draw`; drawn inside anyio's pytest runner task, that
# kills the task, asyncio logs "Task exception was never retrieved" from the garbage collector, and
# on CPython 3.11.7 the traceback's `ast.parse` can collide with another parse under way
# (cpython#106905): CI once failed with "SystemError: AST constructor recursion depth mismatch".
@pytest.mark.parametrize(("tool", "names"), TOOLS, ids=[t for t, _ in TOOLS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arguments_give_a_clean_error_or_a_correct_call(
    fake: FakeOpenHands, server: MCPServer[Any], tool: str, names: list[str], data: st.DataObject
) -> None:
    args = _bounded(data.draw(arguments(names)))
    result = anyio.run(_call, server, tool, args)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "Traceback" not in text and "internal error" not in text, text
    assert "validation error" not in text and "pydantic.dev" not in text and "Arguments" not in text, text
    if not result.is_error:
        assert result.structured_content is not None
    for method, path, _query in fake.requests:
        assert ".." not in path and "%2f" not in path.lower() and "\n" not in path, (method, path)
    # The contract fixture also fails the test if any request left the OpenAPI document's paths.


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    template=st.sampled_from(
        ["openhands://conversations/{}", "openhands://conversations/{}/events", "openhands://sandboxes/{}"]
    ),
    value=st.one_of(st.sampled_from(NASTY_STRINGS), st.text(max_size=30)),
)
async def test_resource_uris_with_any_id_answer_cleanly(
    fake: FakeOpenHands, server: MCPServer[Any], template: str, value: str
) -> None:
    # No conversation or sandbox exists, so every read is refused as invalid params (never -32603,
    # an internal error), saying whether the URI, the id's shape or the id itself was wrong.
    async with Client(server) as client:
        with pytest.raises(MCPError) as info:
            await client.read_resource(template.format(value))
    error = info.value.error
    assert error.code == -32602, error
    assert any(words in error.message for words in ("Unknown resource", "is not a", "not found")), error.message
    for _method, path, _query in fake.requests:
        assert ".." not in path and "%2f" not in path.lower()


def test_malformed_json_rpc_over_stdio_gets_protocol_errors_and_the_server_keeps_going(fake: FakeOpenHands) -> None:
    import subprocess

    lines = ["not json", '{"jsonrpc":"2.0","id":5}', "[1,2]", '{"jsonrpc":"2.0","id":6,"method":"no/such"}']
    messages = [json.dumps(m) for m in INITIALIZE] + lines + ['{"jsonrpc":"2.0","id":7,"method":"tools/list"}']
    with subprocess.Popen(
        [sys.executable, "-m", "oh_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=server_env(fake),
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n".join(messages) + "\n")
        proc.stdin.flush()
        answers = [json.loads(proc.stdout.readline()) for _ in range(6)]
        proc.stdin.close()
        proc.wait(timeout=20)
    errors = [a["error"]["code"] for a in answers if a.get("id") is None]
    assert errors == [-32700, -32600, -32600]
    assert next(a for a in answers if a.get("id") == 6)["error"]["code"] == -32601
    assert len(next(a for a in answers if a.get("id") == 7)["result"]["tools"]) == ALL_TOOLS


def test_malformed_json_rpc_over_http_gets_protocol_errors_and_the_server_keeps_going(fake: FakeOpenHands) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    with hosted(fake, "--transport", "streamable-http", "--stateless") as server:
        url = server.base + "/mcp"
        garbage = httpx.post(url, content=b"not json", headers=headers)
        no_method = httpx.post(url, content=b'{"jsonrpc":"2.0","id":5}', headers=headers)
        huge = httpx.post(
            url,
            content=b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"' + b"x" * 5_000_000 + b'"}}',
            headers=headers,
        )
        fine = httpx.post(url, json={"jsonrpc": "2.0", "id": 8, "method": "tools/list"}, headers=headers)
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == -32700
    assert no_method.status_code == 400 and no_method.json()["error"]["code"] in (-32600, -32602)
    assert huge.status_code == 413
    assert fine.status_code == 200 and len(fine.json()["result"]["tools"]) == ALL_TOOLS


def test_stdio_answers_survive_a_tool_call_with_wrong_types(fake: FakeOpenHands) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "list_sandboxes", "arguments": {"limit": "many"}},
    }
    answers = exchange([sys.executable, "-m", "oh_mcp"], [*INITIALIZE, call], server_env(fake))
    assert answers[2]["result"]["isError"] is True
    assert answers[2]["result"]["content"][0]["text"] == (
        'Error executing tool list_sandboxes: limit must be a whole number (got "many").'
    )


HEX = "0123456789abcdef0123456789abcdef"
PROVIDERS = '"github", "gitlab", "bitbucket", "bitbucket_data_center", "forgejo", "azure_devops" or "enterprise_sso"'
KINDS = ", ".join(sorted(EVENT_KINDS))
# One bad call per tool, and the exact sentence the model reads back.
BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("list_conversations", {"limit": 100000}, "limit must be between 1 and 100 (got 100000)."),
    ("get_conversation", {}, "conversation_id is required."),
    (
        "start_conversation",
        {"message": "hi", "git_provider": "svn"},
        f'git_provider must be one of {PROVIDERS} (got "svn").',
    ),
    ("get_start_task", {"task_id": "nope"}, "task_id must be 32 to 36 characters long (got 4)."),
    (
        "send_message",
        {"conversation_id": HEX, "message": "hi", "image_urls": ["https://x/a.png", "x" * 2001]},
        "image_urls[1] must be at most 2000 characters long (got 2001).",
    ),
    ("wait_for_agent", {"conversation_id": HEX, "response_offset": -1}, "response_offset must be at least 0 (got -1)."),
    ("interrupt_agent", {}, "conversation_id is required."),
    (
        "respond_to_action",
        {"conversation_id": HEX, "action_ids": [], "accept": True},
        "action_ids must have 1 to 20 items (got 0).",
    ),
    ("ask_agent", {"conversation_id": HEX}, "question is required."),
    (
        "get_conversation_events",
        {"conversation_id": HEX, "kind": "Message"},
        f'kind must be one of {KINDS} (got "Message").',
    ),
    ("update_conversation", {"conversation_id": HEX, "title": "   "}, "title must not be empty."),
    (
        "delete_conversation",
        {"conversation_id": "z" * 32},
        'conversation_id must be 32 hexadecimal digits, dashes allowed (got "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz").',
    ),
    (
        "get_changes",
        {"conversation_id": HEX, "ref": "--output=/tmp/x"},
        "ref must be a commit or branch name, without spaces and not starting with '-' (got \"--output=/tmp/x\").",
    ),
    ("read_file", {"conversation_id": HEX, "path": ""}, "path must not be empty."),
    (
        "apply_changes",
        {"conversation_id": HEX, "local_path": "", "patch_digest": "0" * 64},
        "local_path must not be empty.",
    ),
    ("list_sandboxes", {"limit": "many"}, 'limit must be a whole number (got "many").'),
    (
        "get_sandbox",
        {"sandbox_id": "../etc"},
        "sandbox_id must be letters, digits, '.', '_' or '-', starting with a letter or digit (got \"../etc\").",
    ),
    ("start_sandbox", {"wait": "maybe"}, 'wait must be true or false (got "maybe").'),
    ("pause_sandbox", {}, "sandbox_id is required."),
    (
        "resume_sandbox",
        {"sandbox_id": "s1", "timeout_seconds": 7200},
        "timeout_seconds must be between 0 and 3600 (got 7200).",
    ),
    ("delete_sandbox", {"sandbox_id": ""}, "sandbox_id must not be empty."),
    ("list_sandbox_specs", {"page_id": 5}, "page_id must be a string (got 5)."),
]


def test_every_tool_has_a_bad_call_case() -> None:
    assert [tool for tool, _, _ in BAD_CALLS] == [tool for tool, _ in TOOLS]


@pytest.mark.parametrize(("tool", "args", "sentence"), BAD_CALLS, ids=[t for t, _, _ in BAD_CALLS])
async def test_a_bad_argument_is_refused_in_one_sentence_before_any_request(
    fake: FakeOpenHands, mcp_client: Client, tool: str, args: dict[str, Any], sentence: str
) -> None:
    before = len(fake.requests)
    result = await mcp_client.call_tool(tool, args)
    assert result.is_error
    assert [getattr(c, "text", "") for c in result.content] == [f"Error executing tool {tool}: {sentence}"]
    assert len(fake.requests) == before


async def test_several_bad_arguments_get_one_sentence_each(mcp_client: Client) -> None:
    args = {"message": "", "title": "t" * 201, "wait": "maybe", "timeout_seconds": -1, "repository": 7}
    result = await mcp_client.call_tool("start_conversation", args)
    assert result.content[0].text == (  # type: ignore[union-attr]
        "Error executing tool start_conversation: message must not be empty. repository must be a string (got 7). "
        'title must be at most 200 characters long (got 201). wait must be true or false (got "maybe"). '
        "timeout_seconds must be between 0 and 3600 (got -1)."
    )


async def test_a_bad_argument_over_http_reads_the_same_as_in_memory(fake: FakeOpenHands) -> None:
    with hosted(fake, "--transport", "streamable-http") as server:
        async with connect(server.base + "/mcp") as client:
            result = await client.call_tool("list_conversations", {"limit": 100000})
    assert result.is_error
    assert result.content[0].text == (  # type: ignore[union-attr]
        "Error executing tool list_conversations: limit must be between 1 and 100 (got 100000)."
    )
