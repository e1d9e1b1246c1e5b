"""The wheel and sdist build, install into a clean venv, and run."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import oh_mcp
from tests.calls import ALL_TOOLS
from tests.stdio_raw import INITIALIZE, exchange
from tests.uv_env import uv_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True, capture_output=True, timeout=300
    )
    return out


def test_the_wheel_ships_the_package_types_and_entry_point(dist: Path) -> None:
    wheel = next(dist.glob("oh_mcp-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "oh_mcp/py.typed" in names and "oh_mcp/openhands/client.py" in names
    assert "oh_mcp/panel/panel.html" in names, "the built conversation panel must ship"
    assert not any(n.startswith("tests/") for n in names)
    meta = next(n for n in names if n.endswith("METADATA"))
    metadata = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Python: >=3.11" in metadata and "Requires-Dist: mcp<3,>=2.3" in metadata
    assert "License-Expression: MIT" in metadata and "Project-URL" in metadata
    # What PyPI shows and what uvx / pipx run: the README (with the registry's mcp-name marker) and the command.
    assert "Description-Content-Type: text/markdown" in metadata and "mcp-name: io.github.oh-mcp/oh-mcp" in metadata
    assert "Classifier: Environment :: Console" in metadata and "License-File: LICENSE" in metadata
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "oh-mcp = oh_mcp.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    sdist = next(dist.glob("oh_mcp-*.tar.gz"))
    assert any(n.endswith("CHANGELOG.md") for n in tarfile.open(sdist).getnames())


@pytest.mark.timeout(240)  # builds a venv and installs the wheel: ~25 s idle, ~50 s on a busy machine
def test_the_wheel_installs_into_a_clean_venv_and_serves(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    wheel = next(dist.glob("oh_mcp-*.whl"))
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    helped = subprocess.run([str(venv / "bin" / "oh-mcp"), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--openhands-url" in helped.stdout
    env = {"PATH": "/usr/bin:/bin", "OPENHANDS_URL": "http://127.0.0.1:9"}
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    answers = exchange([str(venv / "bin" / "python"), "-m", "oh_mcp"], [*INITIALIZE, tools_list], env)
    assert len(answers[2]["result"]["tools"]) == ALL_TOOLS


@pytest.mark.timeout(240)  # uv resolves and installs the dependencies from the index: ~5 s, more on a busy machine
def test_uvx_runs_the_wheel_with_no_checkout_on_the_path(dist: Path, tmp_path: Path) -> None:
    wheel = next(dist.glob("oh_mcp-*.whl"))
    env = uv_env(tmp_path) | {"OPENHANDS_URL": "http://127.0.0.1:9"}
    # uv runs from a scratch folder, so nothing of the checkout is importable: only the wheel serves.
    uvx = ["uv", "--directory", str(tmp_path), "tool", "run", "--from", str(wheel), "oh-mcp"]
    helped = subprocess.run([*uvx, "--help"], capture_output=True, text=True, env=env, timeout=180)
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "--openhands-url" in helped.stdout and "oh-mcp" in helped.stdout
    where = subprocess.run(
        [*uvx[:-1], "python", "-c", "import oh_mcp; print(oh_mcp.__file__)"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr[-2000:]
    assert where.stdout.startswith(env["UV_CACHE_DIR"]) and str(ROOT) not in where.stdout, where.stdout
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    answers = exchange(uvx, [*INITIALIZE, tools_list], env)
    assert len(answers[2]["result"]["tools"]) == ALL_TOOLS


@pytest.mark.timeout(240)  # pipx builds the sdist and installs the dependencies into a fresh venv
def test_pipx_runs_the_sdist(dist: Path, tmp_path: Path) -> None:
    sdist = next(dist.glob("oh_mcp-*.tar.gz"))
    pipx = Path(sys.executable).parent / "pipx"
    env = {k: v for k, v in uv_env(tmp_path).items() if not k.startswith("UV_")} | {
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "pipx-bin"),
        "PIPX_MAN_DIR": str(tmp_path / "pipx-man"),
        "OPENHANDS_URL": "http://127.0.0.1:9",
    }
    run = [str(pipx), "run", "--spec", str(sdist), "oh-mcp"]
    shown = subprocess.run([*run, "--version"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=200)
    assert shown.returncode == 0 and shown.stdout.strip() == f"oh-mcp {oh_mcp.__version__}", shown.stderr[-2000:]
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    answers = exchange(run, [*INITIALIZE, tools_list], env)
    assert len(answers[2]["result"]["tools"]) == ALL_TOOLS
