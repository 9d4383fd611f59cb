"""No password reaches a log at any level: imapclient's protocol trace never carries message contents,
in-process (root logger at DEBUG) and from `mailbot -v poll`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bot import Bot, submit
from tests.support.mails import admin_reply

MAILBOT = Path(sys.executable).parent / "mailbot"
TYPED = "Ketik9Sandi2026q"
SERVERS = {"mail", "aiosmtpd", "pymap", "proxy_protocol"}  # loggers of the in-process test servers


def _proposed(review_text: str) -> str:
    line = next(line for line in review_text.splitlines() if "yang diusulkan:" in line)
    return line.split(":", 1)[1].strip()


def test_debug_poll_logs_no_password(any_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """Scenario: root logger at DEBUG; a review_request goes out with its proposal, the admin replies
    SETUJU with a typed Password: line; neither password is in any log record."""
    caplog.set_level(logging.DEBUG)
    review = submit(any_bot)
    proposed = _proposed(review.message.get_body(("plain",)).get_content())
    any_bot.append(admin_reply(review, f"SETUJU\nPassword: {TYPED}\n\n> Password sementara yang diusulkan: "
                                       f"{proposed}\n"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert TYPED in creds.message.get_body(("plain",)).get_content()
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG records were captured
    for record in caplog.records:
        if record.name.split(".")[0] in SERVERS:
            continue  # the test's own IMAP and SMTP servers, not the bot
        text = record.getMessage()
        assert TYPED not in text and proposed not in text, record.name


def test_verbose_poll_subprocess_logs_no_password(any_bot: Bot) -> None:
    """Scenario: `mailbot -v poll` fetches the admin's SETUJU with a typed Password: line; stderr and
    stdout hold no password."""
    review = submit(any_bot)
    any_bot.append(admin_reply(review, f"SETUJU\nPassword: {TYPED}\n"))
    p = subprocess.run([str(MAILBOT), "-v", "--config", str(any_bot.workdir / "mailbot.toml"), "poll"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert p.returncode == 0, p.stderr[-2000:]
    assert TYPED not in p.stderr and TYPED not in p.stdout
    [creds] = any_bot.sent("credentials")
    assert TYPED in creds.message.get_body(("plain",)).get_content()
