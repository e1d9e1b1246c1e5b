"""Fixtures of the end-to-end stage: the OpenHands install and the fake LLM live for the session; app servers
are module-scoped (test_journey.py shares one without a key, test_auth.py gets one with SESSION_API_KEY), so
two servers never run at once."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_llm import FakeLLM, serve_fake_llm
from .harness import AppServer, E2EError, ensure_openhands, running_app_server, say


@pytest.fixture(scope="session")
def openhands_python() -> Path:
    try:
        install = ensure_openhands()
    except E2EError as exc:
        pytest.fail(f"installing OpenHands for the e2e stage failed: {exc}", pytrace=False)
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


@pytest.fixture(scope="module")
def app_server(openhands_python: Path, fake_llm: FakeLLM) -> Iterator[AppServer]:
    """A real app server without SESSION_API_KEY (no auth, the default local setup)."""
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
