"""Serve the fake on an ephemeral loopback port: in a background thread for tests, or standalone
(`python -m tests.fake.server --port 3000`) for subprocesses and benchmarks."""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from .app import create_app
from .state import FakeOpenHands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_fake(fake: FakeOpenHands, port: int = 0) -> Iterator[str]:
    """Run the fake until the block ends; yields its base URL (also set on fake.base_url)."""
    # uvicorn binds the port itself: a socket handed in pre-bound missed TCP_NODELAY here, and
    # every keep-alive request then waited ~40 ms on delayed ACKs.
    config = uvicorn.Config(
        create_app(fake), host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpenHands did not start")
        time.sleep(0.005)
    bound = server.servers[0].sockets[0].getsockname()[1]
    fake.base_url = f"http://127.0.0.1:{bound}"
    try:
        yield fake.base_url
    finally:
        # Forced: a graceful exit waits for every open request, and a test that injected a long
        # delay would hold its teardown that long (and leave the thread running past join).
        server.should_exit = server.force_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError("the fake OpenHands did not stop")


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
