"""The sandbox's side of sending a checkout: unpacking a snapshot into the workspace (the work comes
back through review/patch.py). It goes through the agent server (its file routes and its command route) with the
sandbox's own key; scripts are plain sh and git, their arguments quoted and passed after `--`."""

from __future__ import annotations

import posixpath
import re
import shlex
import uuid
from dataclasses import dataclass

from ..openhands import AppConversation, OpenHandsClient, ServerError
from ..openhands.errors import scrub
from ..review.workspace import workspace_root
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
