"""The e2e stage's servers end with the test process, even when it is SIGKILLed (not an e2e test: no OpenHands).

A stand-in for pytest starts, through `spawn_tied` (what the harness starts the launcher with), a
stand-in launcher in its own session, which spawns two stand-in agent servers: one in its process
group, one in a session of its own (a process group kill would miss it). Then the stand-in pytest
is SIGKILLed, and everything carrying the marker must be gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import reaper
from .reaper import MARKER, kill_marked, marked_pids

SLEEP = "import time; time.sleep(120)"
LAUNCHER = (
    "import subprocess, sys, time\n"
    f"subprocess.Popen([sys.executable, '-c', {SLEEP!r}])\n"
    f"subprocess.Popen([sys.executable, '-c', {SLEEP!r}], start_new_session=True)\n"
    "time.sleep(120)\n"
)
PARENT = (
    "import os, sys, time\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from reaper import MARKER, spawn_tied\n"
    "from pathlib import Path\n"
    "marker, files = sys.argv[2], Path(sys.argv[3])\n"
    f"tied = spawn_tied([sys.executable, '-c', {LAUNCHER!r}], env=os.environ | {{MARKER: marker}}, marker=marker,"
    " remove=files)\n"
    "print(tied.watchdog.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    return state != "Z"


def test_a_sigkilled_test_process_takes_its_servers_and_their_children_with_it(tmp_path: Path) -> None:
    marker = "reaper-test-" + uuid.uuid4().hex
    folder = str(Path(reaper.__file__).parent)
    files = tmp_path / "server-files"
    (files / "sandboxes").mkdir(parents=True)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, folder, marker, str(files)], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        watchdog = int(parent.stdout.readline())
        assert wait_until(lambda: len(marked_pids(marker)) == 3, 30), marked_pids(marker)
        tree = marked_pids(marker)

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)

        assert wait_until(lambda: not marked_pids(marker), 20), f"still alive: {marked_pids(marker)} (were {tree})"
        assert wait_until(lambda: not alive(watchdog), 10), "the watchdog did not exit after its sweep"
        assert not files.exists(), "the watchdog left the server's files behind"
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
        kill_marked(marker, grace=1)


def test_a_normal_release_leaves_the_watchdog_nothing_to_do() -> None:
    marker = "reaper-test-" + uuid.uuid4().hex
    tied = reaper.spawn_tied([sys.executable, "-c", SLEEP], env=os.environ | {MARKER: marker}, marker=marker)
    try:
        # Popen returns once the child's exec has begun (close-on-exec ends its error pipe), which is
        # before the kernel has set up the new program's environment: /proc/<pid>/environ may read
        # empty for a moment, longer on a busy machine (seen with two test workers on two cores).
        assert wait_until(lambda: marked_pids(marker) == [tied.process.pid], 10), marked_pids(marker)
        tied.process.kill()
        tied.process.wait(timeout=10)
        tied.release()
        assert tied.watchdog.returncode == 0
    finally:
        kill_marked(marker, grace=1)
        # On a failure above, leave no running Popen behind for a later test's unraisable-warning check.
        tied.process.kill()
        tied.process.wait(timeout=10)
        reaper.release_watchdog(tied.watchdog)
