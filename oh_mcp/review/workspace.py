"""The agent's work in a sandbox: the workspace root, its git repositories and their changed files.

OpenHands reports only a relative working directory for a process sandbox, compares a repository
without a remote with the empty tree (every file new, deletions hidden), gives no old text for a
deleted file and nothing about binary or huge files; its change listing also splits git's lines at
whitespace and keeps git's quoted form of a name (`"caf\\303\\251.py"`), so files with such names
are lost or unreadable. The agent server's command route fills those gaps: short shell scripts find
the workspace and choose each repository's base, list the changed files, and give per-file sizes,
blob ids and line counts. Scripts are plain sh and git, run with the sandbox's key.

Every git listing is read NUL-separated (`-z`): only NUL cannot be part of a file name. The output
travels as a hex dump (`od`), because the agent server decodes a command's output in 8 KiB pieces,
which would break a name's multi-byte character cut at a piece's edge, and keeps only its last MiB.
"""

from __future__ import annotations

import posixpath
import shlex
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from ..openhands import AppConversation, CommandResult, InvalidRequest, OpenHandsClient, ServerError
from ..openhands.errors import scrub
from .diffs import ChangeStatus, FileChange, is_agent_server_file, pair_moves

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
COMMAND_TIMEOUT = 30
# A command travels as one argument of `sh -c`, which Linux caps at 128 KiB: paths go in batches.
PATHS_PER_COMMAND = 200
PATH_CHARS_PER_COMMAND = 40_000
# od writes about 3.06 characters per byte, and the command route keeps the last 1 MiB of output.
MAX_OUTPUT_BYTES = 300_000
TOO_LONG = 3  # the exit status of a wrapped script whose output is over MAX_OUTPUT_BYTES


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
    ref: str | None = None  # the ref the caller gave
    without_ref: tuple[str, ...] = ()  # repositories left out because that ref is not in them

    def absolute(self, path: str) -> str:
        return posixpath.normpath(path if path.startswith("/") else posixpath.join(self.root, path))

    @property
    def nested(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.repositories if not r.is_root)


# Runs a script's body in a subshell with a scratch directory, and prints what it wrote as a hex dump.
_WRAP = """tmpd=$(mktemp -d) || exit 1
trap 'rm -rf "$tmpd"' EXIT
(
{body}
) > "$tmpd/out" || exit $?
[ "$(wc -c < "$tmpd/out")" -le {limit} ] || exit {too_long}
od -An -tx1 -v "$tmpd/out"
"""

# Mirrors the agent server's base choice (its branch on the remote, else the merge base with the
# remote's default branch), except that a repository without a remote compares with HEAD, not the
# empty tree: a file the agent did not touch is then not listed, and a deletion is. Directories come
# as ./name or /abs/name and `cd --` takes them, so a directory called -P is no option.
_FIND = r"""
printf 'root\0%s\0' "$(pwd)"
for d in "$@"; do
  [ "$d" = / ] || d=${d%/}
  [ -e "$d/.git" ] || continue
  ( cd -- "$d" || exit 0
    remote=$(git remote 2>/dev/null | head -n 1)
    base=; label=
    if [ -n "$REF" ]; then
      base=$(git rev-parse -q --verify "$REF^{commit}") && label=$REF
      [ -n "$base" ] || { [ "$REF" = HEAD ] && label="empty tree"; } || { printf 'badref\0%s\0' "$d"; exit 0; }
    elif [ -n "$remote" ]; then
      branch=$(git branch --show-current 2>/dev/null)
      if [ -n "$branch" ] && base=$(git rev-parse -q --verify "$remote/$branch^{commit}"); then label="$remote/$branch"
      elif default=$(git rev-parse -q --verify "$remote/HEAD^{commit}") && base=$(git merge-base HEAD "$default"); then
        label="merge base with $remote/HEAD"
      else base=$(git rev-parse -q --verify 'HEAD^{commit}') && label=HEAD || label="empty tree"; fi
    else
      base=$(git rev-parse -q --verify 'HEAD^{commit}') && label=HEAD || label="empty tree"
    fi
    printf 'repo\0%s\0%s\0%s\0' "$d" "$base" "$label" )
done
"""

# The changed files, as OpenHands' listing would give them: the tracked files that differ from the
# base (status, name), an empty record, then the untracked files that are not ignored.
_LIST = r"""
git diff -z --name-status --no-renames "$B" -- || exit $?
printf '\0'
git ls-files -z --others --exclude-standard
"""

