"""The tool registry: every toolset, in the order the README lists them."""

from .conversations import conversations
from .review import review
from .sandboxes import sandboxes
from .specs import specs
from .steering import interrupt_agent as interrupt_agent
from .toolset import Toolset, ToolSpec
from .waiting import wait_for_agent as wait_for_agent

TOOLSETS: tuple[Toolset, ...] = (conversations, review, sandboxes, specs)

__all__ = ["TOOLSETS", "ToolSpec", "Toolset"]
