"""The garbage collector, set for a server that runs for hours.

Everything loaded at start-up (the SDK, pydantic's schemas, our tools) lives as long as the process,
yet every full collection walked all of it again: about 60 ms each, several times a second under
load, and more often the more calls were in flight. Freezing the start-up heap takes it out of
every later collection. A larger first generation means fewer collections catch a call's objects
while it is still in flight, which is what promoted them and led to the full collections.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once, when the server is built and before it serves: never in a test process, whose
    heap would then keep every cycle it makes."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
