"""Settings: flags over env over defaults, and one clear line with exit code 2 for bad values."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from oh_mcp.config import ConfigError, Settings


def test_defaults_point_at_a_local_openhands() -> None:
    settings = Settings.load([], env={})
    assert settings.openhands_url == "http://localhost:3000"
    assert settings.api_key is None
    assert settings.timeout == 30.0
    assert settings.toolsets == ("all",)
    assert settings.source_of("openhands_url") == "default"


def test_flags_win_over_environment() -> None:
    env = {"OPENHANDS_URL": "http://env.example:3000", "OH_MCP_TIMEOUT": "5"}
    settings = Settings.load(["--openhands-url", "https://flag.example"], env=env)
    assert settings.openhands_url == "https://flag.example"
    assert settings.timeout == 5.0
    assert settings.source_of("openhands_url") == "--openhands-url"
    assert settings.source_of("timeout") == "OH_MCP_TIMEOUT"


def test_lists_and_booleans_are_parsed_from_the_environment() -> None:
    env = {"OH_MCP_TOOLSETS": "conversations, specs", "OH_MCP_READ_ONLY": "yes", "OH_MCP_EXCLUDE_TOOLS": ""}
    settings = Settings.load([], env=env)
    assert settings.toolsets == ("conversations", "specs")
    assert settings.read_only is True
    assert settings.exclude_tools == ()


def test_local_roots_take_several_folders_or_a_comma_list_and_may_be_given_empty() -> None:
    # An MCP Bundle host expands its multiple-folder field into separate arguments after the flag.
    env = {"OH_MCP_LOCAL_ROOTS": "/from/env"}
    assert Settings.load(["--local-roots", "/a", "/b,/c"], env=env).local_roots == ("/a", "/b", "/c")
    assert Settings.load(["--local-roots", "/a,/b"], env=env).local_roots == ("/a", "/b")
    assert Settings.load(["--local-roots"], env=env).local_roots == ()  # the person chose no folder
    assert Settings.load([], env=env).local_roots == ("/from/env",)


def test_the_agent_server_template_is_read_from_flag_or_environment() -> None:
    env = {"OH_MCP_AGENT_SERVER_URL": "http://host.docker.internal:{port}/"}
    assert Settings.load([], env=env).agent_server_url == "http://host.docker.internal:{port}"
    flagged = Settings.load(["--agent-server-url", "https://{host}.lan:{port}"], env=env)
    assert flagged.agent_server_url == "https://{host}.lan:{port}"
    assert flagged.source_of("agent_server_url") == "--agent-server-url"


def test_the_api_key_is_secret_in_repr_and_dump() -> None:
    settings = Settings.load([], env={"OPENHANDS_API_KEY": "sk-very-secret-123"})
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-very-secret-123"
    assert "sk-very-secret-123" not in repr(settings)
    assert "sk-very-secret-123" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OPENHANDS_URL": "localhost:3000"}, "invalid OPENHANDS_URL: must be an http:// or https:// URL"),
        ({"OH_MCP_TIMEOUT": "-1"}, "invalid OH_MCP_TIMEOUT: Input should be greater than 0"),
        ({"OH_MCP_TIMEOUT": "soon"}, "invalid OH_MCP_TIMEOUT"),
        ({"OH_MCP_READ_ONLY": "maybe"}, "OH_MCP_READ_ONLY must be true or false"),
        ({"OH_MCP_TRANSPORT": "carrier-pigeon"}, "invalid OH_MCP_TRANSPORT"),
        ({"OH_MCP_AGENT_SERVER_URL": "http://box:{pot}"}, "invalid OH_MCP_AGENT_SERVER_URL: only {scheme}, {host}"),
        ({"OH_MCP_AGENT_SERVER_URL": "openhands:{port}"}, "invalid OH_MCP_AGENT_SERVER_URL: must be an http://"),
    ],
)
def test_a_bad_value_is_one_readable_error(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load([], env=env)
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


def _run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))} | env
    return subprocess.run(
        [sys.executable, "-m", "oh_mcp", *args], capture_output=True, text=True, env=full_env, timeout=60, check=False
    )


def test_cli_refuses_a_bad_configuration_with_exit_code_2_and_one_line() -> None:
    result = _run_cli(OH_MCP_TIMEOUT="-3")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "oh-mcp: error: invalid OH_MCP_TIMEOUT: Input should be greater than 0"
    ]


def test_cli_refuses_an_unknown_toolset_and_lists_the_valid_ones() -> None:
    result = _run_cli("--toolsets", "conversations,nope")
    assert result.returncode == 2
    assert "unknown toolset 'nope' in --toolsets; valid: conversations, review, sandboxes, specs, all" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_help_and_version_work() -> None:
    help_run = _run_cli("--help")
    assert help_run.returncode == 0
    assert "--openhands-url" in help_run.stdout and "[env OPENHANDS_URL]" in help_run.stdout
    assert _run_cli("--version").stdout.strip().startswith("oh-mcp ")


def test_cli_tools_lists_enabled_and_disabled_tools() -> None:
    result = _run_cli("tools", "--read-only")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith("list_conversations ") for line in lines)
    assert any(line.startswith("send_message ") and "read-only" in line for line in lines)


def test_approvals_default_to_asking_the_person_and_take_model_or_off() -> None:
    assert Settings.load([], env={}).approvals == "elicit"
    assert Settings.load(["--approvals", "off"], env={"OH_MCP_APPROVALS": "model"}).approvals == "off"
    assert Settings.load([], env={"OH_MCP_APPROVALS": "model"}).source_of("approvals") == "OH_MCP_APPROVALS"
    with pytest.raises(ConfigError, match="OH_MCP_APPROVALS"):
        Settings.load([], env={"OH_MCP_APPROVALS": "sometimes"})
