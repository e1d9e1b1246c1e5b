"""Delegations as MCP tasks: a long call answers at once with a task the host polls, and every
poll is answered from OpenHands, so a task outlives the process that made it."""

from .extension import TasksExtension
from .wire import TASKS_EXTENSION

__all__ = ["TASKS_EXTENSION", "TasksExtension"]
