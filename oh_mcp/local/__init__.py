"""The person's own checkout, on the machine oh-mcp runs on: which folders may be named
(`roots.py`), what of a repository is sent to a sandbox (`snapshot.py`), how it is unpacked there
and how the agent's work comes back as a patch (`sandbox.py`), and applying that patch (`apply.py`).
Git runs without a shell, every path after `--` or in a NUL-separated list (`git.py`)."""
