"""Warm sandboxes: N RUNNING, unused sandboxes kept ready for the next start_conversation, which then
skips the ~10 s a sandbox takes to start. Knows OpenHands and the state file, nothing of MCP.

The rules, each enforced here:
- only sandboxes this pool created are ever taken (their ids are in the owner's state file);
- a taken spare leaves the file at once, and one a conversation has used is dropped, never handed out;
- a spare that is gone or failed is dropped (a failed one deleted) and replaced;
- all processes of one owner count the same spares and the sandboxes being created, so HTTP workers
  keep N together, and a restart after `kill -9` adopts the spares it finds;
- after `idle_pause` seconds without a start, running spares are paused; the next start resumes them;
- when the last process of an owner ends a stdio session, its spares are deleted unless kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import anyio

from ..config import Settings
from ..openhands import OpenHandsClient, OpenHandsError, Sandbox, SandboxStatus
from .state import PoolState, Reservation, Spare, StateFile, default_dir

log = logging.getLogger("oh_mcp.warm")
_GONE = (SandboxStatus.ERROR, SandboxStatus.MISSING)


class WarmPool:
    def __init__(
        self, size: int, folder: Path | None, idle_pause: float, openhands_url: str, owner_key: str | None
    ) -> None:
        self.size = size
        self.folder = folder or default_dir()
        self.idle_pause = idle_pause
        self._url = openhands_url
        # Only the process's own key has spares: a caller's forwarded key (hosting) gets cold starts,
        # since nothing would keep, pause or delete that caller's spares once its requests end.
        self._owner = hashlib.sha256((owner_key or "").encode()).hexdigest()[:32]

    @classmethod
    def from_settings(cls, settings: Settings) -> WarmPool:
        folder = Path(settings.warm_dir).expanduser() if settings.warm_dir else None
        key = settings.api_key.get_secret_value() if settings.api_key else None
        size = 0 if settings.read_only else settings.warm_sandboxes  # a read-only server starts nothing
        return cls(size, folder, settings.warm_idle_pause, settings.openhands_url, key)

    def serves(self, client: OpenHandsClient) -> bool:
        """Whether this client's calls (with their key) have warm sandboxes."""
        return self.size > 0 and client.key_fingerprint() == self._owner

    @property
    def check_every(self) -> float:
        """How often maintenance looks: often enough to pause on time and to replace a lost spare soon."""
        return max(0.05, min(5.0, self.idle_pause / 4))

    def state_file(self, client: OpenHandsClient) -> StateFile:
        # The URL and the key's fingerprint: another key (or server) has another file, never this one.
        owner = hashlib.sha256(f"{self._url}\n{client.key_fingerprint()}".encode()).hexdigest()[:32]
        return StateFile(self.folder, owner)

    async def status(self, client: OpenHandsClient) -> dict[str, str]:
        """Each recorded spare with its status now, for doctor; read only, nothing is changed."""
        ids = self.spare_ids(client)
        found = await client.get_sandboxes(ids) if ids else []
        return {sid: str(s.status) if s else "MISSING" for sid, s in zip(ids, found, strict=True)}

    def spare_ids(self, client: OpenHandsClient) -> list[str]:
        """This owner's spares as last recorded, for display (list_sandboxes, doctor)."""
        return [s.id for s in self.state_file(client).peek().spares]

    # ---- taking --------------------------------------------------------------------------------

    async def take(self, client: OpenHandsClient) -> str | None:
        """A RUNNING spare no conversation has used, now no longer a spare; None when there is none
        (the caller starts cold). Never raises for the pool's own trouble."""
        if not self.serves(client):
            return None
        try:
            async with self.state_file(client).locked() as state:
                state.last_used = time.time()
                return await self._pick(client, state)
        except (OpenHandsError, OSError, ValueError) as exc:
            log.warning("no warm sandbox taken: %s", exc)
            return None

    async def _pick(self, client: OpenHandsClient, state: PoolState) -> str | None:
        seen = await self._prune(client, state)
        for spare in list(state.spares):
            sandbox = seen[spare.id]
            if sandbox.status != SandboxStatus.RUNNING:
                continue
            state.spares.remove(spare)  # taken or used: either way no longer a spare
            if not await _used(client, spare.id):
                return spare.id
        return None

    # ---- keeping N ------------------------------------------------------------------------------

    async def fill(self, client: OpenHandsClient) -> None:
        """Drop lost spares, resume paused ones if starts are happening, and create the missing ones."""
        if not self.serves(client):
            return
        file = self.state_file(client)
        async with file.locked() as state:
            seen = await self._prune(client, state)
            if self._idle(state):
                return  # nobody is starting: no new sandboxes, and paused ones stay paused
            paused = [sid for sid, s in seen.items() if s.status == SandboxStatus.PAUSED]
            state.reserved = state.live_reservations()
            need = self.size - len(state.spares) - len(state.reserved)
            mine = [Reservation(pid=os.getpid(), at=time.time(), token=uuid.uuid4().hex) for _ in range(need)]
            state.reserved += mine
        for sid in paused:
            await _quietly(client.resume_sandbox(sid), f"resume warm sandbox {sid}")
        for reservation in mine:
            await self._create(client, file, reservation)

    async def _create(self, client: OpenHandsClient, file: StateFile, reservation: Reservation) -> None:
        # Shielded: a sandbox OpenHands made must land in the file even when the session ends meanwhile,
        # or it would be nobody's. Outside the lock, as POST /sandboxes can take as long as the start.
        with anyio.CancelScope(shield=True):
            made: Sandbox | None = None
            try:
                made = await client.create_sandbox()
            except OpenHandsError as exc:
                log.warning("warm sandbox not created: %s", exc)
            async with file.locked() as state:
                state.reserved = [r for r in state.reserved if r.token != reservation.token]
                if made is not None:
                    state.spares.append(Spare(id=made.id, created=time.time()))

    async def pause_idle(self, client: OpenHandsClient) -> None:
        """Pause the running spares once no start has come for `idle_pause` seconds."""
        if not self.serves(client):
            return
        async with self.state_file(client).locked() as state:
            if not self._idle(state):
                return
            seen = await self._prune(client, state)
            for sid, sandbox in seen.items():
                if sandbox.status in (SandboxStatus.RUNNING, SandboxStatus.STARTING):
                    await _quietly(client.pause_sandbox(sid), f"pause warm sandbox {sid}")

    def _idle(self, state: PoolState) -> bool:
        return time.time() - state.last_used >= self.idle_pause

    async def _prune(self, client: OpenHandsClient, state: PoolState) -> dict[str, Sandbox]:
        """Each listed spare as OpenHands has it now; gone ones leave the list, failed ones are deleted."""
        if not state.spares:
            return {}
        found = await client.get_sandboxes([s.id for s in state.spares])
        seen: dict[str, Sandbox] = {}
        for spare, sandbox in zip(list(state.spares), found, strict=True):
            if sandbox is not None and sandbox.status not in _GONE:
                seen[spare.id] = sandbox
                continue
            state.spares.remove(spare)
            if sandbox is not None:
                await _quietly(client.delete_sandbox(spare.id), f"delete failed warm sandbox {spare.id}")
        return seen

    # ---- a process's life ----------------------------------------------------------------------

    async def maintain(self, client: OpenHandsClient) -> None:
        """Run for as long as the server serves: join, then keep N and pause when idle."""
        if not self.serves(client):
            return
        await self._join(client)
        while True:
            try:
                await self.fill(client)
                await self.pause_idle(client)
            except (OpenHandsError, OSError, ValueError) as exc:
                log.warning("warm sandboxes: %s", exc)
            await anyio.sleep(self.check_every)

    async def _join(self, client: OpenHandsClient) -> None:
        try:
            async with self.state_file(client).locked() as state:
                state.holders = [*state.live_holders(), os.getpid()]
                state.last_used = time.time()  # a session starting is a start to come
        except OSError as exc:
            log.warning("warm sandboxes: %s", exc)

    async def leave(self, client: OpenHandsClient, *, delete: bool) -> None:
        """This process stops serving; the last one of its owner deletes the spares when `delete`."""
        if not self.serves(client):
            return
        try:
            async with self.state_file(client).locked() as state:
                state.holders = [pid for pid in state.live_holders() if pid != os.getpid()]
                if state.holders or not delete:
                    return
                for spare in state.spares:
                    await _quietly(client.delete_sandbox(spare.id), f"delete warm sandbox {spare.id}")
                state.spares = []
        except OSError as exc:
            log.warning("warm sandboxes: %s", exc)


async def _used(client: OpenHandsClient, sandbox_id: str) -> bool:
    """Whether any conversation runs or ran in this sandbox: such a one is never handed out."""
    page = await client.search_conversations(limit=1, sandbox_id=sandbox_id)
    return bool(page.items)


async def _quietly(call: Awaitable[Any], what: str) -> None:
    try:
        await call
    except OpenHandsError as exc:
        log.warning("could not %s: %s", what, exc)
