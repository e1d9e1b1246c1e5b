"""The sandbox's side: unpacking a snapshot into the workspace, and reading the agent's work back
as one git patch. Both go through the agent server (its file routes and its command route) with the
sandbox's own key; scripts are plain sh and git, their arguments quoted and passed after `--`."""

from __future__ import annotations

import posixpath
import re
import shlex
import uuid
from dataclasses import dataclass

from ..openhands import AppConversation, InvalidRequest, OpenHandsClient, ServerError
from ..openhands.errors import scrub
from ..workspace import Repository, Workspace, find_workspace, workspace_root
from .snapshot import Snapshot

REMOTE = "oh-mcp"  # a remote with no URL: its refs name what was sent, and nothing can be pushed to it
UNPACK_TIMEOUT = 300

# $1 pack, $2 destination, $3 branch, $4 base commit, $5 sent commit. HEAD becomes base on the branch,
# the index base too, the working tree the sent state; refs/remotes/oh-mcp/<branch> keeps the sent commit.
_UNPACK = r"""
set -e
pack=$1 dest=$2 branch=$3 base=$4 sent=$5
trap 'rm -f -- "$pack"' EXIT
if [ -e "$dest" ]; then echo "$dest already exists in the sandbox" >&2; exit 17; fi
git init -q -- "$dest"
cd -- "$dest"
git unpack-objects -q < "$pack"
git update-ref "refs/heads/$branch" "$base"
git symbolic-ref HEAD "refs/heads/$branch"
git config "remote.oh-mcp.fetch" "+refs/heads/*:refs/remotes/oh-mcp/*"
git update-ref "refs/remotes/oh-mcp/$branch" "$sent"
git -c filter.lfs.smudge= -c filter.lfs.process= -c filter.lfs.required=false read-tree -u --reset "$sent"
git read-tree "$base"
printf '%s\n' "$(pwd)"
"""

# The commit a repository's work was sent as, when it came from a local checkout: the oh-mcp remote's ref.
_SENT = "git for-each-ref --count=1 --format='%(objectname)' refs/remotes/oh-mcp/ 2>/dev/null || true"


@dataclass(frozen=True)
class Unpacked:
    path: str  # the repository's folder in the sandbox
    branch: str


def _folder_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return cleaned or "project"


async def unpack(client: OpenHandsClient, conversation: AppConversation, snap: Snapshot) -> Unpacked:
    """Upload the snapshot's pack and make it a repository in the workspace root, named as the local one."""
    root = await workspace_root(client, conversation)
    dest = posixpath.join(root, _folder_name(snap.name))
    pack = posixpath.join(root, f".oh-mcp-upload-{uuid.uuid4().hex}.pack")
    branch = snap.branch or "oh-mcp-work"
    await client.upload_file(conversation, pack, snap.pack)
    args = " ".join(shlex.quote(a) for a in (pack, dest, branch, snap.base, snap.sent))
    command = f"sh -c {shlex.quote(_UNPACK)} oh-mcp {args}"
    result = await client.execute_command(conversation, command, cwd=root, timeout=UNPACK_TIMEOUT)
    if result.exit_code != 0:
        detail = scrub((result.stderr or result.stdout or "").strip(), client.secrets_for(conversation), limit=400)
        raise ServerError(f"The repository could not be unpacked in the sandbox (exit {result.exit_code}): {detail}")
    return Unpacked(path=dest, branch=branch)


@dataclass(frozen=True)
class Patch:
    repository: str  # in the sandbox
    base: str  # the commit the patch applies to
    compared_with: str  # the base in words
    local: bool  # the repository was sent from a local checkout
    data: bytes


async def agent_patch(
    client: OpenHandsClient, conversation: AppConversation, repository_path: str | None = None
) -> Patch:
    """One binary git patch of everything changed in the repository since the agent started: against
    what was sent for a local checkout, else against the repository's base (its remote branch)."""
    repo = _one_repository(await find_workspace(client, conversation, only=repository_path), repository_path)
    result = await client.execute_command(conversation, _SENT, cwd=repo.path)
    sent = (result.stdout or "").strip()
    if re.fullmatch(r"[0-9a-f]{40,64}", sent):
        base, words, local = sent, "what was sent from the local checkout", True
    else:
        base, words, local = repo.base or "HEAD", repo.compared_with, False
    data = await client.git_delta(conversation, repo.path, base)
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
