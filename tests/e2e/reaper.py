"""Tie the e2e stage's OpenHands processes to the test process, so they end when it ends, however it ends.

Every process the stage starts for an app server carries MARKER=<value> in its environment: the
launcher, and the agent servers the app server spawns (they inherit its environment, and may
outlive it). `kill_marked(value)` finds and kills them all by that marker.

`spawn_tied(argv, env, marker)` first starts a watchdog (this file, run as a script, stdlib only),
then the process. The watchdog lives in its own session, so a signal sent to the test's process
group (Ctrl-C, `timeout`) does not reach it, and it blocks reading its stdin, a pipe whose only
writer is the test process. When the test process exits, even by SIGKILL or pytest-timeout's
`os._exit`, the kernel closes that pipe, the watchdog reads EOF and kills every marked process.
On a normal stop the harness cleans up first and then closes the pipe, so the watchdog finds
nothing left. Given a directory (the server's files), the watchdog removes it after the kill.
(PR_SET_PDEATHSIG alone would not do: it reaches only direct children, and the agent servers are
the app server's children.)

Run as `python reaper.py <marker> [<directory to remove>]`; it prints "watching" once it is ready.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "OH_MCP_E2E_RUN"
READY = b"watching\n"
WATCHDOG_START_TIMEOUT = 30.0


def marked_pids(marker_value: str) -> list[int]:
    """Processes whose environment carries MARKER=marker_value: the app server and all it spawned."""
    needle = f"{MARKER}={marker_value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_marked(marker_value: str, grace: float = 5.0) -> list[str]:
    """SIGCONT (paused sandboxes are SIGSTOPped), SIGTERM, then SIGKILL what is left; returns what was killed."""
    pids = marked_pids(marker_value)
    if not pids:
        return []
    killed = [f"{pid} {cmdline(pid)[:120]}" for pid in pids]
    signal_all(pids, signal.SIGCONT)
    signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and marked_pids(marker_value):
        time.sleep(0.1)
    for _ in range(3):
        left = marked_pids(marker_value)
        if not left:
            break
        signal_all(left, signal.SIGKILL)
        time.sleep(0.2)
    return killed


@dataclass
class Tied:
    """A process started under a watchdog that kills everything carrying `marker` when the test process ends."""

    process: subprocess.Popen[bytes]
    watchdog: subprocess.Popen[bytes]
    marker: str

    def release(self) -> None:
        """After the caller's own clean-up: close the watchdog's pipe and let it sweep and exit."""
        release_watchdog(self.watchdog)


def release_watchdog(watchdog: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if watchdog.stdin is not None:
        with contextlib.suppress(OSError):
            watchdog.stdin.close()
    try:
        watchdog.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait(timeout=5)
    if watchdog.stdout is not None:
        watchdog.stdout.close()


def start_watchdog(marker: str, remove: Path | None = None) -> subprocess.Popen[bytes]:
    """The watchdog for `marker` (and `remove`), running and reading its stdin when this returns."""
    env = {k: v for k, v in os.environ.items() if k != MARKER}  # it must never match its own sweep
    watchdog = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), marker, *([str(remove)] if remove else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert watchdog.stdout is not None
    ready, _, _ = select.select([watchdog.stdout], [], [], WATCHDOG_START_TIMEOUT)
    line = watchdog.stdout.readline() if ready else b""
    if line != READY:
        watchdog.kill()
        watchdog.wait(timeout=5)
        raise RuntimeError(f"the e2e watchdog did not start (said {line!r}, exit code {watchdog.poll()})")
    return watchdog


def spawn_tied(argv: list[str], *, env: dict[str, str], marker: str, remove: Path | None = None, **popen: Any) -> Tied:
    """Popen(argv) in a new session, under a watchdog; `env` must carry MARKER=marker. The watchdog
    removes `remove` (a directory) when it is released or the test process dies."""
    if env.get(MARKER) != marker:
        raise ValueError(f"the environment must carry {MARKER}={marker}, or the watchdog cannot find the process")
    watchdog = start_watchdog(marker, remove)
    try:
        process = subprocess.Popen(argv, env=env, start_new_session=True, **popen)
    except BaseException:
        release_watchdog(watchdog)
        raise
    return Tied(process=process, watchdog=watchdog, marker=marker)


def watch(marker: str, remove: str | None = None) -> None:
    """Block until stdin reaches EOF (the test process closed it or died), then kill every marked process
    and remove `remove`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    while sys.stdin.buffer.read(4096):
        pass
    killed = kill_marked(marker)
    if killed:
        print(f"[e2e watchdog] the test process is gone; killed: {'; '.join(killed)}", file=sys.stderr, flush=True)
    if remove:
        shutil.rmtree(remove, ignore_errors=True)


if __name__ == "__main__":
    watch(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
