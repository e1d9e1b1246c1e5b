"""A fake sandbox workspace: a real directory with real git, answering like OpenHands 1.11.0 does.

Like a process sandbox, the workspace root is a git repository with no commits that also holds the
agent server's log and its bash event files. The git answers port the agent server's logic
(openhands-sdk 1.34.0 `git_changes.py`, `git_diff.py`, `get_valid_ref`): renames come back as a
deletion plus an addition, a repository without a remote compares with the empty tree unless a ref
is given, a deleted file cannot be diffed, and files over 1 MiB are refused. The command route
keeps only the last megabyte of output, as the real one does.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MAX_DIFF_BYTES = 1024 * 1024
MAX_OUTPUT_CHARS = 1024 * 1024


class GitFailed(Exception):
    """What the agent server answers with 400 (an unknown ref, a missing or too large file)."""


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False, env=git_env(repo))
    if check and done.returncode != 0:
        raise GitFailed(done.stderr.strip())
    return done


def git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "agent",
        "GIT_AUTHOR_EMAIL": "agent@example.com",
        "GIT_COMMITTER_NAME": "agent",
        "GIT_COMMITTER_EMAIL": "agent@example.com",
    }


def create(root: Path) -> Path:
    """A fresh workspace root, as the process sandbox leaves it before the agent's first step."""
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q")
    (root / ".openhands-agent-server.log").write_text("INFO agent server started\n")
    return root


def valid_ref(repo: Path, override: str | None) -> str | None:
    if override is not None:
        done = _git(repo, "rev-parse", "--verify", "-q", f"{override}^{{commit}}", check=False)
        if done.returncode == 0:
            return done.stdout.strip()
        if override == "HEAD":
            return EMPTY_TREE
        raise GitFailed(f"unknown ref {override}")
    branch = _git(repo, "branch", "--show-current", check=False).stdout.strip()
    for candidate in (f"origin/{branch}", "origin/HEAD"):
        done = _git(repo, "rev-parse", "--verify", "-q", candidate, check=False)
        if done.returncode == 0:
            base = _git(repo, "merge-base", "HEAD", candidate, check=False).stdout.strip()
            return base or done.stdout.strip()
    return EMPTY_TREE


def is_repo(path: Path) -> bool:
    return path.is_dir() and _git(path, "rev-parse", "--git-dir", check=False).returncode == 0


def changes_in_repo(repo: Path, ref: str | None) -> list[dict[str, str]]:
    base = valid_ref(repo, ref)
    changes: list[dict[str, str]] = []
    names = {"A": "ADDED", "M": "UPDATED", "D": "DELETED", "U": "UPDATED"}
    for line in _git(repo, "--no-pager", "diff", "--name-status", str(base)).stdout.splitlines():
        parts = line.split("\t")
        if parts[0].startswith("R"):
            changes += [{"status": "DELETED", "path": parts[1]}, {"status": "ADDED", "path": parts[2]}]
        elif parts[0].startswith("C"):
            changes.append({"status": "ADDED", "path": parts[2]})
        else:
            changes.append({"status": names[parts[0][0]], "path": parts[1]})
    untracked = _git(repo, "--no-pager", "ls-files", "--others", "--exclude-standard").stdout.splitlines()
    return changes + [{"status": "ADDED", "path": p} for p in untracked if p.strip()]


def git_changes(path: Path, ref: str | None) -> list[dict[str, str]]:
    """GET /api/git/changes: the repository at `path` plus the repositories one level down."""
    if not is_repo(path):
        return []
    nested = sorted(p.parent.name for p in path.glob("*/.git"))
    changes = [c for c in changes_in_repo(path, ref) if not any(c["path"].startswith(n) for n in nested)]
    for name in nested:
        changes += [{"status": c["status"], "path": f"{name}/{c['path']}"} for c in changes_in_repo(path / name, ref)]
    return sorted(changes, key=lambda c: c["path"])


