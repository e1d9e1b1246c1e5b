"""Progress notifications for waits: elapsed seconds against the wait's budget."""

from __future__ import annotations

import anyio

from ..shaping import redact
from .toolset import Ctx


class Progress:
    """Reports `(elapsed, total, message)`; a no-op for clients that asked for no progress."""

    def __init__(self, ctx: Ctx, total: float) -> None:
        self._ctx = ctx
        self._total = total
        self._start = anyio.current_time()

    async def report(self, message: str) -> None:
        elapsed = round(anyio.current_time() - self._start, 1)
        # Notifications bypass the result scrubbing (outbound.py), so they are redacted here.
        await self._ctx.report_progress(elapsed, self._total, redact(message, ()))
