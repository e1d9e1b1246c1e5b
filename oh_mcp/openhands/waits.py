"""Waiting: polling a start task, a sandbox or agents until they reach a state, within the
caller's deadline, reporting each change on the way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import anyio

from .app_server import AppServerRoutes
from .errors import NotFound, StartFailed, Unavailable, WaitTimedOut, scrub
from .known_faults import start_failure
from .models import (
    AppConversation,
    ExecutionStatus,
    Sandbox,
    SandboxStatus,
    StartTask,
    StartTaskStatus,
    conversation_id,
)

W = TypeVar("W")
FIRST_POLL = 0.1
POLL_GROWTH = 1.25  # 0.1 s, then ~0.33 s apart around the first second, reaching 1 s after ~4 s
OnChange = Callable[[W], Awaitable[None]]


class Waits(AppServerRoutes):
    """The waits, built on the app server's reads."""

    async def wait_for_start_task(
        self, task_id: str, *, timeout: float, on_change: OnChange[StartTask] | None = None
    ) -> StartTask:
        """Poll a start task until READY. Raises StartFailed on ERROR and WaitTimedOut at the deadline."""
        # Polled quickly at first: in a warm sandbox a start is READY in about a second, which a steady
        # 1 s poll would see only a second late.
        task = await self._poll(
            lambda: self.get_start_task(task_id),
            lambda t: t.finished,
            lambda t: t.status,
            timeout,
            on_change,
            ramp=True,
        )
        if task.status == StartTaskStatus.ERROR:
            raise StartFailed(start_failure(scrub(task.detail, self._secrets()) if task.detail else None))
        return task

    async def wait_for_sandbox(
        self, sid: str, *, timeout: float, on_change: OnChange[Sandbox] | None = None
    ) -> Sandbox:
        """Poll a sandbox until RUNNING. Raises Unavailable on ERROR/MISSING and WaitTimedOut at the deadline."""
        done = {SandboxStatus.RUNNING, SandboxStatus.ERROR, SandboxStatus.MISSING}
        sandbox = await self._poll(
            lambda: self.get_sandbox(sid), lambda s: s.status in done, lambda s: s.status, timeout, on_change
        )
        if sandbox.status != SandboxStatus.RUNNING:
            raise Unavailable(
                f"Sandbox {sid} ended in status {sandbox.status} instead of RUNNING.",
                hint="Delete it and start a new one if it stays broken.",
                resource="sandbox",
            )
        return sandbox

    async def wait_for_agent(
        self, conv_id: str, *, timeout: float, on_poll: OnChange[AppConversation] | None = None
    ) -> AppConversation:
        """Poll until the agent stops running. Calls `on_poll` on every poll, for heartbeats."""
        return await self._poll(lambda: self.get_conversation(conv_id), settled, None, timeout, on_poll)

    async def wait_for_agents(
        self,
        conv_ids: list[str],
        *,
        until: Literal["any", "all"],
        timeout: float,
        on_poll: OnChange[list[AppConversation]] | None = None,
    ) -> list[AppConversation]:
        """Poll several conversations with one batch read each time, until any or all of their agents
        stop running (or their sandboxes stop: see `stopped`). WaitTimedOut carries the last read list."""
        return await self._poll(
            lambda: self.read_agents(conv_ids), lambda found: reached(found, until), None, timeout, on_poll
        )

    async def read_agents(self, conv_ids: list[str]) -> list[AppConversation]:
        """The conversations, in one batch read; NotFound names the first one missing."""
        found = await self.get_conversations(conv_ids)
        missing = [conv_id for conv_id, c in zip(conv_ids, found, strict=True) if c is None]
        if missing:
            raise NotFound(
                f"Conversation {conversation_id(missing[0])} not found.", hint="Check the id.", resource="conversation"
            )
        return [c for c in found if c is not None]

    async def _poll(
        self,
        fetch: Callable[[], Awaitable[W]],
        done: Callable[[W], bool],
        key: Callable[[W], object] | None,
        timeout: float,
        on_change: OnChange[W] | None,
        *,
        ramp: bool = False,
    ) -> W:
        """Fetch until `done`; report each change of `key` (or every poll when key is None). With `ramp`
        the pauses start at FIRST_POLL and grow by POLL_GROWTH up to the poll interval."""
        deadline = anyio.current_time() + timeout
        pause = FIRST_POLL if ramp else self.poll_interval
        seen: object = object()
        item: W | None = None
        while True:
            with anyio.move_on_after(max(deadline - anyio.current_time(), 0.001)) as scope:
                item = await fetch()
            if scope.cancelled_caught or item is None:
                raise WaitTimedOut("The wait ran out of time.", last=item)
            current = key(item) if key else object()
            if on_change is not None and current != seen:
                await on_change(item)
            seen = current
            if done(item):
                return item
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise WaitTimedOut("The wait ran out of time.", last=item)
            await anyio.sleep(min(pause, self.poll_interval, remaining))
            pause *= POLL_GROWTH


def settled(conversation: AppConversation) -> bool:
    """Whether the agent has stopped running (finished, idle, paused, waiting, in error). A sandbox that
    is not RUNNING reports no agent status: its agent is not settled, whatever comes next."""
    status = conversation.execution_status
    return status is not None and status != ExecutionStatus.RUNNING


# Sandboxes in which nothing happens until someone acts (resume, or start anew); STARTING is not one.
HALTED = (SandboxStatus.PAUSED, SandboxStatus.ERROR, SandboxStatus.MISSING)


def stopped(conversation: AppConversation) -> bool:
    """Whether waiting for this conversation is over: its agent settled, or its sandbox halted."""
    return settled(conversation) or conversation.sandbox_status in HALTED


def reached(found: list[AppConversation], until: Literal["any", "all"]) -> bool:
    return (any if until == "any" else all)(stopped(c) for c in found)
