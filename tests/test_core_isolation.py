"""The core and the headless commands never import Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import natsops
from natsops.harness import Deployment

ROOT = Path(natsops.__file__).resolve().parent.parent


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(natsops.__path__, "natsops."):
        if info.name == "natsops.ui" or info.name.startswith("natsops.ui."):
            continue
        names.append(info.name)
    return names


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_core_modules_do_not_import_textual() -> None:
    modules = _core_modules()
    assert "natsops.fanout" in modules and "natsops.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or "
        "m.startswith('textual.'))\n"
        "print(len(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stdout + done.stderr


def test_headless_command_does_not_import_textual(cluster: Deployment) -> None:
    code = (
        "import sys\n"
        "from natsops.cli import main\n"
        f"rc = main(['whoami', '--server', {cluster.url!r}, "
        f"'--creds', {cluster.sys_user.creds!r}])\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'textual']\n"
        "print('TEXTUAL' if loaded else 'CLEAN', rc)\n"
    )
    done = _run(code)
    assert "CLEAN 0" in done.stdout, done.stdout + done.stderr


def test_wheel_ships_the_themes(tmp_path: Path) -> None:
    if not (ROOT / "pyproject.toml").exists():
        return  # installed from a wheel already: nothing to build
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("natsops-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    themes = sorted(n for n in names if n.startswith("natsops/_themes/"))
    repo_themes = sorted(p.name for p in (ROOT / "themes").glob("*.toml"))
    assert repo_themes, "the repository has no theme files"
    assert [Path(n).name for n in themes if n.endswith(".toml")] == repo_themes
