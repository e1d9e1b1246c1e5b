"""Warm sandboxes kept ready for the next start (OH_MCP_WARM_SANDBOXES)."""

from .pool import WarmPool

__all__ = ["WarmPool"]
