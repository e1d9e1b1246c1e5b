"""Coalesced reads for task polling: every id polled through one worker within an interval is read in
one upstream batch call (`GET /app-conversations?ids=…`, `…/start-tasks?ids=…`), once per interval,
per caller key. Hosts poll each task every `pollIntervalMs`; without this, n tasks cost n reads a
second each.

A read is shared only between callers with the same OpenHands key (the fetch runs with the key of
the request that triggers it, and the cache is keyed by it), so nobody sees a record their key may
not read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")
Fetch = Callable[[list[str]], Awaitable[Sequence[T | None]]]

# Ids not polled for this many intervals drop out of the batch.
FORGET_AFTER = 5


@dataclass
class _Pool(Generic[T]):
    """One caller key's ids, the last batch read and when it was made."""

    wanted: dict[str, float] = field(default_factory=dict)  # id -> when it was last asked for
    found: dict[str, T | None] = field(default_factory=dict)
    read_at: float = float("-inf")
    reading: anyio.Event | None = None
    error: BaseException | None = None


class Batcher(Generic[T]):
    """`get(key, id, fetch)` answers from a batch read at most `interval` seconds old."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.reads = 0  # upstream batch calls made, for tests and the bench
        self._pools: dict[str, _Pool[T]] = {}

    async def get(self, key: str, item_id: str, fetch: Fetch[T]) -> T | None:
        pool = self._pools.setdefault(key, _Pool())
        now = anyio.current_time()
        pool.wanted[item_id] = now
        while True:
            fresh = anyio.current_time() - pool.read_at < self.interval
            if fresh and item_id in pool.found:
                return pool.found[item_id]
            if pool.reading is not None:
                await pool.reading.wait()
                if pool.error is not None and item_id not in pool.found:
                    raise pool.error
                continue
            await self._read(pool, fetch)

    def forget(self, key: str, item_id: str) -> None:
        """Drop one cached record (after a write), so the next get reads it anew."""
        pool = self._pools.get(key)
        if pool is not None:
            pool.found.pop(item_id, None)

    async def _read(self, pool: _Pool[T], fetch: Fetch[T]) -> None:
        # Wait out the rest of the interval since the last read, gathering the ids asked for meanwhile.
        pool.reading = done = anyio.Event()
        try:
            await anyio.sleep(max(0.0, pool.read_at + self.interval - anyio.current_time()))
            now = anyio.current_time()
            ids = [i for i, asked in pool.wanted.items() if now - asked < FORGET_AFTER * max(self.interval, 1.0)]
            pool.wanted = {i: pool.wanted[i] for i in ids}
            pool.error = None
            self.reads += 1
            try:
                found = await fetch(ids)
            except BaseException as exc:
                pool.error, pool.found, pool.read_at = exc, {}, anyio.current_time()
                raise
            pool.found, pool.read_at = dict(zip(ids, found, strict=True)), anyio.current_time()
        finally:
            pool.reading = None
            done.set()
