"""Renaming a conversation so the title stays: the one entry point is `rename`.

OpenHands 1.11.0 loses a plain rename in two ways:
- It auto-titles once, a few seconds after the first message, by copying the agent server's
  title over the app's. So the title is set on the agent server too (which never auto-titles
  over a title it has).
- Two writers save a whole conversation record read a moment earlier, so a rename landing in
  between is undone: the webhook that records each agent state change (it writes back the title
  it read: the one replaced, or at first the default "Conversation xxxxx"), and that auto-title
  callback. Both happen soon after a start, so a rename is watched for a short while and set
  again if one of those older titles comes back. Any other title is someone's newer choice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from weakref import WeakKeyDictionary

import anyio

from .client import OpenHandsClient
from .errors import NotFound, OpenHandsError
from .models import AppConversation

logger = logging.getLogger(__name__)

HOLD_SECONDS = 30.0
_DEFAULT_TITLE = re.compile(r"Conversation [0-9a-f]{5,32}")

Spawn = Callable[..., None]
# The title each conversation's current hold keeps, per client: a newer rename ends an older hold.
_wanted: WeakKeyDictionary[OpenHandsClient, dict[str, str]] = WeakKeyDictionary()


async def rename(client: OpenHandsClient, conv_id: str, title: str, *, spawn: Spawn) -> AppConversation:
    """Rename the conversation and have `spawn` run a background hold that keeps the new title
    against OpenHands' stale writes for HOLD_SECONDS. `spawn(fn, *args)` runs fn after the caller
    has answered."""
    before = await client.get_conversation(conv_id)
    renamed = await _apply(client, before, title)
    spawn(_hold, client, before.id, renamed.title or title, before.title)
    return renamed


async def _apply(client: OpenHandsClient, conversation: AppConversation, title: str) -> AppConversation:
    try:
        await client.set_agent_title(conversation, title)
    except OpenHandsError as exc:  # a stopped or unreachable agent server does not stop the rename
        logger.info("title not set on the agent server of %s: %s", conversation.id, exc.message)
    return await client.update_conversation(conversation.id, title=title)


async def _hold(
    client: OpenHandsClient, conv_id: str, title: str, replaced: str | None, seconds: float = HOLD_SECONDS
) -> None:
    """Set `title` again whenever `replaced` or a default title is seen back, for `seconds`.
    Best effort: failed checks are ridden out, and the hold ends when the conversation is gone."""
    wanted = _wanted.setdefault(client, {})
    wanted[conv_id] = title
    deadline = anyio.current_time() + seconds
    try:
        while anyio.current_time() < deadline:
            await anyio.sleep(client.poll_interval)
            if wanted.get(conv_id) != title or not await _check(client, conv_id, title, replaced):
                return
    finally:
        if wanted.get(conv_id) == title:
            del wanted[conv_id]


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
        await _apply(client, conversation, title)
    except NotFound:
        return False
    except OpenHandsError as exc:
        logger.debug("conversation %s: title check failed: %s", conv_id, exc.message)
    return True
