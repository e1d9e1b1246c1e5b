"""The review records, built from a running sandbox: the agent's changes with their diffs, paged
under the output budget, and a workspace file's text, windowed. Shared by tools and resources."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..openhands import AppConversation, InvalidRequest, NotFound, OpenHandsClient, ServerError, Unavailable
from ..records import ChangedFile, Changes, FileText, RepositoryChanges
from ..shaping import RECORD_OVERHEAD, clip, encode_cursor, redact, window
from .diffs import ChangeStatus, FileChange, skip_reason, summary_line, unified_diff
from .workspace import Repository, Workspace, changed_files, find_workspace, old_text, stat_path

MAX_READ_BYTES = 10 * 2**20  # checked before the download: a file is read whole, then windowed
NO_REPOSITORY = "No git repository in this conversation's workspace ({root})."


@dataclass(frozen=True)
class Found:
    """One changed file with its repository."""

    repo: Repository
    change: FileChange

    @property
    def workspace_path(self) -> str:
        return self.repo.relative(self.change.path)


@dataclass(frozen=True)
class Review:
    """How to build a page of changes: what to show, and within how many characters."""

    budget: int
    secrets: tuple[str, ...]
    diff: bool = True
    path: str | None = None


async def list_changes(
    client: OpenHandsClient,
    conversation: AppConversation,
    *,
    repository_path: str | None = None,
    ref: str | None = None,
) -> tuple[Workspace, list[Found]]:
    workspace = await find_workspace(client, conversation, ref=ref, only=repository_path)
    found: list[Found] = []
    for repo in workspace.repositories:
        found += [Found(repo, c) for c in await changed_files(client, conversation, workspace, repo)]
    return workspace, found


def pick(workspace: Workspace, found: list[Found], path: str) -> Found:
    """The changed file named by `path`: relative to its repository or the workspace root, or absolute."""
    wanted = workspace.absolute(path)
    for item in found:
        if wanted == posixpath.join(item.repo.path, item.change.path) or path == item.change.path:
            return item
    names = ", ".join(f.workspace_path for f in found[:10]) or "none"
    raise NotFound(f"{path} is not among the changed files (changed: {names}).", hint="Name one of those.")


async def build_page(
    client: OpenHandsClient,
    conversation: AppConversation,
    workspace: Workspace,
    found: list[Found],
    review: Review,
    start: int = 0,
) -> Changes:
    """The page of changes from file `start` on: every file's record, with diffs while the budget lasts.
    With `review.path`, that one file in full, its diff paged by characters (from `start`) instead."""
    summary = summary_line(f.change for f in found)
    if not workspace.repositories:
        summary = NO_REPOSITORY.format(root=workspace.root)
    if workspace.without_ref:
        summary += f"; not compared, no ref {workspace.ref!r} in: {', '.join(workspace.without_ref)}"
    if review.path is not None:
        item = pick(workspace, found, review.path)
        record, more = await _file_record(client, conversation, item, review, asked=True, offset=start)
        return _changes(conversation, summary, [(item.repo, record)], encode_cursor(None, more) if more else None)
    if not found:
        # Nothing changed: still say which repositories were compared with what, so a ref can be chosen.
        empty = [
            RepositoryChanges(path=r.path, compared_with=r.compared_with, files=[]) for r in workspace.repositories
        ]
        return Changes(conversation_id=conversation.id, summary=summary, repositories=empty)
    shown: list[tuple[Repository, ChangedFile]] = []
    used = 0
    for index in range(start, len(found)):
        record, cut = await _file_record(
            client, conversation, found[index], review, asked=False, room=review.budget - used
        )
        used += len(record.model_dump_json(exclude_none=True)) + RECORD_OVERHEAD
        # A diff cut short here may fit whole at the top of the next page.
        if shown and (used > review.budget or cut is not None):
            return _changes(conversation, summary, shown, encode_cursor(None, index))
        shown.append((found[index].repo, record))
    return _changes(conversation, summary, shown, None)


def _changes(
    conversation: AppConversation, summary: str, shown: list[tuple[Repository, ChangedFile]], next_page_id: str | None
) -> Changes:
    groups: dict[str, RepositoryChanges] = {}
    for repo, record in shown:
        group = groups.setdefault(
            repo.path, RepositoryChanges(path=repo.path, compared_with=repo.compared_with, files=[])
        )
        group.files.append(record)
    return Changes(
        conversation_id=conversation.id, summary=summary, repositories=list(groups.values()), next_page_id=next_page_id
    )


async def _file_record(
    client: OpenHandsClient,
    conversation: AppConversation,
    item: Found,
    review: Review,
    *,
    asked: bool,
    offset: int = 0,
    room: int | None = None,
) -> tuple[ChangedFile, int | None]:
    """A file's record, with its diff cut to the room left; also where the diff goes on, if cut."""
    change = item.change
    record = ChangedFile(
        path=change.path, status=change.status, added=change.added, removed=change.removed, moved_from=change.old_path
    )
    if not (review.diff or asked):
        return record, None
    record.note = skip_reason(change, asked)
    if record.note is not None:
        return record, None
    try:
        text = redact(await _diff(client, conversation, item), review.secrets)
    except (Unavailable, ServerError) as exc:
        # One file OpenHands cannot diff (its diff route answers 502 for it) must not hide the others.
        record.note = f"diff unavailable: {clip(exc.message, 300)}"
        return record, None
    size = max(room if room is not None else review.budget, 500)
    record.diff, more = window(text, offset, size)
    if more is not None:
        how = "page_id" if asked else f"path={item.workspace_path!r}"
        record.note = f"diff cut at {more} of {len(text)} characters: call again with {how} to read on"
    return record, more


