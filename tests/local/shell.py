"""Shell scripts the local tests set their repositories up with, under git's test identity."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fake.workspace import git_env


def sh(cwd: Path, script: str) -> str:
    done = subprocess.run(script, shell=True, cwd=cwd, capture_output=True, text=True, env=git_env(cwd))
    assert done.returncode == 0, done.stderr
    return done.stdout
