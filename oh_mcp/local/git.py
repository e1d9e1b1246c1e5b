"""Running the local git: never through a shell, with the caller's environment stripped of GIT_*
variables (so an inherited GIT_DIR or GIT_INDEX_FILE cannot redirect a command), no prompts, no
optional locks (a read never rewrites the person's index), and pathspecs taken literally."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import anyio


class GitError(Exception):
    """A git command failed; `stderr` is git's own words (no secrets: it ran on local files)."""

    def __init__(self, args: tuple[str, ...], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:2])} failed (exit {code}): {stderr.strip()[:500]}")
        self.code = code
        self.stderr = stderr


IDENTITY = {
    "GIT_AUTHOR_NAME": "oh-mcp",
    "GIT_AUTHOR_EMAIL": "oh-mcp@localhost",
    "GIT_COMMITTER_NAME": "oh-mcp",
    "GIT_COMMITTER_EMAIL": "oh-mcp@localhost",
}


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C"}
    return env | dict(extra or {})


async def git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
) -> tuple[int, bytes, str]:
    """Run `git args` in `cwd`: (exit code, stdout bytes, stderr text). Raises GitError when `check`
    and it fails. A cancelled call (a client that went away) kills the process."""
    done = await anyio.run_process(
        ["git", "-c", "core.quotePath=false", *args], input=stdin, cwd=cwd, env=_environment(env), check=False
    )
    stderr = done.stderr.decode("utf-8", "replace")
    if check and done.returncode != 0:
        raise GitError(args, done.returncode, stderr)
    return done.returncode, done.stdout, stderr


async def out(cwd: Path, *args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> str:
    """A command's stdout as text, stripped; raises GitError on failure."""
    return (await git(cwd, *args, env=env, stdin=stdin))[1].decode("utf-8", "surrogateescape").strip()


def nul_split(data: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in data.split(b"\0") if p]
