"""The agent's work as one git patch: fetched from the sandbox within a size cap, read the way git
reads it (which files, and what happens to each), and named by its digest, so that what is applied
is exactly what was reviewed.

Everything here comes from the sandbox and is treated as hostile: the patch's bytes, the names in
it, the commit it claims to apply to. The file list is git's own parse (`git apply --numstat -z`,
NUL-separated, quoted names decoded by git), cross-checked against the patch's headers read here;
a patch the two read differently is refused as unreadable rather than summarised wrongly.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..local.git import git
from ..openhands import AppConversation, InvalidRequest, OpenHandsClient
from .workspace import Repository, Workspace, find_workspace

# The commit a repository's work was sent as, when it came from a local checkout: the oh-mcp remote's ref.
_SENT = "git for-each-ref --count=1 --format='%(objectname)' refs/remotes/oh-mcp/ 2>/dev/null || true"
COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# The base of a hosted repository's work as a commit id (the name alone means nothing on this machine).
_RESOLVE = "git rev-parse --verify -q {}^{{commit}} 2>/dev/null || true"


class UnreadablePatch(Exception):
    """A patch git and this module do not read the same way, or git cannot read at all."""


@dataclass(frozen=True)
class PatchFile:
    path: str  # where the file ends up (its old name for a deletion)
    status: str  # added | modified | deleted | renamed | copied
    source: str | None = None  # renamed or copied from
    old_mode: str | None = None
    new_mode: str | None = None
    added: int | None = None  # None for a binary file
    removed: int | None = None

    def describe(self) -> str:
        what = f"{self.status} from {shown_path(self.source)}" if self.source else self.status
        if self.old_mode and self.new_mode and self.old_mode != self.new_mode:
            what += f", mode {self.old_mode} -> {self.new_mode}"
        elif self.status == "added" and self.new_mode and self.new_mode != "100644":
            what += f", mode {self.new_mode}"
        return f"{shown_path(self.path)} ({what})"


@dataclass(frozen=True)
class Patch:
    repository: str  # in the sandbox
    base: str  # the commit the patch applies to, as the sandbox names it
    compared_with: str  # the base in words
    local: bool  # the repository was sent from a local checkout
    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shown_path(path: str | None) -> str:
    """A name as a person can read it: quoted, with escapes, when it holds anything unprintable
    (a TAB or a newline must not hide a file from the list it is shown in)."""
    if path is None:
        return ""
    if path.isprintable() and path.strip() == path:
        return path
    return '"' + path.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


async def agent_patch(
    client: OpenHandsClient, conversation: AppConversation, repository_path: str | None = None, *, limit: int
) -> Patch:
    """One binary git patch of everything changed in the repository since the agent started: against
    what was sent for a local checkout, else against the repository's base (its remote branch)."""
    repo = _one_repository(await find_workspace(client, conversation, only=repository_path), repository_path)
    result = await client.execute_command(conversation, _SENT, cwd=repo.path)
    sent = (result.stdout or "").strip()
    if COMMIT.fullmatch(sent):
        base, words, local = sent, "what was sent from the local checkout", True
    else:
        base, words, local = repo.base or "HEAD", repo.compared_with, False
    data = await client.git_delta(conversation, repo.path, base, limit=limit)
    if not local:
        resolved = await client.execute_command(conversation, _RESOLVE.format(shlex.quote(base)), cwd=repo.path)
        commit = (resolved.stdout or "").strip()
        base = commit if COMMIT.fullmatch(commit) else base
    return Patch(repository=repo.path, base=base, compared_with=words, local=local, data=data)


def _one_repository(workspace_: Workspace, asked: str | None) -> Repository:
    repos = [r for r in workspace_.repositories if not r.is_root] or (list(workspace_.repositories) if asked else [])
    if len(repos) == 1:
        return repos[0]
    if not repos:
        raise InvalidRequest(
            f"No git repository in this conversation's workspace ({workspace_.root}) to make a patch of.", hint=""
        )
    names = ", ".join(r.name for r in repos)
    raise InvalidRequest(f"The workspace holds several repositories ({names}).", hint="Pass repository_path.")


# ---- reading a patch ------------------------------------------------------------------------------


async def read_patch(data: bytes) -> list[PatchFile]:
    """The files of `data`, as git reads them. Raises UnreadablePatch."""
    with tempfile.TemporaryDirectory(prefix="oh-mcp-") as scratch:  # outside any repository
        path = Path(scratch) / "agent.patch"
        path.write_bytes(data)
        code, out, err = await git(Path(scratch), "apply", "--numstat", "-z", str(path), check=False)
    if code != 0:
        raise UnreadablePatch(f"git cannot read the patch: {_first_line(err)}")
    counted = _numstat(out)
    files = _headers(data)
    if [f.path for f in files] != [path for path, _, _ in counted]:
        raise UnreadablePatch("the names in the patch's headers are not the names git reads in it")
    return [
        PatchFile(f.path, f.status, f.source, f.old_mode, f.new_mode, added, removed)
        for f, (_, added, removed) in zip(files, counted, strict=True)
    ]


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "no reason given")[:300]


