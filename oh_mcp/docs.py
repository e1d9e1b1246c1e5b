"""The README's generated tables: tools and configuration, made from the server's own data so
they cannot go stale (tests/test_docs.py fails when the README differs)."""

from __future__ import annotations

import re
from pathlib import Path

from .config import OPTIONS, Settings
from .selection import select
from .tools import TOOLSETS


def tools_table() -> str:
    rows = ["| tool | toolset | read-only | what it does |", "|---|---|---|---|"]
    for spec in select(TOOLSETS, Settings()).enabled:
        rows.append(f"| `{spec.name}` | {spec.toolset} | {'yes' if spec.read_only else 'no'} | {spec.summary} |")
    return "\n".join(rows)


def config_table() -> str:
    defaults = Settings()
    rows = ["| environment variable | flag | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        value = getattr(defaults, option.field)
        shown = "—" if value in (None, (), "") else (",".join(value) if isinstance(value, tuple) else str(value))
        rows.append(
            f"| `{option.env}` | `{option.flag}` | {shown.lower() if isinstance(value, bool) else shown} | {option.help} |"
        )
    return "\n".join(rows)


SECTIONS = {"tools": tools_table, "config": config_table}


def render(readme: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.DOTALL)
        readme = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), readme)
    return readme


def main() -> None:
    path = Path(__file__).resolve().parents[1] / "README.md"
    path.write_text(render(path.read_text()))


if __name__ == "__main__":
    main()
