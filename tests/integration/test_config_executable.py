"""Configuration errors as the installed `mailbot` executable reports them (exit 2, one stderr line, no
traceback); the same rules in-process: unit/test_config.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.config import write_config

MAILBOT = Path(sys.executable).parent / "mailbot"
SECRET = "S3cr3t-Pa55!word"


def base_config(tmp_path: Path) -> str:
    """A valid config text (servers on closed loopback ports: nothing here connects)."""
    return write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2).read_text(encoding="utf-8")


def _proc_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    return env | extra


def test_executable_config_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    """Scenario: the installed `mailbot` with a bad key → exit 2, exactly one stderr line, no traceback."""
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text(base_config(tmp_path).replace('security = "none"', 'security = "tls"', 1))
    p = subprocess.run([str(MAILBOT), "--config", str(cfg), "poll"], capture_output=True, text=True, timeout=60,
                       env=_proc_env(MAILBOT_IMAP_PASSWORD=SECRET, MAILBOT_SECRET=SECRET))
    assert p.returncode == 2
    assert p.stderr.splitlines() == [
        "mailbot: config error: imap.security: unknown security mode 'tls'; use one of ssl, starttls, none"]
    assert p.stdout == ""


def test_executable_unset_password_env(tmp_path: Path) -> None:
    """Scenario: `mailbot poll` from a shell without the password variable → exit 2, one line naming it."""
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text(base_config(tmp_path))
    p = subprocess.run([str(MAILBOT), "--config", str(cfg), "poll"], capture_output=True, text=True, timeout=60,
                       env=_proc_env(MAILBOT_SECRET=SECRET))
    assert p.returncode == 2
    [line] = p.stderr.splitlines()
    assert "imap.password_env" in line and "MAILBOT_IMAP_PASSWORD" in line


def test_executable_usage_error_exits_2(tmp_path: Path) -> None:
    """Scenario: an unknown subcommand → argparse usage on stderr, exit 2."""
    p = subprocess.run([str(MAILBOT), "frobnicate"], capture_output=True, text=True, timeout=60, env=_proc_env())
    assert p.returncode == 2 and "invalid choice" in p.stderr
