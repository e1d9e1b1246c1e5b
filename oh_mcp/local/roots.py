"""Which local folders a caller may name, and the checks a local path passes before git sees it.

The allowed roots are the client's MCP roots when it declares them (stdio only: over HTTP the
client's paths name another machine; narrowed to OH_MCP_LOCAL_ROOTS when that is set too), else
OH_MCP_LOCAL_ROOTS, else the folder oh-mcp started in.
A path is resolved (symlinks followed, `..` gone) before it is compared, so neither can lead out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .git import GitError, out


class LocalPathRefused(Exception):
    """A local path that may not or cannot be used; the message says why and what to do."""


def roots_from_uris(uris: Sequence[str]) -> list[Path]:
    """The folders of `file://` root URIs; other schemes name nothing on this machine."""
    paths = []
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            paths.append(Path(unquote(parts.path)))
    return paths


def configured_roots(local_roots: Sequence[str], cwd: Path | None = None) -> list[Path]:
    return [Path(os.path.expanduser(r)) for r in local_roots] or [cwd or Path.cwd()]


def narrow(declared: Sequence[Path], configured: Sequence[Path]) -> list[Path]:
    """The folders both the client and the operator allow: a client's root never widens what
    OH_MCP_LOCAL_ROOTS allows. Nothing in common leaves nothing allowed."""
    ours = [_real(str(r)) for r in configured]
    kept: list[Path] = []
    for root in (_real(str(r)) for r in declared):
        kept += [root] if _within(root, ours) else [r for r in ours if _within(r, [root])]
    return kept


def _within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def resolve_in_roots(local_path: str, roots: Sequence[Path]) -> Path:
    """`local_path` as a real folder inside one of `roots`. A relative path is taken from the first root."""
    if "\0" in local_path or not local_path.strip():
        raise LocalPathRefused("local_path is empty or holds a NUL character.")
    real_roots = [r.resolve() for r in roots if r.is_dir()]
    if not real_roots:
        raise LocalPathRefused(f"None of the allowed folders exists ({', '.join(map(str, roots))}).")
    given = Path(os.path.expanduser(local_path))
    path = (given if given.is_absolute() else real_roots[0] / given).resolve()
    shown = ", ".join(map(str, real_roots))
    if not _within(path, real_roots):
        raise LocalPathRefused(
            f"{local_path} is outside the folders oh-mcp may read ({shown}). Name a repository inside them "
            "(the client's roots, else OH_MCP_LOCAL_ROOTS, else the folder oh-mcp started in)."
        )
    if not path.is_dir():
        raise LocalPathRefused(f"{path} is not a folder.")
    return path


async def work_tree(path: Path, roots: Sequence[Path]) -> Path:
    """The top of the git work tree holding `path`; it too must lie inside the allowed roots."""
    try:
        inside = await out(path, "rev-parse", "--is-inside-work-tree")
        top = _real(await out(path, "rev-parse", "--show-toplevel"))
    except GitError:
        inside, top = "false", path
    if inside != "true":
        raise LocalPathRefused(f"{path} is not inside a git work tree; run `git init` there first, or name another.")
    if not _within(top, [_real(str(r)) for r in roots]):
        raise LocalPathRefused(f"The repository of {path} starts at {top}, outside the folders oh-mcp may read.")
    return top


def _real(path: str) -> Path:
    return Path(os.path.realpath(path))
