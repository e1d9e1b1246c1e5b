"""Serve the fake on an ephemeral loopback port: in a background thread for tests, or standalone
(`python -m tests.fake.server --port 3000`) for subprocesses and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .app import create_app
from .state import FakeOpenHands


class _Server(uvicorn.Server):
    """A uvicorn server that stops as soon as it is told to. uvicorn's own looks at `should_exit` every
    0.1 s and then sleeps another 0.1 s for connections to close: with a fake per test that was about
    0.16 s of every test's teardown, a minute of each run."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def stop(self) -> None:
        """Thread-safe: end the server now (forced: open requests are not waited for)."""
        self.should_exit = self.force_exit = True
        if self._wake is not None:
            loop, event = self._wake
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(event.set)

    async def main_loop(self) -> None:
        # uvicorn's loop, woken by stop() instead of only by its 0.1 s tick.
        event = asyncio.Event()
        self._wake = (asyncio.get_running_loop(), event)
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await event.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's forced shutdown, except that it waits only until the connections are closed (at most
        # the 0.1 s uvicorn always sleeps), not the whole 0.1 s. Requests still open are cut when the
        # event loop ends, as with uvicorn's own force_exit.
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.1
        while self.server_state.connections and loop.time() < deadline:  # noqa: ASYNC110 - uvicorn signals no close
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_fake(fake: FakeOpenHands, port: int = 0) -> Iterator[str]:
    """Run the fake until the block ends; yields its base URL (also set on fake.base_url)."""
    with serve_app(create_app(fake), port, name="the fake OpenHands") as bound:
        fake.base_url = f"http://127.0.0.1:{bound}"
        yield fake.base_url


@contextmanager
def serve_app(app: Any, port: int = 0, *, name: str = "the server") -> Iterator[int]:
    """Run an ASGI app on loopback in a thread until the block ends; yields its port."""
    # uvicorn binds the port itself: a socket handed in pre-bound missed TCP_NODELAY here, and
    # every keep-alive request then waited ~40 ms on delayed ACKs.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_keep_alive=30
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.005)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        # Forced: a graceful exit waits for every open request, and a test that injected a long
        # delay would hold its teardown that long (and leave the thread running past join).
        server.stop()
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError(f"{name} did not stop")


def seed(fake: FakeOpenHands, count: int) -> None:
    """Conversations with realistic titles, repositories and a finished agent turn each."""
    fake.agent_run_seconds = 0
    for i in range(count):
        made = fake.add_conversation(title=f"Fix flaky test #{i} in the payments service", repository="acme/payments")
        record = fake.conversation(made["id"])
        assert record is not None
        fake.deliver(record, f"Please fix the flaky test number {i} and open a PR.", run=True)
        fake.conversation(made["id"])  # advances the agent's turn


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenHands on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--session-api-key")
    parser.add_argument("--seed", type=int, default=0, help="conversations to create, each with one agent turn")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every /api/v1 answer")
    parser.add_argument(
        "--no-contract-check", action="store_true", help="skip checking each exchange against the OpenAPI documents"
    )
    args = parser.parse_args()
    fake = FakeOpenHands()
    fake.check_contract = not args.no_contract_check
    fake.session_api_key = args.session_api_key
    seed(fake, args.seed)
    if args.latency > 0:
        # A real OpenHands answers in tens of milliseconds; this fake answers in about one.
        fake.inject("*", r"^/api/v1/", None, delay=args.latency, times=sys.maxsize)
    with serve_fake(fake, args.port) as url:
        print(url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
