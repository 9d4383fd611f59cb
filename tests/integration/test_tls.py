"""IMAP and SMTP over implicit TLS and STARTTLS with the office's own CA (`ca_file`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailbot.app import build_app
from mailbot.cli import main
from mailbot.config import load_settings
from mailbot.store.models import Case, Outbox
from tests.support.bot import Bot, make_bot
from tests.support.config import write_config
from tests.support.mails import PPK_A, complete_request
from tests.support.servers import ImapServerHandle, LoopbackCerts, TlsSmtp, imap_uids

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]

pytestmark = pytest.mark.dovecot


@pytest.fixture(params=["ssl", "starttls"])
def mode(request: pytest.FixtureRequest) -> str:
    """The security mode of both IMAP and SMTP in a test."""
    return str(request.param)


@pytest.fixture
def tls_smtp(mode: str, request: pytest.FixtureRequest) -> TlsSmtp:
    server: TlsSmtp = request.getfixturevalue(f"smtp_{mode}_server")
    return server


@pytest.fixture
def base_bot(tmp_path: Path, get_dovecot: Callable[..., ImapServerHandle], tls_smtp: TlsSmtp, sqlite_url: str,
             monkeypatch: pytest.MonkeyPatch) -> Bot:
    """A bot (database and registry ready) on Dovecot with TLS, whose config `configure` then rewrites for TLS."""
    return make_bot(tmp_path, get_dovecot(tls=True), tls_smtp, sqlite_url, monkeypatch)


def _section(text: str, port: int, security: str, ca_file: Path | None) -> str:
    text = re.sub(r"^port = \d+$", f"port = {port}", text, count=1, flags=re.M)
    line = f'security = "{security}"' + (f'\nca_file = "{ca_file}"' if ca_file else "")
    return re.sub(r'^security = "none"$', line, text, count=1, flags=re.M)


def configure(bot: Bot, mode: str, *, imap_ca: bool = True, smtp_ca: bool = True) -> tuple[Bot, Path]:
    """Rewrite the bot's TOML for `mode` on IMAP and SMTP (with or without ca_file) and rebuild the app."""
    handle = bot.imap
    assert isinstance(handle, ImapServerHandle)
    certs: LoopbackCerts = handle.server.certs
    imap_port = handle.server.ssl_port if mode == "ssl" else handle.port
    path = write_config(bot.workdir, handle.host, handle.port, handle.username, bot.smtp.host, bot.smtp.port,
                        bot.app.settings.database_url)
    head, rest = path.read_text().split("[smtp]", 1)
    smtp, tail = rest.split("[database]", 1)
    path.write_text(_section(head, imap_port, mode, certs.ca_file if imap_ca else None) + "[smtp]"
                    + _section(smtp, bot.smtp.port, mode, certs.ca_file if smtp_ca else None)
                    + "[database]" + tail)
    settings = load_settings(path)
    assert (settings.imap.security, settings.imap.port, settings.smtp.security) == (mode, imap_port, mode)
    bot.app.engine.dispose()
    return Bot(build_app(settings), bot.imap, bot.smtp, bot.workdir), path


def cases(bot: Bot) -> int:
    with bot.app.factory() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def test_request_is_acknowledged_over_tls(base_bot: Bot, mode: str) -> None:
    """Scenario: IMAP and SMTP both use TLS (ssl, then starttls) with ca_file = the office CA: request → ack."""
    bot, _ = configure(base_bot, mode)
    bot.append(complete_request())
    result = bot.poll()
    # Dovecot logs the poll's login as made over TLS (the test's own plaintext logins say "secured").
    assert bot.imap.server.tls_logins(bot.imap.username)
    assert result.errors == []
    assert (result.fetched, result.processed, result.moved, result.retried, result.failed) == (1, 1, 1, 0, 0)
    assert cases(bot) == 1
    assert [m.rcpt_tos for m in bot.sent("ack")] == [[EMAIL]]
    assert bot.uids("INBOX") == []
    assert len(bot.uids(bot.app.settings.imap.processed_folder)) == 1