def _numstat(out: bytes) -> list[tuple[str, int | None, int | None]]:
    """`added TAB removed TAB path NUL`, or for a rename or copy `added TAB removed TAB NUL old NUL new NUL`."""
    fields = out.split(b"\0")
    rows: list[tuple[str, int | None, int | None]] = []
    i = 0
    while i < len(fields) and fields[i]:
        added, removed, path = fields[i].split(b"\t", 2)
        if path == b"":
            path, i = fields[i + 2], i + 2
        rows.append((_text(path), _count(added), _count(removed)))
        i += 1
    return rows


def _count(field: bytes) -> int | None:
    return None if field == b"-" else int(field)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass
class _Block:
    path: str = ""
    status: str = "modified"
    source: str | None = None
    old_mode: str | None = None
    new_mode: str | None = None


_HEADER_ENDS = (b"@@", b"GIT binary patch", b"Binary files ")


def _headers(data: bytes) -> list[PatchFile]:
    """Each `diff --git` block's names and modes, from its extended header lines."""
    files: list[PatchFile] = []
    block: _Block | None = None
    for line in data.split(b"\n"):
        if line.startswith(b"diff --git "):
            if block is not None:
                files.append(_finish(block))
            block = _Block(path=_git_line_name(line[len(b"diff --git ") :]))
            in_header = True
            continue
        if block is None or not in_header:
            continue
        if line.startswith(_HEADER_ENDS):
            in_header = False
        else:
            _header_line(block, line)
    if block is not None:
        files.append(_finish(block))
    return files


def _header_line(block: _Block, line: bytes) -> None:
    key, _, value = line.partition(b" ")
    pairs = {
        b"rename from": ("renamed", "source"),
        b"copy from": ("copied", "source"),
        b"rename to": ("renamed", "path"),
        b"copy to": ("copied", "path"),
    }
    two = b" ".join(line.split(b" ", 2)[:2])
    if two in pairs:
        status, attribute = pairs[two]
        block.status = status
        setattr(block, attribute, _name(line.split(b" ", 2)[2]))
    elif two in (b"new file", b"deleted file"):
        block.status = "added" if two == b"new file" else "deleted"
        mode = _text(line.rsplit(b" ", 1)[1])
        block.new_mode, block.old_mode = (mode, None) if two == b"new file" else (None, mode)
    elif two in (b"old mode", b"new mode"):
        mode = _text(line.rsplit(b" ", 1)[1])
        if two == b"old mode":
            block.old_mode = mode
        else:
            block.new_mode = mode
    elif key in (b"---", b"+++") and value != b"/dev/null":
        name = _name(value)
        block.path = name.split("/", 1)[1] if "/" in name else name


def _finish(block: _Block) -> PatchFile:
    if not block.path:
        raise UnreadablePatch("a file's name in the patch cannot be read")
    return PatchFile(block.path, block.status, block.source, block.old_mode, block.new_mode)


def _git_line_name(rest: bytes) -> str:
    """The name in `diff --git a/NAME b/NAME`; a block whose name changes says so in later lines."""
    if rest.startswith(b'"'):
        first = _quoted(rest)[0]
        return first[2:] if first.startswith("a/") else ""
    half = (len(rest) - 1) // 2
    left, right = rest[:half], rest[half + 1 :]
    if left[2:] == right[2:] and left[:2] == b"a/" and right[:2] == b"b/":
        return _text(left[2:])
    return ""  # names differ: rename/copy lines or ---/+++ lines name it


def _name(raw: bytes) -> str:
    """A header's path: as written, or C-quoted by git when it holds special characters."""
    return _quoted(raw)[0] if raw.startswith(b'"') else _text(raw)


_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


def _quoted(raw: bytes) -> tuple[str, bytes]:
    """Decode git's C-style quoted name at the start of `raw`: (the name, what follows it)."""
    out = bytearray()
    i = 1
    while i < len(raw):
        char = raw[i : i + 1]
        if char == b'"':
            return _text(bytes(out)), raw[i + 1 :]
        if char == b"\\":
            escape = raw[i + 1 : i + 2]
            if escape in _ESCAPES:
                out.append(_ESCAPES[escape])
                i += 2
                continue
            octal = raw[i + 1 : i + 4]
            if len(octal) == 3 and all(48 <= c <= 55 for c in octal):
                out.append(int(octal, 8))
                i += 4
                continue
            raise UnreadablePatch("a quoted name in the patch has an unknown escape")
        out += char
        i += 1
    raise UnreadablePatch("a quoted name in the patch does not end")
