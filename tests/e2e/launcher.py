"""Run the OpenHands 1.11.0 app server with the three in-process fixes the process sandbox needs here.

Run by the OpenHands venv's Python (3.12), not by the test's: `python launcher.py --port N`. It imports
nothing from oh-mcp or the tests. Package files stay untouched; the fixes are monkeypatches:

1. Docker detection says False: this machine has /.dockerenv, so `replace_localhost_hostname_for_docker`
   would send every readiness probe to host.docker.internal and no sandbox would ever start.
2. `ProcessSandboxService._get_process_status` maps STARTING to RUNNING: an idle agent server is
   "sleeping" for psutil, which upstream reports as STARTING forever (a stopped one stays PAUSED).
3. `get_default_tools` in the live-status conversation service gets enable_browser=False: there is
   no Chromium, and with the browser tool the agent server refuses to create the conversation.
4. `ProcessSandboxService._wait_for_server_ready` waits 120 s instead of 30: on a machine shared with
   other test runs (load 10 on 2 cores) an agent server took over 30 s to import and answer /alive,
   and every conversation start failed with "Agent Server Failed to start properly".
5. `ProcessSandboxService._start_agent_process` gives agent servers this app server's own TMUX_TMPDIR
   (the launcher's, set by the harness): the process sandbox spec sets /tmp/openhands-tmux, which does
   not exist, so tmux falls back to /tmp/tmux-0 and every agent server on the machine, whatever stage
   started it, shares one tmux server (socket "openhands"). That server carries the environment, and so
   the kill marker, of whichever stage started it: that stage's clean-up killed it under the other
   stages' running agents, whose commands then never ran (an accepted `touch` left no file).

A missing patch target stops the launcher with exit code 3 and a line naming it, so a new
OpenHands release fails the stage loudly instead of hanging it.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

APP = "openhands.app_server.app:app"
ENVIRONMENT = "openhands.app_server.utils.environment"
DOCKER_UTILS = "openhands.app_server.utils.docker_utils"
PROCESS_SANDBOX = "openhands.app_server.sandbox.process_sandbox_service"
LIVE_STATUS = "openhands.app_server.app_conversation.live_status_app_conversation_service"
MISSING_TARGET = 3


def say(message: str) -> None:
    print(f"[oh-mcp e2e launcher] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    say(f"PATCH TARGET MISSING: {message}")
    sys.exit(MISSING_TARGET)


def load(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        fail(f"cannot import {name}: {exc}")
        raise  # unreachable; keeps type checkers sure `load` returns a module


def target(module: ModuleType, attribute: str) -> Any:
    if not hasattr(module, attribute):
        fail(f"{module.__name__}.{attribute} does not exist")
    return getattr(module, attribute)


def not_in_docker() -> bool:
    return False


def patch_docker_detection() -> Callable[[], bool]:
    environment, docker_utils = load(ENVIRONMENT), load(DOCKER_UTILS)
    original = target(environment, "is_running_in_docker")
    if target(docker_utils, "is_running_in_docker") is not original:
        fail(f"{DOCKER_UTILS}.is_running_in_docker is not the one from {ENVIRONMENT}")
    if not callable(target(docker_utils, "replace_localhost_hostname_for_docker")):
        fail(f"{DOCKER_UTILS}.replace_localhost_hostname_for_docker is not a function")
    setattr(environment, "is_running_in_docker", not_in_docker)  # noqa: B010 - modules typed as ModuleType
    setattr(docker_utils, "is_running_in_docker", not_in_docker)  # noqa: B010
    say(f"patched {ENVIRONMENT}.is_running_in_docker and {DOCKER_UTILS}.is_running_in_docker -> False")
    result: Callable[[], bool] = original
    return result


def rebind_everywhere(original: object, replacement: object, name: str) -> list[str]:
    """Replace every module-level binding of `original` (imported by name) in the openhands packages."""
    rebound = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("openhands"):
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, replacement)
                rebound.append(f"{module_name}.{attribute}")
    if rebound:
        say(f"also rebound {name} in: {', '.join(rebound)}")
    return rebound


def patch_process_status() -> None:
    module = load(PROCESS_SANDBOX)
    service = target(module, "ProcessSandboxService")
    status_enum = target(module, "SandboxStatus")
    original = target(service, "_get_process_status")
    for member in ("STARTING", "RUNNING", "PAUSED"):
        target(status_enum, member)

    @functools.wraps(original)
    def status_without_sleeping_bug(self: Any, process_info: Any) -> Any:
        status = original(self, process_info)
        return status_enum.RUNNING if status == status_enum.STARTING else status

    service._get_process_status = status_without_sleeping_bug
    say(f"patched {PROCESS_SANDBOX}.ProcessSandboxService._get_process_status: STARTING -> RUNNING")


AGENT_SERVER_START_SECONDS = 120


def patch_agent_server_wait() -> None:
    service = target(load(PROCESS_SANDBOX), "ProcessSandboxService")
    original = target(service, "_wait_for_server_ready")

    @functools.wraps(original)
    async def patient_wait(self: Any, port: int, timeout: int = 30) -> Any:
        return await original(self, port, max(timeout, AGENT_SERVER_START_SECONDS))

    service._wait_for_server_ready = patient_wait
    say(f"patched {PROCESS_SANDBOX}.ProcessSandboxService._wait_for_server_ready: {AGENT_SERVER_START_SECONDS} s")


def patch_tmux_dir() -> None:
    service = target(load(PROCESS_SANDBOX), "ProcessSandboxService")
    original = target(service, "_start_agent_process")
    tmux_dir = os.environ.get("TMUX_TMPDIR")
    if not tmux_dir:
        fail("TMUX_TMPDIR is not set for the launcher")

    @functools.wraps(original)
    async def own_tmux(self: Any, *args: Any, **kwargs: Any) -> Any:
        spec = kwargs["sandbox_spec"]  # passed by keyword in 1.11.0; a KeyError here names the change
        env = {**spec.initial_env, "TMUX_TMPDIR": tmux_dir}
        kwargs["sandbox_spec"] = spec.model_copy(update={"initial_env": env})
        return await original(self, *args, **kwargs)

    service._start_agent_process = own_tmux
    say(f"patched {PROCESS_SANDBOX}.ProcessSandboxService._start_agent_process: TMUX_TMPDIR={tmux_dir}")


def patch_browser_tool() -> None:
    module = load(LIVE_STATUS)
    original = target(module, "get_default_tools")

    @functools.wraps(original)
    def tools_without_browser(*args: Any, **kwargs: Any) -> Any:
        kwargs["enable_browser"] = False
        return original(*args, **kwargs)

    setattr(module, "get_default_tools", tools_without_browser)  # noqa: B010
    say(f"patched {LIVE_STATUS}.get_default_tools: enable_browser=False")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()

    original_detection = patch_docker_detection()
    patch_process_status()
    patch_agent_server_wait()
    patch_tmux_dir()
    patch_browser_tool()
    module_name, _, attribute = APP.partition(":")
    app_module = load(module_name)
    target(app_module, attribute)
    # Importing the app loaded the rest of the package: catch anyone holding the original by name.
    rebind_everywhere(original_detection, not_in_docker, "is_running_in_docker")

    import uvicorn

    say(f"serving {APP} on http://{args.host}:{args.port}")
    uvicorn.run(APP, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
