"""Install the OpenHands the e2e stage runs, exactly as `locks/` pins it, and reuse it safely: the app
server (openhands-ai, `locks/openhands.txt`) and a standalone newer agent server (`locks/agent-server.txt`).

The venv lives in the cache under a name made of the lock file's hash (`oh-venv-<hash>`), and holds a
stamp written only after the install finished and imported: a venv is reused only when it was built
from this very lock file, so a cache warmed by an older resolution can never hide a broken install.
A changed lock makes a new venv; venvs of other locks unused for a week are removed.

Also the one way anything else here installs OpenHands:

    .venv/bin/python -m tests.e2e.install            # prints the venv's python, installing if needed
    .venv/bin/python -m tests.e2e.install --agent-server   # the same for the standalone agent server
    .venv/bin/python -m tests.e2e.install --check    # in a fresh cache, then the checks below

`--check` is what `scripts/lock-openhands` runs on a new resolution before it is committed: the app
server imports, and the agent server's secret cipher accepts 200 random session keys (the break
cryptography 51 brought: Fernet refused three keys in four).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "locks" / "openhands.txt"
OPENHANDS_VERSION = "1.11.0"
PYTHON_VERSION = "3.12.1"
INSTALL_TIMEOUT = 900.0
LOG_TAIL = 4000
STAMP = "oh-mcp-lock.sha256"
STALE_SECONDS = 7 * 24 * 3600


class E2EError(Exception):
    """The stage cannot run: install, start or configuration failed. Never a reason to skip."""


def say(message: str) -> None:
    print(f"[e2e] {message}", flush=True)


def cache_dir() -> Path:
    return Path(os.environ.get("OH_MCP_E2E_CACHE") or Path.home() / ".cache" / "oh-mcp-e2e")


def lock_hash(lock: Path = LOCK) -> str:
    try:
        return hashlib.sha256(lock.read_bytes()).hexdigest()
    except OSError as exc:
        raise E2EError(f"the OpenHands lock {lock} cannot be read: {exc}") from exc


@dataclass
class Install:
    python: Path
    seconds: float
    reused: bool


def run(command: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise E2EError(f"`{' '.join(command)}` could not run: {exc}") from exc
    if done.returncode != 0:
        raise E2EError(
            f"`{' '.join(command)}` exited {done.returncode}:\n{done.stdout[-LOG_TAIL:]}\n{done.stderr[-LOG_TAIL:]}"
        )
    return done.stdout


@dataclass(frozen=True)
class Product:
    """One OpenHands program the tests install: its package, the version tested, its lock, and the
    module that must import for the install to count."""

    package: str
    version: str
    lock: Path
    module: str
    prefix: str  # of the venv's folder in the cache
    override: str  # an environment variable naming a ready venv's python instead


OPENHANDS = Product(
    "openhands-ai", OPENHANDS_VERSION, LOCK, "openhands.app_server", "oh-venv", "OH_MCP_E2E_OPENHANDS_PYTHON"
)
AGENT_SERVER = Product(
    "openhands-agent-server",
    "1.58.2",
    ROOT / "locks" / "agent-server.txt",
    "openhands.agent_server",
    "agent-server-venv",
    "OH_MCP_E2E_AGENT_SERVER_PYTHON",
)


def installed_version(python: Path, product: Product = OPENHANDS) -> str | None:
    """The version of `product` importable by `python`, or None."""
    if not python.exists():
        return None
    probe = f"import importlib.metadata as m, {product.module}; print(m.version({product.package!r}))"
    try:
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_uv() -> list[str]:
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return [str(beside)]
    on_path = shutil.which("uv")
    if on_path:
        return [on_path]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    raise E2EError("uv is not installed: `python -m pip install uv` into the test venv (it is in the test extras)")


def find_python312() -> str:
    override = os.environ.get("OH_MCP_E2E_BASE_PYTHON")
    if override:
        return override
    if shutil.which("pyenv"):
        env = os.environ | {"PYENV_VERSION": PYTHON_VERSION}
        return run(["pyenv", "which", "python3.12"], timeout=30, env=env).strip()
    found = shutil.which("python3.12")
    if found:
        return found
    raise E2EError(f"no Python 3.12: install pyenv {PYTHON_VERSION} or set OH_MCP_E2E_BASE_PYTHON")


def stamped(venv: Path, digest: str) -> bool:
    with contextlib.suppress(OSError):
        return (venv / STAMP).read_text().strip() == digest
    return False


def prune(cache: Path, keep: Path, prefix: str) -> None:
    """Venvs of other locks nobody used for a week, and the unkeyed venv of before the lock."""
    now = time.time()
    for venv in [*cache.glob(f"{prefix}-*"), cache / "oh-venv"]:
        if venv == keep or not venv.is_dir():
            continue
        stamp = venv / STAMP
        used = stamp.stat().st_mtime if stamp.exists() else 0.0
        if venv.name == "oh-venv" or now - used > STALE_SECONDS:
            shutil.rmtree(venv, ignore_errors=True)


def ensure_openhands(cache: Path | None = None, lock: Path = LOCK) -> Install:
    """The app server's venv (openhands-ai), built from exactly `lock`."""
    return ensure(OPENHANDS, cache, lock)