def _closest_repo(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def git_diff(path: Path, ref: str | None) -> dict[str, str | None]:
    """GET /api/git/diff: a file's two texts, final newline stripped."""
    if not path.exists():
        raise GitFailed(f"File does not exist: {path}")
    if path.stat().st_size > MAX_DIFF_BYTES:
        raise GitFailed(f"File too large for git diff: {path.stat().st_size} bytes")
    repo = _closest_repo(path)
    if repo is None:
        return {"original": None, "modified": None}
    base = valid_ref(repo, ref)
    shown = subprocess.run(
        ["git", "show", f"{base}:{path.relative_to(repo)}"],
        cwd=repo,
        capture_output=True,
        env=git_env(repo),
        check=False,
    )
    try:
        # Upstream strips the old text at both ends, and fails (500) on one that is not UTF-8.
        original = shown.stdout.decode("utf-8").strip() if shown.returncode == 0 else ""
    except UnicodeDecodeError:
        raise GitFailed(f"cannot decode the old text of {path}") from None
    try:
        modified = "\n".join(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        modified = ""
    return {"original": original, "modified": modified}


def text_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8") if path.is_absolute() and path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return ""


def download(path: Path) -> tuple[int, bytes | str]:
    """GET /api/file/download: (200, the bytes), or an error status and its detail."""
    if not path.is_absolute():
        return 400, "Path must be absolute"
    if not path.exists():
        return 404, "File not found"
    if not path.is_file():
        return 400, "Path is not a file"
    return 200, path.read_bytes()


def execute(root: Path, command: str, cwd: str | None, timeout: float) -> dict[str, Any]:
    """POST /api/bash/execute_bash_command: a BashOutput, recorded in workspace/bash_events like upstream."""
    command_id = uuid.uuid4().hex
    events = root / "workspace" / "bash_events"
    events.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    (events / f"{stamp}_BashCommand_{command_id}").write_text(command)
    output: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "command_id": command_id,
        "order": 0,
        "kind": "BashOutput",
    }
    try:
        done = subprocess.run(
            command, shell=True, cwd=cwd or root, capture_output=True, timeout=timeout, env=git_env(root), check=False
        )
    except FileNotFoundError as exc:
        return output | {"exit_code": -1, "stdout": None, "stderr": f"Error executing command: {exc}"}
    except subprocess.TimeoutExpired:
        return output | {"exit_code": -1, "stdout": None, "stderr": None}
    stdout = _last_chunk(done.stdout.decode("utf-8", "replace"))
    stderr = _last_chunk(done.stderr.decode("utf-8", "replace"))
    return output | {"exit_code": done.returncode, "stdout": stdout or None, "stderr": stderr or None}


def _last_chunk(text: str) -> str:
    """Output past a megabyte goes out in earlier events; the route answers with the last one only."""
    return text[len(text) - len(text) % MAX_OUTPUT_CHARS :] if len(text) > MAX_OUTPUT_CHARS else text


def upload(path: Path, content: bytes) -> tuple[int, str | None]:
    """POST /api/file/upload: writes the file, making its folders; 400 for a relative path."""
    if not path.is_absolute():
        return 400, "Path must be absolute"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return 200, None


def git_delta(path: Path, base_ref: str | None) -> tuple[int, bytes | str]:
    """GET /api/file/archive?format=git-delta: the agent server's `_create_git_delta`, ported: a throwaway
    index seeded from the base, the working tree staged on top of it (.gitignore honoured), a binary diff."""
    if not path.is_absolute():
        return 400, "Path must be absolute"
    if not path.is_dir():
        return 404, "Directory not found"
    if base_ref is not None and base_ref.startswith("-"):
        return 400, "base_ref must not start with '-'"
    if not is_repo(path):
        return 400, f"Not a git repository: {path}"
    try:
        ref = valid_ref(path, base_ref) or EMPTY_TREE
    except GitFailed:
        return 400, f"base_ref {base_ref!r} could not be resolved"
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"oh-mcp-fake-{uuid.uuid4().hex}.index"
    env = git_env(path) | {"GIT_INDEX_FILE": str(scratch)}
    try:
        for args in (["read-tree", ref], ["add", "-A", "--", "."]):
            subprocess.run(["git", *args], cwd=path, env=env, capture_output=True, check=True)
        done = subprocess.run(
            ["git", "diff", "--binary", "--cached", ref, "--", "."], cwd=path, env=env, capture_output=True, check=True
        )
    finally:
        scratch.unlink(missing_ok=True)
    return 200, done.stdout
