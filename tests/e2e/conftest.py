"""Fixtures of the end-to-end stage, and its timeouts.

The OpenHands install happens once, before the first test, outside any test's timeout. The fake LLM
and the app server without a key live for the whole session: every test makes, and deletes, its own
conversations, and no test on it counts or lists all of them. test_auth.py's keyed app server is its
own (it asserts an empty conversation list), module-scoped. The two may run at once (a module that
sorts before test_auth.py starts the shared one first): each claims its own agent-server port block
and its own app-server port.

Every e2e test runs under pytest-timeout's thread method, which fires however the test is stuck: the
signal method raises inside the event loop, and anyio's runner then closes the loop with the test
still running; if the test's clean-up turns the CancelledError into another error, anyio's runner
task goes back to waiting for the next test and `asyncio.Runner.close()` waits on it forever (seen
in test_steering.py). The thread method dumps every thread's stack and ends pytest instead; the
watchdogs (reaper.py) then stop the OpenHands servers. Each test's own anyio deadline fires first
and fails just that test; the pytest-timeout is the backstop. pytest-timeout stops its timer when a
test fails, so the teardown after a failure gets a guard of its own (pytest_runtest_teardown).
"""

from __future__ import annotations

import faulthandler
import os
import secrets
import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .fake_llm import FakeLLM, serve_fake_llm
from .harness import START_TIMEOUT, AppServer, running_app_server
from .install import E2EError, Install, ensure_openhands, say
from .standalone import StandaloneAgentServer

# Backstop per e2e test, setup and teardown included (timeout_func_only stays false): an app server
# start, the longest test deadline (300 s), and its teardown.
E2E_TIMEOUT = START_TIMEOUT + 300 + 60
# A server's stop is bounded by its own waits (about 45 s at worst).
E2E_TEARDOWN_TIMEOUT = 120.0

INSTALL = pytest.StashKey[Install | E2EError]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            seconds, method = declared_timeout(item)
            item.add_marker(pytest.mark.timeout(seconds or E2E_TIMEOUT, method=method or "thread"), append=False)


def declared_timeout(item: pytest.Item) -> tuple[float | None, str | None]:
    """What a test's own timeout marker says, if it has one: (seconds, method)."""
    marker = item.get_closest_marker("timeout")
    if marker is None:
        return None, None
    seconds = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    method = marker.args[1] if len(marker.args) > 1 else marker.kwargs.get("method")
    return seconds, method


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Guard an e2e test's teardown on its own: pytest-timeout stops its timer as soon as a test fails
    (in pytest_exception_interact), so the teardown after a failure would otherwise run unguarded."""
    if item.get_closest_marker("e2e") is None:
        return (yield)
    timer = threading.Timer(E2E_TEARDOWN_TIMEOUT, abort_teardown, args=(item,))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()


def abort_teardown(item: pytest.Item) -> None:
    """Like pytest-timeout's thread method: every thread's stack, then end pytest (the watchdogs clean up)."""
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    print(f"\n+++ teardown of {item.nodeid} still running after {E2E_TEARDOWN_TIMEOUT:g} s +++", file=sys.stderr)
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failed e2e test shows the OpenHands servers' log tails: a 500 from a start says nothing of why."""
    report = yield
    if report.failed and item.get_closest_marker("e2e") is not None:
        for server in servers_of(item):
            report.sections.append((f"OpenHands logs ({server.url})", server.diagnostics()))
    return report


def servers_of(item: pytest.Item) -> list[AppServer | StandaloneAgentServer]:
    funcargs = getattr(item, "funcargs", {})
    return [value for value in funcargs.values() if isinstance(value, AppServer | StandaloneAgentServer)]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install (or reuse) OpenHands now, before any test runs, so no test's timeout has to cover it."""
    if session.config.option.collectonly:
        return
    if not any("openhands_python" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    try:
        result: Install | E2EError = ensure_openhands()  # bounded: every step has its own subprocess timeout
    except E2EError as exc:
        result = exc
    session.config.stash[INSTALL] = result


@pytest.fixture(scope="session")
def openhands_python(request: pytest.FixtureRequest) -> Path:
    install = request.config.stash.get(INSTALL, None)
    if install is None:  # collected some other way: install here
        try:
            install = ensure_openhands()
        except E2EError as exc:
            install = exc
    if isinstance(install, E2EError):
        pytest.fail(f"installing OpenHands for the e2e stage failed: {install}", pytrace=False)
    how = "reused" if install.reused else "installed"
    say(f"OpenHands venv {how} in {install.seconds:.1f} s: {install.python}")
    return install.python


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    # A second per answer: real models take a while, so wait_for_agent really waits on a running agent.
    with serve_fake_llm(FakeLLM(latency=1.0)) as llm:
        say(f"fake LLM at {llm.base_url}")
        yield llm
        say(f"fake LLM served {llm.summary()}")


@pytest.fixture(scope="session")
def app_server(openhands_python: Path, fake_llm: FakeLLM) -> Iterator[AppServer]:
    """A real app server without SESSION_API_KEY (no auth, the default local setup), shared by the stage."""
    yield from _server(openhands_python, fake_llm, None)


@pytest.fixture(scope="module")
def keyed_app_server(openhands_python: Path, fake_llm: FakeLLM) -> Iterator[AppServer]:
    """A real app server started with SESSION_API_KEY; its key is `server.session_api_key`."""
    yield from _server(openhands_python, fake_llm, "e2e-" + secrets.token_hex(16))


def _server(python: Path, llm: FakeLLM, key: str | None) -> Iterator[AppServer]:
    try:
        context = running_app_server(python, llm.base_url, session_api_key=key)
        server = context.__enter__()
    except E2EError as exc:
        pytest.fail(f"the OpenHands app server did not come up: {exc}", pytrace=False)
    try:
        yield server
    finally:
        context.__exit__(None, None, None)
