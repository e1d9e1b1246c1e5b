"""The tools listing and its cost, and the README's generated tables (tools and configuration),
made from the server's own data so they cannot go stale (tests/test_docs.py fails when the
README differs)."""

from __future__ import annotations

from pathlib import Path

from .config import OPTIONS, Settings
from .selection import select
from .tools import TOOLSETS

# What every session pays for in context, with every tool enabled: the model sees each tool's name,
# description and input schema; the whole list adds titles, annotations and output schemas, which
# hosts keep for validating results. Checked by tests/test_tools_list.py, reported by bench/.
TOOLS_LIST_BUDGET = 19_000
MODEL_VISIBLE_BUDGET = 9_500


def tools_table() -> str:
    rows = ["| tool | toolset | read-only | what it does |", "|---|---|---|---|"]
    rows += [
        f"| `{s.name}` | {s.toolset} | {'yes' if s.read_only else 'no'} | {s.summary} |"
        for s in select(TOOLSETS, Settings()).enabled
    ]
    return "\n".join(rows)


def tools_list_size(settings: Settings) -> int:
    """Characters of the tools/list result a client receives, as measured through the SDK."""
    import anyio
    from mcp import Client

    from .server import build_server

    async def measure() -> int:
        async with Client(build_server(settings)) as client:
            tools = (await client.list_tools()).tools
        return sum(len(t.model_dump_json(by_alias=True, exclude_none=True)) for t in tools)

    return anyio.run(measure)


def config_table() -> str:
    defaults = Settings()
    rows = ["| environment variable | flag | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        value = getattr(defaults, option.field)
        rows.append(f"| `{option.env}` | `{option.flag}` | {_shown(value)} | {option.help} |")
    return "\n".join(rows)


def _shown(value: object) -> str:
    if value in (None, (), ""):
        return "—"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


SECTIONS = {"tools": tools_table, "config": config_table}


def render(readme: str) -> str:
    for name, make in SECTIONS.items():
        readme = _replace_section(readme, name, make())
    return readme


def _replace_section(readme: str, name: str, table: str) -> str:
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    head, found, rest = readme.partition(start)
    if not found:
        return readme
    _, _, tail = rest.partition(end)
    return f"{head}{start}{table}\n{end}{tail}"


def main() -> None:
    path = Path(__file__).resolve().parents[1] / "README.md"
    path.write_text(render(path.read_text()))


if __name__ == "__main__":
    main()
