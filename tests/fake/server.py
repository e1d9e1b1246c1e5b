"""Serve the fake on an ephemeral loopback port: in a background thread for tests, or standalone
(`python -m tests.fake.server --port 3000`) for subprocesses and benchmarks."""

from __future__ import annotations

import argparse
import socket
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
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(fake), log_level="warning", lifespan="off", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpenHands did not start")
        time.sleep(0.005)
    try:
        yield fake.base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenHands on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--session-api-key")
    args = parser.parse_args()
    fake = FakeOpenHands()
    fake.session_api_key = args.session_api_key
    with serve_fake(fake, args.port) as url:
        print(url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
