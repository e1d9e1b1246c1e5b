"""Keeping a title that OpenHands 1.11.0 may put back to an older one in the first seconds.

Two writers there save a whole conversation record read a moment earlier, so a rename landing in
between is undone: the webhook that records each agent state change (it writes back the title it
read, at first the default "Conversation xxxxx"), and the auto-title callback a few seconds after
the first message (it writes the agent server's title, which the client's rename also sets). Both
happen soon after a start, so a rename is watched for a short while and put back if it is lost.
"""

from __future__ import annotations

import logging

import anyio

from .client import OpenHandsClient
from .errors import NotFound, OpenHandsError

logger = logging.getLogger(__name__)

HOLD_SECONDS = 30.0


async def hold_title(client: OpenHandsClient, conv_id: str, title: str, *, seconds: float = HOLD_SECONDS) -> None:
    """Re-apply `title` whenever it is seen replaced, until `seconds` have passed. Best effort: it
    stops when the conversation is gone and rides out failed checks."""
    title = title.strip()
    deadline = anyio.current_time() + seconds
    while anyio.current_time() < deadline:
        await anyio.sleep(client.poll_interval)
        try:
            current = (await client.get_conversation(conv_id)).title
            if current != title:
                logger.info("conversation %s: title reverted to %r upstream; setting it again", conv_id, current)
                await client.update_conversation(conv_id, title=title)
        except NotFound:
            return
        except OpenHandsError as exc:
            logger.debug("conversation %s: title check failed: %s", conv_id, exc.message)
