"""start_conversation's side of warm sandboxes: take a spare when the call names no sandbox, say
whether the start was warm or cold, and have the spare replaced once the start has gone out."""

from __future__ import annotations

from dataclasses import dataclass

from ..records import StartResult
from ..runtime import Runtime
from .progress import Progress

WARM = "Started in a warm sandbox (ready before the call). "
COLD = "Started cold: no warm sandbox was ready, so OpenHands started a new one. "


@dataclass
class WarmStart:
    rt: Runtime
    sandbox_id: str | None  # what the start request carries: the caller's own, a spare's, or None
    warm: bool | None  # None: the pool played no part (none configured, or the caller named a sandbox)

    def refill(self) -> None:
        """Replace the taken spare (or top up after a cold start) in the background."""
        if self.warm is not None:
            self.rt.spawn(self.rt.warm.fill, self.rt.client)

    def told(self, result: StartResult) -> StartResult:
        if self.warm is None:
            return result
        return result.model_copy(update={"next_step": (WARM if self.warm else COLD) + result.next_step})


async def warm_start(rt: Runtime, progress: Progress, sandbox_id: str | None) -> WarmStart:
    """A spare for this start when the caller asked for no particular sandbox and this key keeps spares."""
    if sandbox_id is not None or not rt.warm.serves(rt.client):
        return WarmStart(rt, sandbox_id, None)
    spare = await rt.warm.take(rt.client)
    if spare is None:
        await progress.report("no warm sandbox ready: starting cold")
        return WarmStart(rt, None, False)
    await progress.report(f"starting in warm sandbox {spare}")
    return WarmStart(rt, spare, True)