async def _diff(client: OpenHandsClient, conversation: AppConversation, item: Found) -> str:
    repo, change = item.repo, item.change
    if change.status == ChangeStatus.DELETED:
        return unified_diff(change, await old_text(client, conversation, repo, change.path), "")
    texts = await client.git_diff(conversation.id, posixpath.join(repo.path, change.path), ref=repo.base)
    return unified_diff(change, texts.original, texts.modified)


async def read_text(
    client: OpenHandsClient,
    conversation: AppConversation,
    path: str,
    *,
    offset: int,
    budget: int,
    secrets: tuple[str, ...],
) -> FileText:
    """A text file of the workspace, windowed. A missing file, a directory, a binary or too large file,
    and a path that leads out of the workspace (by `..` or through a symbolic link) raise."""
    facts = await stat_path(client, conversation, posixpath.normpath(path))
    absolute = posixpath.normpath(posixpath.join(facts.root, path))
    if not _inside(absolute, facts.root):
        raise InvalidRequest(f"{path} is outside the workspace ({facts.root}); only its files are read.", hint=_WHERE)
    if facts.kind == "missing":
        raise NotFound(f"There is no file {absolute} in the sandbox.", hint=_WHERE)
    if facts.kind != "file":
        what = "a directory" if facts.kind == "dir" else "not a regular file"
        raise InvalidRequest(f"{absolute} is {what}, not a file.", hint=_WHERE)
    if not _inside(facts.target, facts.real_root):
        where = facts.target or "a path that cannot be resolved"
        raise InvalidRequest(f"{absolute} is a link to {where}, outside the workspace; it is not read.", hint=_WHERE)
    if facts.size is not None and facts.size > MAX_READ_BYTES:
        raise InvalidRequest(
            f"{absolute} has {facts.size} bytes; read_file reads files up to {MAX_READ_BYTES // 2**20} MiB.",
            hint="Read a part of it in the sandbox instead, e.g. ask the agent for the lines you need.",
        )
    # The resolved target: a link swapped in after the check is not followed.
    data = await _download(client, conversation, facts.target, absolute)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text[:8000]:
        raise InvalidRequest(f"{absolute} is a binary file of {len(data)} bytes; only text files can be read.", hint="")
    chunk, next_offset = window(redact(text, secrets), offset, budget)
    return FileText(path=absolute, size=len(data), text=chunk, next_offset=next_offset)


def _inside(path: str, root: str) -> bool:
    """Whether `path` is `root` or below it; a sibling that merely starts with root's name is not."""
    return path == root or path.startswith(root.rstrip("/") + "/")


async def _download(client: OpenHandsClient, conversation: AppConversation, target: str, absolute: str) -> bytes:
    try:
        return await client.download_file(conversation, target)
    except NotFound:
        raise NotFound(f"There is no file {absolute} in the sandbox.", hint=_WHERE) from None
    except InvalidRequest as exc:
        what = "a directory" if "not a file" in exc.message else "not a readable path"
        raise InvalidRequest(f"{absolute} is {what}, not a file.", hint=_WHERE) from None


_WHERE = "Paths are absolute, or relative to the workspace root; get_changes lists the changed files."
