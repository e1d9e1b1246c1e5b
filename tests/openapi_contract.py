"""Checks requests and responses against the OpenAPI document of the real OpenHands 1.11.0.

The document is read from ../shared/spec beside the repository (CI lays shared/ there too), or
from OH_MCP_SPEC_DIR. Used two ways: the fake's own contract tests, and an httpx hook on every
client in the test suite, so neither the client nor the fake can drift from the real server.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_FILE = "openhands-openapi-1.11.0.json"
BASE = "urn:openhands-openapi"
# Statuses the spec's prose documents but the OpenAPI document does not declare on every route.
UNDECLARED_ERRORS = {400, 401, 403, 404, 405, 409, 410, 429, 500, 502, 503, 504}


class ContractViolation(AssertionError):
    """A request or response that the real server's OpenAPI document does not allow."""


def spec_path() -> Path:
    env = os.environ.get("OH_MCP_SPEC_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "spec"
    path = root / SPEC_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the contract tests need ../shared/spec (or OH_MCP_SPEC_DIR)")
    return path


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class OpenAPIContract:
    def __init__(self, path: Path | None = None) -> None:
        self.doc: dict[str, Any] = json.loads((path or spec_path()).read_text())
        resource = Resource.from_contents(self.doc | {"$id": BASE}, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(BASE, resource)
        self.violations: list[str] = []
        self._validators: dict[str, Draft202012Validator] = {}
        self._routes = sorted(
            ((self._regex(p), p) for p in self.doc["paths"]),
            key=lambda item: item[1].count("{"),  # literal segments win over templates
        )

    @staticmethod
    def _regex(template: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", template) + "$")

    def match(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for regex, template in self._routes:
            if regex.match(path):
                operation = self.doc["paths"][template].get(method.lower())
                if operation is not None:
                    return template, operation
        raise ContractViolation(f"{method} {path}: no such operation in the OpenAPI document")

    def _validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=self.registry)
            self._validators[pointer] = validator
        return validator

    def _check(self, pointer: str, instance: Any, what: str) -> None:
        errors = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(map(str, first.path)) or "(root)"
            raise ContractViolation(f"{what}: at {where}: {first.message[:300]}")

    def validate_request(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        template, operation = self.match(method, path)
        what = f"{method} {template}"
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        for name in query:
            if name not in declared:
                raise ContractViolation(f"{what}: query parameter {name!r} is not declared")
        for name, param in declared.items():
            if param.get("required") and name not in query:
                raise ContractViolation(f"{what}: required query parameter {name!r} is missing")
            index = [i for i, p in enumerate(operation["parameters"]) if p["name"] == name][0]
            pointer = f"/paths/{_escape(template)}/{method.lower()}/parameters/{index}/schema"
            values = query.get(name, [])
            if param.get("schema", {}).get("type") == "array":
                self._check(pointer, values, f"{what}: query {name}")
                continue
            for value in values:
                self._check_param(pointer, value, f"{what}: query {name}")
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            if body is not None:
                raise ContractViolation(f"{what}: takes no JSON body")
            return
        if body is None and operation["requestBody"].get("required"):
            raise ContractViolation(f"{what}: the JSON body is required")
        if body is not None:
            self._check(
                f"/paths/{_escape(template)}/{method.lower()}/requestBody/content/application~1json/schema", body, what
            )

    def _check_param(self, pointer: str, raw: str, what: str) -> None:
        candidates: list[Any] = [raw]
        if raw in ("true", "false"):
            candidates.insert(0, raw == "true")
        if re.fullmatch(r"-?\d+", raw):
            candidates.insert(0, int(raw))
        for value in candidates:
            if self._validator(pointer).is_valid(value):
                return
        raise ContractViolation(f"{what}: {raw!r} does not fit the declared schema")

    def validate_response(self, method: str, path: str, status: int, body: Any) -> None:
        template, operation = self.match(method, path)
        what = f"{method} {template} -> {status}"
        responses = operation.get("responses", {})
        declared = responses.get(str(status))
        if declared is None:
            if status not in UNDECLARED_ERRORS:
                raise ContractViolation(f"{what}: status not declared")
        if status >= 400:
            if not isinstance(body, dict) or not ({"detail"} <= set(body) or {"error"} <= set(body)):
                raise ContractViolation(f"{what}: error body is not {{'detail': …}} or {{'error': …}}: {body!r:.200}")
        if declared is None or "application/json" not in declared.get("content", {}):
            return
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{status}/content/application~1json/schema"
        self._check(pointer, body, what)


def _body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")


def contract_event_hooks(
    contract: OpenAPIContract, *, check_requests: bool = True, check_responses: bool = True
) -> dict[str, list[Any]]:
    """httpx hooks that check each /api/v1 exchange and record violations on the contract
    (raising inside a hook would surface as an oh-mcp bug rather than a contract failure)."""

    async def on_request(request: httpx.Request) -> None:
        if not check_requests or not request.url.path.startswith("/api/v1/"):
            return
        query: dict[str, list[str]] = {}
        for key, value in request.url.params.multi_items():
            query.setdefault(key, []).append(value)
        try:
            contract.validate_request(request.method, request.url.path, query, _body(request.content))
        except ContractViolation as exc:
            contract.violations.append(f"request {exc}")

    async def on_response(response: httpx.Response) -> None:
        request = response.request
        if not check_responses or not request.url.path.startswith("/api/v1/"):
            return
        await response.aread()
        try:
            contract.validate_response(request.method, request.url.path, response.status_code, _body(response.content))
        except ContractViolation as exc:
            contract.violations.append(f"response {exc}")

    return {"request": [on_request], "response": [on_response]}
