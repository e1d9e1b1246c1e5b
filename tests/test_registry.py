"""server.json, the MCP Registry entry: valid against the published 2025-12-11 schema kept in
registry/, and true to the server it describes (its package, environment variables, README marker)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from oh_mcp.config import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "registry" / "server.schema.2025-12-11.json"
# The sha256 of https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json: the
# stored copy is the published bytes, not an edited one (registry/README.md says where it came from).
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"


def server_json() -> dict[str, Any]:
    return dict(json.loads((ROOT / "server.json").read_text()))


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_the_stored_schema_is_the_published_2025_12_11_one() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA.read_text())["$id"] == server_json()["$schema"]


def test_server_json_is_valid_against_the_schema() -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(server_json())]
    assert errors == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.update(description="x" * 101),
        lambda d: d.update(name="oh-mcp"),
        lambda d: d["packages"][0].update(version="latest"),
        lambda d: d["remotes"][0].update(url="not a url"),
    ],
)
def test_the_schema_catches_what_the_registry_would_refuse(breakage: Any) -> None:
    broken = copy.deepcopy(server_json())
    breakage(broken)
    assert list(validator().iter_errors(broken)), "the schema let a broken server.json through"


def test_the_package_is_this_pypi_project_over_stdio() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (package,) = server_json()["packages"]
    assert (package["registryType"], package["identifier"]) == ("pypi", project["name"])
    assert package["transport"] == {"type": "stdio"} and package["runtimeHint"] == "uvx"
    assert "oh-mcp" in project["scripts"], "uvx runs the command named like the package"


def test_every_variable_is_one_the_server_reads_and_only_the_key_is_secret() -> None:
    (package,) = server_json()["packages"]
    variables = {v["name"]: v for v in package["environmentVariables"]}
    read = {o.env: o for o in OPTIONS}
    assert set(variables) <= set(read), set(variables) - set(read)
    assert {name for name, v in variables.items() if v.get("isSecret")} == {"OPENHANDS_API_KEY"}
    assert all(read[name].secret == bool(v.get("isSecret")) for name, v in variables.items())
    assert variables["OPENHANDS_URL"]["default"] == "http://localhost:3000"


def test_the_remote_example_asks_for_its_credentials_as_secrets() -> None:
    (remote,) = server_json()["remotes"]
    assert remote["type"] == "streamable-http" and remote["url"].endswith("/mcp")
    headers = {h["name"]: h for h in remote["headers"]}
    assert headers["Authorization"]["isSecret"] and headers["X-OpenHands-API-Key"]["isSecret"]
    assert not any("value" in h and "{" not in h["value"] for h in headers.values()), "no literal credential"


def test_the_readme_carries_the_registry_ownership_marker() -> None:
    # The registry checks the package's PyPI description (our README) for this line.
    markers = re.findall(r"mcp-name: (\S+)", (ROOT / "README.md").read_text())
    assert markers == [server_json()["name"]]
