"""Keeping a title that OpenHands 1.11.0 may put back to an older one in the first seconds.

Two writers there save a whole conversation record read a moment earlier, so a rename landing in
between is undone: the webhook that records each agent state change (it writes back the title it
read: the one replaced, or at first the default "Conversation xxxxx"), and the auto-title callback
a few seconds after the first message (it writes the agent server's title, which the client's
rename also sets). Both happen soon after a start, so a rename is watched for a short while and
set again if one of those older titles comes back. Any other title is someone's newer choice.
"""

from __future__ import annotations

import logging
import re

import anyio

from .client import OpenHandsClient
from .errors import NotFound, OpenHandsError

logger = logging.getLogger(__name__)

HOLD_SECONDS = 30.0
_DEFAULT_TITLE = re.compile(r"Conversation [0-9a-f]{5,32}")


class TitleKeeper:
    """One hold per conversation: a newer rename through oh-mcp ends the hold of an older one."""

    def __init__(self) -> None:
        self._wanted: dict[str, str] = {}

    async def hold(
        self, client: OpenHandsClient, conv_id: str, title: str, replaced: str | None, seconds: float = HOLD_SECONDS
    ) -> None:
        """Set `title` again whenever `replaced` or a default title is seen back, for `seconds`.
        Best effort: failed checks are ridden out, and the hold ends when the conversation is gone."""
        self._wanted[conv_id] = title
        deadline = anyio.current_time() + seconds
        try:
            while anyio.current_time() < deadline:
                await anyio.sleep(client.poll_interval)
                if self._wanted.get(conv_id) != title or not await self._check(client, conv_id, title, replaced):
                    return
        finally:
            if self._wanted.get(conv_id) == title:
                del self._wanted[conv_id]

    @staticmethod
    async def _check(client: OpenHandsClient, conv_id: str, title: str, replaced: str | None) -> bool:
        """Whether to go on holding."""
        try:
            conversation = await client.get_conversation(conv_id)
            current = conversation.title
            if current == title:
                return True
            if current != replaced and not _DEFAULT_TITLE.fullmatch(current or ""):
                return False
            logger.info("conversation %s: title reverted to %r upstream; setting it again", conv_id, current)
            await client.update_conversation(conv_id, title=title, current=conversation)
        except NotFound:
            return False
        except OpenHandsError as exc:
            logger.debug("conversation %s: title check failed: %s", conv_id, exc.message)
        return True
