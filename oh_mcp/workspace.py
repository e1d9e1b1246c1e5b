"""The agent's work in a sandbox: the workspace root, its git repositories and their changed files.

OpenHands reports only a relative working directory for a process sandbox, compares a repository
without a remote with the empty tree (every file new, deletions hidden), gives no old text for a
deleted file and nothing about binary or huge files. The agent server's command route fills those
gaps: one short shell script finds the workspace and chooses each repository's base, another gives
per-file sizes, blob ids and line counts. Scripts are plain sh and git, run with the sandbox's key.
"""

from __future__ import annotations

import posixpath
import shlex
from collections import defaultdict
from dataclasses import dataclass

from .openhands import AppConversation, InvalidRequest, OpenHandsClient, ServerError
from .openhands.errors import scrub
from .review import ChangeStatus, FileChange, is_agent_server_file, pair_moves, status_of

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
COMMAND_TIMEOUT = 30
# A command travels as one argument of `sh -c`, which Linux caps at 128 KiB: paths go in batches.
PATHS_PER_COMMAND = 200


@dataclass(frozen=True)
class Repository:
    path: str  # absolute, in the sandbox
    name: str  # relative to the workspace root; "." for the root itself
    base: str | None  # the commit compared with; None: the empty tree
    compared_with: str  # the base in words: HEAD, origin/main, a ref the caller gave, "empty tree"

    @property
    def is_root(self) -> bool:
        return self.name == "."

    def relative(self, path: str) -> str:
        """A repository path relative to the workspace root (how files are named in resource links)."""
        return path if self.is_root else f"{self.name}/{path}"


@dataclass(frozen=True)
class Workspace:
    root: str
    repositories: tuple[Repository, ...]

    def absolute(self, path: str) -> str:
        return posixpath.normpath(path if path.startswith("/") else posixpath.join(self.root, path))

    @property
    def nested(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.repositories if not r.is_root)


# Mirrors the agent server's base choice (its branch on the remote, else the merge base with the
# remote's default branch), except that a repository without a remote compares with HEAD, not the
# empty tree: a file the agent did not touch is then not listed, and a deletion is.
_FIND = r"""
printf 'root\t%s\n' "$(pwd)"
for d in "$@"; do
  d=${d%/}
  [ -e "$d/.git" ] || continue
  ( cd "$d" || exit 0
    remote=$(git remote 2>/dev/null | head -n 1)
    base=; label=
    if [ -n "$REF" ]; then
      base=$(git rev-parse -q --verify "$REF^{commit}") && label=$REF
      [ -n "$base" ] || { [ "$REF" = HEAD ] && label="empty tree"; } || { printf 'badref\t%s\n' "$d"; exit 0; }
    elif [ -n "$remote" ]; then
      branch=$(git branch --show-current 2>/dev/null)
      if [ -n "$branch" ] && base=$(git rev-parse -q --verify "$remote/$branch^{commit}"); then label="$remote/$branch"
      elif default=$(git rev-parse -q --verify "$remote/HEAD^{commit}") && base=$(git merge-base HEAD "$default"); then
        label="merge base with $remote/HEAD"
      else base=$(git rev-parse -q --verify 'HEAD^{commit}') && label=HEAD || label="empty tree"; fi
    else
      base=$(git rev-parse -q --verify 'HEAD^{commit}') && label=HEAD || label="empty tree"
    fi
    printf 'repo\t%s\t%s\t%s\n' "$d" "$base" "$label" )
done
"""

# Per file, with git's own rules: lines added and removed, or binary ("-"), from a numstat against the
# base over a throwaway copy of the index in which new files are marked intent-to-add (the real
# index is never touched); the blob id and size at the base ("t") and now ("h", "s"), to pair moves
# and to tell huge files. A handful of processes per batch, plus one `wc` per existing file.
_INSPECT = r"""
tmpd=$(mktemp -d) || exit 1
trap 'rm -rf "$tmpd"' EXIT
idx=$(git rev-parse --git-path index)
[ -f "$idx" ] && cp "$idx" "$tmpd/index"
export GIT_INDEX_FILE="$tmpd/index" GIT_LITERAL_PATHSPECS=1
for f in "$@"; do [ -f "$f" ] && printf '%s\n' "$f"; done > "$tmpd/present"
git add -N --pathspec-from-file="$tmpd/present" 2>/dev/null
git -c core.quotePath=false diff --numstat --no-renames "$B" -- "$@" | sed 's/^/n\t/'
git -c core.quotePath=false ls-tree -r -l "$B" -- "$@" | sed 's/^/t\t/'
git hash-object --stdin-paths < "$tmpd/present" | paste - "$tmpd/present" | sed 's/^/h\t/'
while IFS= read -r f; do printf 's\t%s\t%s\n' "$(wc -c < "$f")" "$f"; done < "$tmpd/present"
"""


async def working_dir(client: OpenHandsClient, conversation: AppConversation) -> str | None:
    """The sandbox spec's working directory when absolute (Docker: /workspace/project); None for a
    process sandbox's ".", which is the agent server's own directory."""
    sandbox = await client.get_sandbox(conversation.sandbox_id)
    spec = (await client.get_sandbox_specs([sandbox.sandbox_spec_id]))[0]
    wd = spec.working_dir if spec else None
    return wd if wd and wd.startswith("/") else None