# Per file, with git's own rules: lines added and removed, or binary ("-"), from a numstat against the
# base over a throwaway copy of the index in which new files are marked intent-to-add (the real
# index is never touched); the blob id and size at the base, the files that exist now, their blob ids
# and sizes; sections end with an empty record. A handful of processes per batch, plus one `wc` per file.
_INSPECT = r"""
idx=$(git rev-parse --git-path index)
# -p: git trusts an entry whose file is older than the index file, so the copy keeps its age.
[ -f "$idx" ] && cp -p "$idx" "$tmpd/index"
export GIT_INDEX_FILE="$tmpd/index" GIT_LITERAL_PATHSPECS=1
for f in "$@"; do [ -f "$f" ] && printf '%s\0' "$f"; done > "$tmpd/present"
git add -N --pathspec-from-file="$tmpd/present" --pathspec-file-nul 2>/dev/null
git diff -z --numstat --no-renames "$B" -- "$@"; printf '\0'
git ls-tree -z -r -l "$B" -- "$@"; printf '\0'
cat "$tmpd/present"; printf '\0'
[ -s "$tmpd/present" ] && xargs -0 git hash-object -- < "$tmpd/present" | tr '\n' '\0'; printf '\0'
for f in "$@"; do [ -f "$f" ] && printf '%s\0' "$(wc -c < "$f" | tr -d ' ')"; done; :
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
    _check(client, conversation, result)
    return result.stdout or ""


def _check(client: OpenHandsClient, conversation: AppConversation, result: CommandResult) -> None:
    if result.exit_code != 0:
        detail = scrub((result.stderr or "").strip(), client.secrets_for(conversation), limit=300)
        raise ServerError(f"A read-only command in the sandbox failed (exit {result.exit_code}): {detail}")


async def run_records(
    client: OpenHandsClient, conversation: AppConversation, head: str, body: str, cwd: str | None
) -> list[str]:
    """The NUL-separated records a script body prints; `head` sets its variables and arguments."""
    script = head + _WRAP.format(body=body.strip("\n"), limit=MAX_OUTPUT_BYTES, too_long=TOO_LONG)
    result = await client.execute_command(conversation, script, cwd=cwd, timeout=COMMAND_TIMEOUT)
    if result.exit_code == TOO_LONG:
        raise InvalidRequest(
            f"What git lists in {cwd or 'the workspace'} is over {MAX_OUTPUT_BYTES // 1000} KB, too much to read.",
            hint="Pass repository_path to review one repository, or path for one file.",
        )
    _check(client, conversation, result)
    records = bytes.fromhex("".join((result.stdout or "").split())).decode("utf-8", "replace").split("\0")
    return records[:-1] if records[-1:] == [""] else records  # every record ends with NUL, the last one too


async def workspace_root(client: OpenHandsClient, conversation: AppConversation) -> str:
    """The workspace root's absolute path in the sandbox."""
    return (await _run(client, conversation, "pwd", await working_dir(client, conversation))).strip()


async def find_workspace(
    client: OpenHandsClient, conversation: AppConversation, *, ref: str | None = None, only: str | None = None
) -> Workspace:
    """The workspace root and its repositories (the root and those directly in it), each with its base.
    `only` (absolute, or relative to the root) names one repository instead."""
    cwd = await working_dir(client, conversation)
    dirs = shlex.quote(only if only.startswith("/") else f"./{only}") if only else ". ./*/"
    head = f"REF={shlex.quote(ref or '')}\nset -- {dirs}\n"
    return _parse_workspace(await run_records(client, conversation, head, _FIND, cwd), ref)


def _parse_workspace(records: list[str], ref: str | None) -> Workspace:
    root, repos, missing = "", [], []
    fields = iter(records)
    for kind in fields:
        if kind == "root":
            root = next(fields, "")
        elif kind == "badref":
            missing.append(posixpath.normpath(posixpath.join(root, next(fields, ""))))
        elif kind == "repo":
            where, base, label = next(fields, ""), next(fields, ""), next(fields, "")
            path = posixpath.normpath(posixpath.join(root, where))
            repos.append(Repository(path, posixpath.relpath(path, root), base or None, label))
    if ref and missing and not repos:
        raise InvalidRequest(
            f"The ref {ref!r} does not exist in the repository {', '.join(missing)}.", hint="Give a commit or branch."
        )
    return Workspace(root, tuple(repos), ref, tuple(missing))


