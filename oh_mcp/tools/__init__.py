"""The tool registry: every toolset, in the order the README lists them."""

from .conversations import conversations
from .review import review
from .sandboxes import sandboxes
from .specs import specs
from .toolset import Toolset, ToolSpec

TOOLSETS: tuple[Toolset, ...] = (conversations, review, sandboxes, specs)

__all__ = ["TOOLSETS", "ToolSpec", "Toolset"]
