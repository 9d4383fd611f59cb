"""deploy/: the systemd unit has the hardening and the no-restart-on-exit-2 rule the README promises, and
systemd itself accepts it; the CLI wrapper is valid sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "mailbot.service"


def directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_unit_is_hardened_and_does_not_restart_on_a_config_error() -> None:
    d = directives()
    expected = {"User": "mailbot", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                "RestartPreventExitStatus": "2", "ReadWritePaths": "/opt/mailbot/data", "UMask": "0077",
                "EnvironmentFile": "/opt/mailbot/config/mailbot.env", "Restart": "on-failure",
                "ExecStart": "/opt/mailbot/.venv/bin/mailbot run"}
    assert {k: d.get(k, [None])[-1] for k in expected} == expected


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit with its paths moved to a temporary /opt/mailbot."""
    home = tmp_path / "opt-mailbot"
    (home / ".venv" / "bin").mkdir(parents=True)
    exe = home / ".venv" / "bin" / "mailbot"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    unit = tmp_path / "mailbot.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/mailbot", str(home)), encoding="utf-8")
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if "mailbot.service" in line]
    assert problems == [] and proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_wrapper_is_valid_sh_and_executable() -> None:
    wrapper = DEPLOY / "mailbot-cli"
    assert wrapper.stat().st_mode & 0o111
    assert subprocess.run(["sh", "-n", str(wrapper)], capture_output=True, timeout=30).returncode == 0