def ensure_agent_server(cache: Path | None = None) -> Install:
    """A standalone agent server's venv (openhands-agent-server), built from its own lock."""
    return ensure(AGENT_SERVER, cache)


def ensure(product: Product, cache: Path | None = None, lock: Path | None = None) -> Install:
    """A venv built from exactly `lock`; reused only when its stamp holds that lock's hash."""
    started = time.monotonic()
    lock = lock or product.lock
    override = os.environ.get(product.override)
    if override:
        version = installed_version(Path(override), product)
        if version != product.version:
            raise E2EError(f"{product.override}={override} has {product.package} {version}, not {product.version}")
        return Install(Path(override), time.monotonic() - started, reused=True)
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    digest = lock_hash(lock)
    venv = cache / f"{product.prefix}-{digest[:16]}"
    python = venv / "bin" / "python"
    with (cache / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # one installer at a time across pytest processes
        if stamped(venv, digest) and installed_version(python, product) == product.version:
            (venv / STAMP).touch()
            return Install(python, time.monotonic() - started, reused=True)
        say(f"installing {product.package} from {lock} into {venv} (a minute or two on a fresh machine)")
        shutil.rmtree(venv, ignore_errors=True)
        uv = find_uv()
        run([*uv, "venv", "--quiet", "-p", find_python312(), str(venv)], timeout=120)
        # sync, not install: the venv holds exactly the lock's packages, nothing resolved today.
        run([*uv, "pip", "sync", "--quiet", "--python", str(python), str(lock)], timeout=INSTALL_TIMEOUT)
        version = installed_version(python, product)
        if version != product.version:
            raise E2EError(f"after install, {python} reports {product.package} {version!r}, not {product.version}")
        (venv / STAMP).write_text(digest + "\n")
        prune(cache, keep=venv, prefix=product.prefix)
    return Install(python, time.monotonic() - started, reused=False)


# The agent server's own cipher (openhands-sdk), fed session keys made the way the app server makes
# them. Run by the OpenHands venv's Python; prints how many keys it refused.
CIPHER_CHECK = """
import secrets, sys
from pydantic import SecretStr
from openhands.sdk.utils.cipher import Cipher
refused = 0
for _ in range(int(sys.argv[1])):
    cipher = Cipher(secrets.token_urlsafe(32))  # any key: the cipher hashes it, then base64-encodes
    try:
        decrypted = cipher.decrypt(cipher.encrypt(SecretStr("secret")))
        assert decrypted is not None and decrypted.get_secret_value() == "secret"
    except Exception:
        refused += 1
print(refused)
"""
CIPHER_KEYS = 200


def refused_session_keys(python: Path, keys: int = CIPHER_KEYS) -> int:
    """How many of `keys` random session keys the installed agent server cannot encrypt secrets with."""
    return int(run([str(python), "-c", CIPHER_CHECK, str(keys)], timeout=120).strip())


def check(python: Path) -> None:
    refused = refused_session_keys(python)
    if refused:
        raise E2EError(
            f"the agent server's cipher refused {refused} of {CIPHER_KEYS} random session keys: every such "
            "sandbox answers 500 to a new conversation (cryptography 51 or newer? keep cryptography<51)"
        )
    say(f"the agent server's cipher took all {CIPHER_KEYS} random session keys")


def main() -> None:
    parser = argparse.ArgumentParser(description="Install the tests' OpenHands from locks/.")
    parser.add_argument("--check", action="store_true", help="install into a fresh cache, then check it works")
    parser.add_argument("--agent-server", action="store_true", help="the standalone agent server's venv instead")
    args = parser.parse_args()
    product = AGENT_SERVER if args.agent_server else OPENHANDS
    try:
        if not args.check:
            print(ensure(product).python)
            return
        with tempfile.TemporaryDirectory(prefix="oh-mcp-lock-check-") as fresh:
            for each in (OPENHANDS, AGENT_SERVER):
                install = ensure(each, Path(fresh))
                say(f"installed {each.package} from its lock in {install.seconds:.0f} s")
                check(install.python)
    except E2EError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