def test_imap_certificate_failure_is_reported_and_nothing_is_lost(base_bot: Bot, mode: str) -> None:
    """Scenario: IMAP TLS without ca_file (system CAs only) fails with a certificate error; once ca_file is
    configured the next poll processes the waiting request."""
    bot, _ = configure(base_bot, mode, imap_ca=False)
    bot.append(complete_request())
    result = bot.poll()
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.startswith(f"IMAP 127.0.0.1:{bot.app.settings.imap.port}:")
    assert "certificate verify failed" in error
    assert (result.fetched, result.processed, result.moved, result.sent) == (0, 0, 0, 0)
    assert cases(bot) == 0 and bot.smtp.messages == []
    assert len(imap_uids(bot.imap, "INBOX")) == 1  # still waiting on the server

    fixed, _ = configure(bot, mode)
    result = fixed.poll()
    assert result.errors == []
    assert (result.fetched, result.processed, result.moved, result.failed) == (1, 1, 1, 0)
    assert cases(fixed) == 1
    assert [m.rcpt_tos for m in fixed.sent("ack")] == [[EMAIL]]
    assert imap_uids(fixed.imap, "INBOX") == []


def test_smtp_certificate_failure_keeps_the_ack_for_a_retry(base_bot: Bot, mode: str) -> None:
    """Scenario: SMTP TLS without ca_file: the case is made but the ack waits in the outbox with the
    certificate error; with ca_file configured the retry delivers it once."""
    t0 = datetime.now(timezone.utc)
    bot, _ = configure(base_bot, mode, smtp_ca=False)
    bot.append(complete_request())
    result = bot.poll(t0)
    assert result.errors == []
    assert (result.processed, result.moved, result.sent, result.retried, result.failed) == (1, 1, 0, 1, 0)
    assert cases(bot) == 1 and bot.smtp.messages == []
    with bot.app.factory() as s:
        rows = s.scalars(select(Outbox).order_by(Outbox.id)).all()
        waiting = {r.template for r in rows}
        assert "ack" in waiting and all(r.status == "pending" for r in rows)
        ack = next(r for r in rows if r.template == "ack")
        assert ack.attempts == 1 and "certificate verify failed" in ack.last_error

    fixed, _ = configure(bot, mode)
    result = fixed.poll(t0 + timedelta(minutes=2))
    assert (result.sent, result.retried, result.failed) == (len(waiting), 0, 0)
    assert [m.rcpt_tos for m in fixed.sent("ack")] == [[EMAIL]]
    # Everything that waited went out exactly once.
    assert sorted(m.header("X-Mailbot-Template") for m in fixed.smtp.messages) == sorted(r.template for r in rows)


def test_check_reports_tls_failures(base_bot: Bot, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot check` without ca_file names the certificate failure of IMAP and of SMTP (exit 1);
    with ca_file both are ok (exit 0)."""
    bot, path = configure(base_bot, mode, imap_ca=False, smtp_ca=False)
    imap_port, smtp_port = bot.app.settings.imap.port, bot.app.settings.smtp.port
    assert main(["--config", str(path), "check"]) == 1
    out = capsys.readouterr().out
    imap_line = next(line for line in out.splitlines() if line.startswith(f"IMAP 127.0.0.1:{imap_port}:"))
    smtp_line = next(line for line in out.splitlines() if line.startswith(f"SMTP 127.0.0.1:{smtp_port}:"))
    assert "FAILED" in imap_line and "certificate verify failed" in imap_line
    assert "FAILED" in smtp_line and "certificate verify failed" in smtp_line

    bot, path = configure(bot, mode)
    assert main(["--config", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^IMAP 127\.0\.0\.1:{imap_port}: ok ", out, re.M), out
    assert re.search(rf"^SMTP 127\.0\.0\.1:{smtp_port}: ok$", out, re.M), out
    bot.app.engine.dispose()
