"""A non-editable install works on its own: a fresh venv, `pip install .` from a copy of the repository,
then `mailbot init` and `mailbot demo` in an empty folder, with nothing of the source tree in reach.

To stay fast and offline, the new venv borrows the dependencies (and pip and setuptools) that this
test run's environment already has, through one .pth line to a view of its site-packages without
mailbot; pip then finds every requirement satisfied and builds only mailbot's wheel (no index
contacted with --no-index). Only where that environment's setuptools is too old to build a wheel by
itself (< 70.1 without the `wheel` package) does pip build in its usual isolated environment, which
downloads setuptools from the configured index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What the package needs at run time besides its code: a wheel without them cannot send mail or `init`.
PACKAGE_DATA = ("templates/ack.txt", "templates/ack.html", "templates/ack.subject.txt", "templates/_base.html",
                "templates/report/report.html.j2", "mailbot.example.toml", "store/migrations/env.py",
                "store/migrations/script.py.mako", "store/migrations/versions/0001_initial_schema.py")


def _setuptools_builds_wheels() -> bool:
    """True when the installed setuptools can build a wheel without build isolation."""
    try:
        major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    if (major, minor) >= (70, 1):
        return True
    try:
        return int(version("wheel").split(".")[0]) == 0 and int(version("wheel").split(".")[1]) < 46
    except (PackageNotFoundError, ValueError, IndexError):
        return False


def _copy_source(dest: Path) -> Path:
    """What `pip install .` needs from the repository: the project file, the README (the long
    description) and the package, without caches."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "mailbot", dest / "mailbot",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return dest


def _dependency_view(dest: Path) -> Path:
    """This environment's site-packages as symlinks, minus every trace of mailbot (the editable
    install's finder, .pth and dist-info), so only the freshly installed mailbot can be imported."""
    dest.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        lowered = entry.name.lower()
        if lowered.startswith(("mailbot", "__editable__")) or lowered.endswith(".pth"):
            continue
        (dest / entry.name).symlink_to(entry)
    return dest


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_pip_install_dot_then_init_and_demo(tmp_path: Path) -> None:
    """Scenario: an office installs with `pip install .` (no -e), runs `mailbot init` and `mailbot demo`
    in an empty folder: both succeed, from the installed package alone."""
    started = time.monotonic()
    source = _copy_source(tmp_path / "src")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, dict(os.environ), 120)
    python = venv / "bin" / "python"
    fresh_site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           tmp_path, dict(os.environ), 60).stdout.strip())
    (fresh_site / "_borrowed_dependencies.pth").write_text(f"{_dependency_view(tmp_path / 'deps')}\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAILBOT_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    pip = [str(python), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-q"]
    if _setuptools_builds_wheels():
        pip += ["--no-build-isolation", "--no-index"]
    _run([*pip, str(source)], tmp_path, env, 600)
    shutil.rmtree(source)  # nothing of the source tree is left to import from

    installed = Path(_run([str(python), "-c", "import mailbot; print(mailbot.__file__)"], tmp_path, env,
                          60).stdout.strip()).parent
    assert installed == fresh_site / "mailbot", installed
    assert not (installed.parent / "__editable__.mailbot-0.1.0.pth").exists()
    for rel in PACKAGE_DATA:
        assert (installed / rel).is_file(), f"{rel} is not in the wheel (pyproject.toml package-data)"

    office = tmp_path / "office"
    office.mkdir()
    mailbot = str(venv / "bin" / "mailbot")
    out = _run([mailbot, "--version"], office, env, 60).stdout
    assert out.strip() == f"mailbot {version('mailbot')}"
    assert _run([str(python), "-m", "mailbot", "--version"], office, env, 60).stdout == out

    out = _run([mailbot, "init"], office, env, 120).stdout
    assert "wrote config/mailbot.toml" in out and "database ready" in out
    assert (office / "config" / "mailbot.toml").read_text(encoding="utf-8") == \
        (installed / "mailbot.example.toml").read_text(encoding="utf-8")
    assert (office / "data" / "mailbot.db").is_file()

    demo = _run([mailbot, "demo"], office, env, 180)
    assert "6. A second poll finds nothing new" in demo.stdout
    assert "LPSE-DEMO-2026-00001   COMPLETED" in demo.stdout and "LPSE-DEMO-2026-00002   REJECTED" in demo.stdout
    assert "Demo finished" in demo.stdout
    print(f"install test: {time.monotonic() - started:.1f} s "
          f"({'borrowed setuptools' if '--no-index' in pip else 'isolated build'})")
