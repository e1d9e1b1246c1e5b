"""Benchmarks for oh-mcp: run `scripts/bench` (see README)."""