async def changed_files(
    client: OpenHandsClient, conversation: AppConversation, workspace: Workspace, repo: Repository
) -> list[FileChange]:
    """The repository's changed files, minus the agent server's own files and the files of nested
    repositories (listed with their own repository), with sizes and line counts."""
    head = f"B={shlex.quote(repo.base or EMPTY_TREE)}\n"
    listed = _parse_listing(await run_records(client, conversation, head, _LIST, repo.path))
    kept = {p: s for p, s in listed.items() if not (repo.is_root and _not_the_roots(p, workspace.nested))}
    facts: dict[str, _Facts] = defaultdict(_Facts)
    for batch in _batches(list(kept)):
        args = f"set -- {' '.join(shlex.quote(p) for p in batch)}\n"
        _parse_facts(await run_records(client, conversation, head + args, _INSPECT, repo.path), facts)
    return pair_moves(_file_change(status, path, facts[path]) for path, status in kept.items())


_STATUSES = {"A": ChangeStatus.ADDED, "D": ChangeStatus.DELETED}


def _parse_listing(records: list[str]) -> dict[str, ChangeStatus]:
    """Path → status, from `git diff -z --name-status` and `git ls-files -z --others`."""
    split = records.index("") if "" in records else len(records)
    tracked, untracked = records[:split], records[split + 1 :]
    pairs = zip(tracked[0::2], tracked[1::2], strict=False)  # status letter, then name
    listed = {path: _STATUSES.get(letter[:1], ChangeStatus.UPDATED) for letter, path in pairs}
    # A repository inside this one is listed as its directory, "name/": it is reviewed on its own.
    return listed | {path: ChangeStatus.ADDED for path in untracked if path and not path.endswith("/")}


def _batches(paths: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for path in paths:
        if batch and (len(batch) == PATHS_PER_COMMAND or sum(map(len, batch)) + len(path) > PATH_CHARS_PER_COMMAND):
            yield batch
            batch = []
        batch.append(path)
    if batch:
        yield batch


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


def _sections(records: list[str], count: int) -> list[list[str]]:
    """Records split at the empty records that end each of `count` sections."""
    sections: list[list[str]] = [[]]
    for record in records:
        if record == "" and len(sections) < count:
            sections.append([])
        else:
            sections[-1].append(record)
    return sections + [[]] * (count - len(sections))


def _parse_facts(records: list[str], facts: dict[str, _Facts]) -> None:
    numstat, tree, present, blobs, sizes = _sections(records, 5)
    for line in numstat:
        added, removed, path = (line.split("\t", 2) + ["", ""])[:3]
        if added.isdigit() and removed.isdigit():
            facts[path].counts = (int(added), int(removed))
        else:
            facts[path].binary = True  # git's numstat says "-" for a binary file
    for line in tree:
        value, _, path = line.partition("\t")
        if len(value.split()) == 4:
            _mode, _type, blob, size = value.split()
            facts[path].base_blob, facts[path].base_size = blob, _number(size)
    # A file that vanished or could not be read meanwhile leaves the lists unequal: trust neither then.
    if len(blobs) == len(present):
        for path, blob in zip(present, blobs, strict=True):
            facts[path].blob = blob
    if len(sizes) == len(present):
        for path, size in zip(present, sizes, strict=True):
            facts[path].size = _number(size)


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


@dataclass(frozen=True)
class PathFacts:
    """A path as the sandbox sees it: the workspace root (as named and with its links resolved), the
    path's kind (file, dir, other, missing), where its links lead, and a file's size in bytes."""

    root: str
    real_root: str
    kind: str
    target: str
    size: int | None


# The kind and size of "$1" (relative to the workspace root, which is the working directory), and its
# target with every link resolved, so that the caller can refuse one that leads out of the workspace.
_STAT = r"""
printf '%s\0' "$(pwd)" "$(pwd -P)"
if [ -d "$1" ]; then k=dir; elif [ -f "$1" ]; then k=file; elif [ -e "$1" ]; then k=other; else k=missing; fi
t=$(realpath -- "$1" 2>/dev/null || readlink -f -- "$1" 2>/dev/null)
s=; [ "$k" = file ] && s=$(wc -c < "$1" | tr -d ' ')
printf '%s\0' "$k" "$t" "$s"
"""


async def stat_path(client: OpenHandsClient, conversation: AppConversation, path: str) -> PathFacts:
    head = f"set -- {shlex.quote(path)}\n"
    records = await run_records(client, conversation, head, _STAT, await working_dir(client, conversation))
    root, real_root, kind, target, size = (records + [""] * 5)[:5]
    return PathFacts(root, real_root, kind, target, _number(size))


async def old_text(client: OpenHandsClient, conversation: AppConversation, repo: Repository, path: str) -> str:
    """A file's text at the repository's base: OpenHands' diff route fails for a deleted file."""
    script = f"git show {shlex.quote(f'{repo.base or EMPTY_TREE}:{path}')}"
    return (await _run(client, conversation, script, repo.path)).rstrip("\n")