async def _run(client: OpenHandsClient, conversation: AppConversation, script: str, cwd: str | None) -> str:
    result = await client.execute_command(conversation, script, cwd=cwd, timeout=COMMAND_TIMEOUT)
    if result.exit_code != 0:
        detail = scrub((result.stderr or "").strip(), client.secrets_for(conversation), limit=300)
        raise ServerError(f"A read-only command in the sandbox failed (exit {result.exit_code}): {detail}")
    return result.stdout or ""


async def workspace_root(client: OpenHandsClient, conversation: AppConversation) -> str:
    return (await _run(client, conversation, "pwd", await working_dir(client, conversation))).strip()


async def find_workspace(
    client: OpenHandsClient, conversation: AppConversation, *, ref: str | None = None, only: str | None = None
) -> Workspace:
    """The workspace root and its repositories (the root and those directly in it), each with its base.
    `only` (absolute, or relative to the root) names one repository instead."""
    cwd = await working_dir(client, conversation)
    dirs = shlex.quote(only if only.startswith(("/", ".")) else f"./{only}") if only else ". */"
    script = f"REF={shlex.quote(ref or '')}\nset -- {dirs}\n{_FIND}"
    return _parse_workspace(await _run(client, conversation, script, cwd), ref)


def _parse_workspace(output: str, ref: str | None) -> Workspace:
    root, repos, missing = "", [], []
    for line in output.splitlines():
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "root":
            root = fields[0]
        elif kind == "badref":
            missing.append(fields[0])
        elif kind == "repo" and len(fields) == 3:
            path = posixpath.normpath(posixpath.join(root, fields[0]))
            name = posixpath.relpath(path, root)
            repos.append(Repository(path, name, fields[1] or None, fields[2]))
    if ref and missing and not repos:
        raise InvalidRequest(
            f"The ref {ref!r} does not exist in the repository {', '.join(missing)}.", hint="Give a commit or branch."
        )
    return Workspace(root, tuple(repos))


async def changed_files(
    client: OpenHandsClient, conversation: AppConversation, workspace: Workspace, repo: Repository
) -> list[FileChange]:
    """The repository's changes as OpenHands lists them, minus the agent server's own files and the
    files of nested repositories (listed with their own repository), with sizes and line counts."""
    listed = await client.git_changes(conversation.id, repo.path, ref=repo.base)
    kept = [c for c in listed if not (repo.is_root and _not_the_roots(c.path, workspace.nested))]
    if not kept:
        return []
    output = ""
    for first in range(0, len(kept), PATHS_PER_COMMAND):
        paths = " ".join(shlex.quote(c.path) for c in kept[first : first + PATHS_PER_COMMAND])
        head = f"B={shlex.quote(repo.base or EMPTY_TREE)}\nset -- {paths}\n"
        output += await _run(client, conversation, head + _INSPECT, repo.path)
    facts = _parse_facts(output)
    return pair_moves(_file_change(status_of(c.status), c.path, facts.get(c.path, _Facts())) for c in kept)


def _not_the_roots(path: str, nested: tuple[str, ...]) -> bool:
    return is_agent_server_file(path) or any(path == n or path.startswith(n + "/") for n in nested)


@dataclass
class _Facts:
    counts: tuple[int, int] = (0, 0)  # lines added and removed
    binary: bool = False
    base_blob: str | None = None
    base_size: int | None = None
    blob: str | None = None
    size: int | None = None


def _parse_facts(output: str) -> dict[str, _Facts]:
    facts: dict[str, _Facts] = defaultdict(_Facts)
    for line in output.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "n":
            added, removed, path = (rest.split("\t", 2) + ["", ""])[:3]
            if added.isdigit() and removed.isdigit():
                facts[path].counts = (int(added), int(removed))
            else:
                facts[path].binary = True  # git's numstat says "-" for a binary file
            continue
        value, _, path = rest.rpartition("\t")
        if kind == "t" and len(value.split()) == 4:
            _mode, _type, blob, size = value.split()
            facts[path].base_blob, facts[path].base_size = blob, _number(size)
        elif kind == "h":
            facts[path].blob = value
        elif kind == "s":
            facts[path].size = _number(value)
    return facts


def _number(text: str) -> int | None:
    return int(text.strip()) if text.strip().isdigit() else None


def _file_change(status: ChangeStatus, path: str, facts: _Facts) -> FileChange:
    gone = status == ChangeStatus.DELETED
    added, removed = facts.counts
    return FileChange(
        path,
        status,
        added=added,
        removed=removed,
        size=facts.base_size if gone else facts.size,
        binary=facts.binary,
        blob=facts.base_blob if gone else facts.blob,
    )


async def old_text(client: OpenHandsClient, conversation: AppConversation, repo: Repository, path: str) -> str:
    """A file's text at the repository's base: OpenHands' diff route fails for a deleted file."""
    script = f"git show {shlex.quote(f'{repo.base or EMPTY_TREE}:{path}')}"
    return (await _run(client, conversation, script, repo.path)).rstrip("\n")
