"""Shared fixtures: a fake OpenHands on loopback, settings pointing at it, and an in-memory MCP client.

Every request the client makes, and every answer the fake gives, is checked against the real
server's OpenAPI document, so tool tests double as contract tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client
from xdist.scheduler import LoadScopeScheduling

from oh_mcp import Settings, build_server
from oh_mcp.openhands import OpenHandsClient
from oh_mcp.runtime import client_for
from tests.fake.server import serve_fake
from tests.fake.state import FakeOpenHands
from tests.openapi_contract import OpenAPIContract, contract_event_hooks, shared_contract


class E2EInOneWorker(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """pytest-xdist's scheduling for `--dist loadgroup` (scripts/test): every test is its own unit of work,
    given to whichever worker is free, except tests/e2e/, which is one unit, so one worker runs the
    whole stage with its one shared OpenHands app server (and, since it is the longest unit, starts
    it first). xdist's own loadgroup reads `xdist_group` marks through item._nodeid, which pytest 9
    no longer uses for node ids, and so ran the stage in every worker, with an app server each."""

    def _split_scope(self, nodeid: str) -> str:
        return "tests/e2e/" if nodeid.startswith("tests/e2e/") else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadScopeScheduling | None:
    if config.getoption("dist") != "loadgroup":
        return None
    return E2EInOneWorker(config, log)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def openapi() -> OpenAPIContract:
    return shared_contract()


@pytest.fixture
def contract(openapi: OpenAPIContract) -> Iterator[OpenAPIContract]:
    """Every exchange a test's clients make is checked; any violation fails the test."""
    openapi.violations.clear()
    yield openapi
    assert openapi.violations == [], "\n".join(openapi.violations)


@pytest.fixture
def fake() -> Iterator[FakeOpenHands]:
    """The fake checks every exchange it serves, whoever the client is; any violation fails the test."""
    state = FakeOpenHands()
    with serve_fake(state):
        yield state
    assert state.contract_violations == [], "\n".join(state.contract_violations)


@pytest.fixture
def settings(fake: FakeOpenHands) -> Settings:
    return Settings(openhands_url=fake.base_url, poll_interval=0.02, timeout=10)


@pytest.fixture
def client_factory(contract: OpenAPIContract):
    def make(s: Settings) -> OpenHandsClient:
        # The fake checks every answer it gives (and every request) itself; checking answers here
        # too doubled the cost, which is high: a page of 100 events takes about a second.
        return client_for(s, retries=1, event_hooks=contract_event_hooks(contract, check_responses=False))

    return make


@pytest.fixture
async def oh(settings: Settings, client_factory) -> AsyncIterator[OpenHandsClient]:
    async with client_factory(settings) as client:
        yield client


@pytest.fixture
async def mcp_client(settings: Settings, client_factory) -> AsyncIterator[Client]:
    async with Client(build_server(settings, client_factory=client_factory), raise_exceptions=True) as client:
        yield client
