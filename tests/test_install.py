"""Installing as a user does: build the wheel, install it into a fresh virtual environment, and use
the installed `alpaca-focuser` from an empty folder: --version, init into a new home, serve.

The new environment gets the dependencies from the test environment (a path line to its
site-packages) and the wheel with --no-deps, so the test needs no download beyond the build's own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_support import run_command, serving, user_env

from alpaca_focuser import __version__

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "alpaca_focuser"


@dataclass
class Installed:
    wheel: Path
    venv: Path

    @property
    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "alpaca-focuser")]


def _source_copy(folder: Path) -> Path:
    """The files a release is built from, copied so the build leaves nothing in the checkout."""
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "config.toml"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(PACKAGE, source / "alpaca_focuser", symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return source


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    folder = tmp_path_factory.mktemp("install")
    source = _source_copy(folder)
    dist = folder / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, f"the wheel did not build:\n{build.stderr}"
    wheel = next(dist.glob("alpaca_focuser-*.whl"))
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, f"the wheel did not install:\n{install.stderr}"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    yield Installed(wheel, venv)


def test_the_wheel_ships_the_template_the_control_page_and_the_command(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        assert wheel.read("alpaca_focuser/config_template.toml") == (REPO / "config.toml").read_bytes(), "the shipped template differs from config.toml"
        entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        assert "alpaca-focuser = alpaca_focuser.cli:main" in wheel.read(entry_points).decode()
        metadata = wheel.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    web_files = [path.relative_to(REPO).as_posix() for path in (PACKAGE / "web").rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    missing = [name for name in web_files if name not in names]
    assert not missing, f"control page files missing from the wheel: {missing}"
    assert "License-Expression: MIT" in metadata, "the licence is declared by its SPDX expression (no deprecation warning at install)"
    for dependency in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        assert f"Requires-Dist: {dependency}" in metadata


def test_the_installed_command_starts_from_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    env = {key: value for key, value in user_env(home).items() if key != "PYTHONPATH"}

    version = run_command("--version", env=env, cwd=workdir, command=installed.command)
    assert version.returncode == 0 and version.stdout.strip() == f"alpaca-focuser {__version__}"
    where = run_command("-c", "import alpaca_focuser; print(alpaca_focuser.__file__)", env=env, cwd=workdir, command=[str(installed.venv / "bin" / "python")])
    assert where.stdout.startswith(str(installed.venv)), f"the test ran another copy: {where.stdout}"

    init = run_command("init", env=env, cwd=workdir, command=installed.command)
    config = home / ".config" / "alpaca-focuser" / "config.toml"
    assert init.returncode == 0, init.stderr
    assert str(config) in init.stdout
    assert config.read_bytes() == (REPO / "config.toml").read_bytes()

    with serving("--port", "sim://installed?time_scale=50", env=env, cwd=workdir, command=installed.command) as served:
        assert f"Configuration from {config} (found by your configuration folder)" in served.lines[0]
        reply = served.action("SetBacklash", '{"steps": 40, "direction": "out"}')
        assert reply["ErrorNumber"] == 0, reply
        assert json.loads(served.action("GetBacklash")["Value"]) == {"steps": 40, "direction": "out"}
        assert served.stop() == 0
    saved = tomllib.loads(config.read_text())["focuser"][0]
    assert (saved["backlash_steps"], saved["backlash_direction"]) == (40, "out")
    assert saved["unique_id"]
