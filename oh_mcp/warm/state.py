"""Which sandboxes are oh-mcp's own warm spares, kept where every oh-mcp process of one user finds them.

OpenHands has no way to label a sandbox (POST /api/v1/sandboxes takes only a spec id), so ownership
lives here: one small JSON file per owner (a hash of the OpenHands URL and the API key, never the key
itself) in a cache folder, read and written only under an exclusive lock on a sibling file. The file
outlives `kill -9` and restarts, so spares are adopted rather than leaked; stateless HTTP workers of
one key share it, so spares do not multiply with the workers; another key's file is never read.
The file holds sandbox ids and times, never a secret.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
from pydantic import BaseModel, ValidationError

LOCK_POLL_SECONDS = 0.02
# A reservation is a sandbox being created right now; past this age its maker is taken for dead.
RESERVATION_SECONDS = 300.0


class Spare(BaseModel):
    id: str
    created: float


class Reservation(BaseModel):
    pid: int
    at: float
    token: str


class PoolState(BaseModel):
    spares: list[Spare] = []
    reserved: list[Reservation] = []
    holders: list[int] = []  # pids of the oh-mcp processes on this machine serving this owner
    last_used: float = 0.0  # when a spare was last taken or a process started: the idle clock

    def live_reservations(self) -> list[Reservation]:
        now = time.time()
        return [r for r in self.reserved if now - r.at < RESERVATION_SECONDS and pid_alive(r.pid)]

    def live_holders(self) -> list[int]:
        return [pid for pid in self.holders if pid_alive(pid)]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "oh-mcp" / "warm"


class StateFile:
    """One owner's state file and its lock."""

    def __init__(self, folder: Path, owner: str) -> None:
        self.path = folder / f"{owner}.json"
        self._lock = folder / f"{owner}.lock"

    def peek(self) -> PoolState:
        """Read without the lock, for display: a torn read shows as empty, never as an error."""
        return _read(self.path)

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[PoolState]:
        """The state, held exclusively across processes; written back (atomically) when the block ends
        without an error."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await _acquire(fd)
            state = _read(self.path)
            yield state
            _write(self.path, state)
        finally:
            os.close(fd)  # closing releases the flock, also when the process dies

    def save(self, state: PoolState) -> None:
        """Write while holding `locked()`: each created sandbox is recorded the moment it exists."""
        _write(self.path, state)


async def _acquire(fd: int) -> None:
    # Polled, not blocking in a thread: a cancelled caller then never leaves a thread holding the lock.
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await anyio.sleep(LOCK_POLL_SECONDS)


def _read(path: Path) -> PoolState:
    try:
        return PoolState.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return PoolState()  # none yet, or unreadable: start over rather than fail a start


def _write(path: Path, state: PoolState) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(state.model_dump_json())
    os.replace(tmp, path)
    with suppress(OSError):
        os.chmod(path, 0o600)
