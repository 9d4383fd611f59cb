"""A command costs what it does: each `mailbot` command, in a fresh process, imports only the heavy
libraries its work needs (bench/startup.py measures the seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "alembic", "mako", "jinja2", "holidays", "pypdf", "mailparser", "apscheduler", "imapclient",
         "aiosmtpd", "pymap")
CONFIG = """
[office]
name = "LPSE Uji"
case_prefix = "LPSE-UJI"

[imap]
host = "127.0.0.1"
port = 1
security = "none"
username = "lpse"
password_env = "MAILBOT_IMAP_PASSWORD"

[smtp]
host = "127.0.0.1"
port = 2
security = "none"
from_address = "lpse@uji.go.id"

[storage]
data_dir = "data"

[admins]
emails = ["admin@uji.go.id"]
"""


def loaded_after(tmp_path: Path, *argv: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, the heavy top-level packages in sys.modules) of one `mailbot` command run
    in a fresh interpreter, the way the console script runs it."""
    code = ("import io, json, sys, contextlib\nfrom mailbot.cli import main\nbuf = io.StringIO()\n"
            f"with contextlib.redirect_stdout(buf):\n    rc = main({list(argv)!r})\n"
            f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
            "print(json.dumps([rc, buf.getvalue(), heavy]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env |= {"MAILBOT_IMAP_PASSWORD": "x", "MAILBOT_SECRET": "y" * 32}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    rc, out, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    return rc, out, heavy


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailbot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_version_loads_no_library(tmp_path: Path) -> None:
    """Scenario: `mailbot --version` prints the version and imports nothing heavy, not even SQLAlchemy."""
    rc, out, heavy = loaded_after(tmp_path, "--version")
    assert rc == 0 and out.startswith("mailbot ") and out.split()[1][0].isdigit()
    assert heavy == []


def test_cases_on_a_fresh_database_says_migrate_then_loads_only_sqlalchemy(tmp_path: Path, config: Path) -> None:
    """Scenario: `mailbot cases` before any `mailbot migrate` refuses with one line (exit 2) and never
    loads Alembic; after `mailbot migrate` it finds the schema at head and loads SQLAlchemy only."""
    (tmp_path / "data").mkdir()
    rc, out, heavy = loaded_after(tmp_path, "--config", str(config), "cases")
    assert rc == 2 and out == ""
    assert "alembic" not in heavy
    rc, out, heavy = loaded_after(tmp_path, "--config", str(config), "migrate")
    assert rc == 0 and "alembic" in heavy
    rc, out, heavy = loaded_after(tmp_path, "--config", str(config), "cases", "--json")
    assert rc == 0 and json.loads(out) == []
    assert heavy == ["sqlalchemy"]


@pytest.mark.parametrize("argv", [("registry", "list"), ("quarantine", "list"), ("case", "show", "LPSE-UJI-2026-00001")])
def test_listing_commands_load_only_sqlalchemy(tmp_path: Path, config: Path, argv: tuple[str, ...]) -> None:
    """Scenario: the register's other read-only commands on a migrated database: SQLAlchemy only."""
    loaded_after(tmp_path, "--config", str(config), "migrate")  # creates the schema
    _rc, _out, heavy = loaded_after(tmp_path, "--config", str(config), *argv)
    assert heavy == ["sqlalchemy"]


def test_report_loads_jinja_but_not_the_mail_libraries(tmp_path: Path, config: Path) -> None:
    """Scenario: `mailbot report` renders a page (Jinja2) and reads the database; no IMAP, PDF or Alembic."""
    loaded_after(tmp_path, "--config", str(config), "migrate")
    rc, out, heavy = loaded_after(tmp_path, "--config", str(config), "report", "--month", "2026-03",
                                  "--out", str(tmp_path / "out"))
    assert rc == 0 and (tmp_path / "out" / "laporan-2026-03.html").is_file()
    assert heavy == ["jinja2", "sqlalchemy"]


def test_python_dash_m_mailbot_is_the_cli(tmp_path: Path) -> None:
    """Scenario: `python -m mailbot --version` works like the console script."""
    proc = subprocess.run([sys.executable, "-m", "mailbot", "--version"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("mailbot ")
