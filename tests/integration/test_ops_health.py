"""Operating mailbot unattended: `mailbot status`, ops_alert mails, the IMAP login backoff (issue 13)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from mailbot.cli import main
from mailbot.demo.servers import ReceivedMail
from mailbot.store.models import Health
from tests.support.bot import Bot, make_bot
from tests.support.mails import ADMIN, PPK_A, complete_request
from tests.support.servers import DovecotServer, ImapServerHandle

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)  # Tuesday 10:00 WIB, a working day


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


class Cli:
    """`mailbot --config <the bot's config> …` in-process: (exit code, stdout)."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config, self.capsys = config, capsys

    def __call__(self, *argv: str) -> tuple[int, str]:
        self.capsys.readouterr()
        rc = main(["--config", str(self.config), *argv])
        return rc, self.capsys.readouterr().out


def body(mail: ReceivedMail) -> str:
    msg: Message = message_from_bytes(mail.data)
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


def failed_logins(dovecot: DovecotServer, user: str) -> int:
    """Dovecot's own count of the rejected logins of `user` (from its log)."""
    total = 0
    for line in dovecot.wait_for_log(rf"auth failed.*user=<{re.escape(user)}>", timeout=0.0):
        m = re.search(r"auth failed, (\d+) attempts", line)
        total += int(m.group(1)) if m else 1
    return total


@pytest.fixture
def ops_bot(tmp_path: Path, imap_server: ImapServerHandle, smtp_server, sqlite_url: str,  # type: ignore[no-untyped-def]
            monkeypatch: pytest.MonkeyPatch):
    bot = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    yield bot
    bot.app.engine.dispose()


def test_a_wrong_imap_password_backs_off_alerts_once_and_recovers(
        ops_bot: Bot, imap_server: ImapServerHandle, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: the mailbox password is changed on the server but not in mailbot. Each `mailbot poll`
    (a fresh process each time, as from cron) tries to log in once at most, and only when the backoff
    (1, 2, 5 … minutes) has run out; the admins get one ops_alert; `status` exits 2 saying why. The
    password is fixed: the next due poll logs in, the waiting request is answered, the admins get the
    recovery mail and `status` exits 0."""
    bot, cli = ops_bot, Cli(ops_bot.workdir / "mailbot.toml", capsys)
    bot.append(complete_request())
    user = imap_server.username
    dovecot = getattr(imap_server, "server", None)
    on_dovecot = isinstance(dovecot, DovecotServer)
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "not-the-password")

    def attempts() -> int:
        with bot.app.factory() as s:
            row = s.get(Health, "imap")
            return row.failures if row is not None and not row.ok else 0

    tried_at = []
    for minute in (0, 0.5, 1, 2, 2.9, 3, 5, 7.9):
        before = attempts()
        rc, _ = cli("poll", "--now", at(minute))
        assert rc == 1
        if attempts() > before:
            tried_at.append(minute)
    # One login per backoff step: at 0, then 1 min later, then 2 min after that (next: 5 min later).
    assert tried_at == [0, 1, 3]
    alerts = bot.sent("ops_alert")
    assert [m.rcpt_tos for m in alerts] == [[ADMIN]]
    assert "Peringatan operasional" in alerts[0].header("Subject") and "IMAP" in alerts[0].header("Subject")
    assert "Yth." in body(alerts[0]) and "not-the-password" not in body(alerts[0])
    assert bot.sent("ack") == []

    rc, out = cli("status", "--now", at(7.9))
    assert rc == 2
    first, reasons = out.splitlines()[0], out.splitlines()[1:]
    assert first == "mailbot CRITICAL"
    assert any(r.startswith("CRITICAL: IMAP login rejected since") and "3 attempt(s)" in r for r in reasons)
    status = json.loads(cli("status", "--json", "--now", at(7.9))[1])
    assert status["imap"]["auth_failed"] is True and status["imap"]["next_attempt_at"] == at(8)

    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", imap_server.password)  # the operator fixes it
    rc, out = cli("poll", "--now", at(8))
    assert rc == 0, out
    assert len(bot.sent("ack")) == 1 and bot.sent("ack")[0].rcpt_tos == [PPK_A[2]]
    alerts = bot.sent("ops_alert")
    assert len(alerts) == 2 and alerts[1].rcpt_tos == [ADMIN]
    assert alerts[1].header("Subject").startswith("Pulih") and "teratasi" in body(alerts[1])
    if on_dovecot:
        assert dovecot is not None
        dovecot.wait_for_log(rf"Login: user=<{re.escape(user)}>", timeout=5.0)  # logged after the failures
        assert failed_logins(dovecot, user) == 3

    rc, out = cli("status", "--now", at(8.5))
    assert rc == 0, out
    assert out.splitlines()[0] == "mailbot OK: all checks passed"
    rc, _ = cli("poll", "--now", at(9))
    assert rc == 0 and len(bot.sent("ops_alert")) == 2  # no more alerts while all is well


def test_smtp_down_alerts_once_queued_and_recovers(any_bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: the SMTP server is down while a request is answered: `status` warns at once and exits 2
    naming SMTP once it has failed for smtp_failing_minutes; the ops_alert waits in the outbox with the
    ack and goes out with the recovery mail once SMTP is back."""
    bot, cli = any_bot, Cli(any_bot.workdir / "mailbot.toml", capsys)
    bot.append(complete_request())
    bot.smtp.set_down(True)
    assert cli("poll", "--now", at(0))[0] == 0
    rc, out = cli("status", "--now", at(0))
    assert rc == 1 and any(line.startswith("WARNING: SMTP failing since") for line in out.splitlines())
    assert cli("poll", "--now", at(1))[0] == 0
    assert cli("poll", "--now", at(6))[0] == 0
    rc, out = cli("status", "--now", at(6))
    assert rc == 2 and any(line.startswith("CRITICAL: SMTP failing since") for line in out.splitlines())
    bot.smtp.set_down(False)
    assert cli("poll", "--now", at(10))[0] == 0  # the outbox retries after its own backoff
    alerts = bot.sent("ops_alert")
    subjects = sorted(m.header("Subject").split(":")[0] for m in alerts)
    assert subjects == ["Peringatan operasional", "Pulih"]
    assert len(bot.sent("ack")) == 1
    rc, out = cli("status", "--now", at(10))
    assert rc == 0, out


def test_status_reports_what_an_operator_asks(db_bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: after a poll that opened a case, `status --json` has the last poll and its age, IMAP and
    SMTP state, the outbox, quarantine, cases per state against the SOP time, schema version and disk
    (SQLite and PostgreSQL)."""
    bot, cli = db_bot, Cli(db_bot.workdir / "mailbot.toml", capsys)
    bot.append(complete_request())
    assert cli("poll", "--now", at(0))[0] == 0
    rc, out = cli("status", "--json", "--now", at(20))
    status = json.loads(out)
    assert rc == 1 and status["level"] == "WARNING"  # 20 minutes without a poll
    assert [r["check"] for r in status["reasons"]] == ["poll"]
    assert status["poll"]["last_ok_at"] == at(0) and status["poll"]["age_seconds"] == 20 * 60
    assert status["imap"]["ok"] is True and status["smtp"]["ok"] is True
    assert status["outbox"] == {"pending": 0, "failed": 0, "oldest_pending_at": None,
                                "oldest_pending_age_seconds": None}
    assert status["quarantine"] == 0
    review = status["cases"]["AWAITING_REVIEW"]
    assert review["count"] == 1 and review["sop_minutes"] == 15 and review["oldest_working_minutes"] == 20.0
    assert review["overdue"] is True
    assert status["oauth_token_expiry"] is None and status["ocr_backlog"] == 0
    assert status["schema"]["current"] is True and status["disk"]["free_bytes"] > 0
    rc, out = cli("status", "--now", at(75))
    assert rc == 2 and "CRITICAL: no successful poll for 75 min" in out


def test_no_successful_poll_for_an_hour_alerts_once_and_recovers(
        tmp_path: Path, imap_server: ImapServerHandle, smtp_server, sqlite_url: str,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: the IMAP server goes away (a network error, not a rejected login: retried within the
    poll, no login backoff, no imap_login alert). After poll_stale_critical_minutes without a successful
    poll the admins get one ops_alert and `status` exits 2; the server is back: the recovery mail."""
    bot = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    try:
        cfg = bot.workdir / "mailbot.toml"
        cfg.write_text(cfg.read_text().replace("poll_interval_seconds = 5", "poll_interval_seconds = 5\n"
                                               "reconnect_attempts = 2"), encoding="utf-8")
        cli = Cli(cfg, capsys)
        assert cli("poll", "--now", at(0))[0] == 0
        imap_server.stop()
        assert cli("poll", "--now", at(30))[0] == 1
        rc, out = cli("status", "--now", at(30))
        assert rc == 1 and "WARNING: IMAP failing since" in out and "WARNING: no successful poll for 30 min" in out
        assert cli("poll", "--now", at(61))[0] == 1
        assert cli("poll", "--now", at(62))[0] == 1
        alerts = bot.sent("ops_alert")
        assert len(alerts) == 1 and "tidak diperiksa" in alerts[0].header("Subject")
        rc, out = cli("status", "--now", at(62))
        assert rc == 2 and "CRITICAL: no successful poll for 62 min" in out and "login rejected" not in out
        imap_server.start()
        assert cli("poll", "--now", at(63))[0] == 0
        alerts = bot.sent("ops_alert")
        assert len(alerts) == 2 and alerts[1].header("Subject").startswith("Pulih")
        assert cli("status", "--now", at(63))[0] == 0
    finally:
        bot.app.engine.dispose()


def test_disk_nearly_full_alerts_and_recovers(any_bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: free space in data_dir below alerts.disk_critical_percent (here: set above what any
    disk has free): one ops_alert, `status` exits 2 naming data_dir; the threshold met again: recovery."""
    bot = any_bot
    cfg = bot.workdir / "mailbot.toml"
    original = cfg.read_text()
    cfg.write_text(original + "\n[alerts]\ndisk_critical_percent = 100\n", encoding="utf-8")
    cli = Cli(cfg, capsys)
    assert cli("poll", "--now", at(0))[0] == 0
    rc, out = cli("status", "--now", at(0))
    assert rc == 2 and any(line.startswith("CRITICAL: ") and "% free in" in line and str(bot.app.settings.data_dir)
                           in line for line in out.splitlines())
    assert cli("poll", "--now", at(1))[0] == 0
    assert [m.header("Subject") for m in bot.sent("ops_alert")] == [
        "Peringatan operasional: ruang disk hampir penuh"]
    cfg.write_text(original, encoding="utf-8")
    assert cli("poll", "--now", at(2))[0] == 0
    assert len(bot.sent("ops_alert")) == 2


def test_outbox_stuck_alerts_once_and_recovers(any_bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: the SMTP server is reachable but answers 451 to every mail (SMTP itself is not
    "failing"): after outbox_stuck_minutes the oldest waiting mail makes `status` warn and the admins get
    one ops_alert (queued behind the stuck mail); the server accepts mail again: everything goes out,
    the alert first, then its recovery."""
    bot, cli = any_bot, Cli(any_bot.workdir / "mailbot.toml", capsys)
    bot.append(complete_request())
    bot.smtp.fail_next(1000)
    for minute in (0, 1, 3, 7, 15, 31, 47):
        assert cli("poll", "--now", at(minute))[0] == 0
    rc, out = cli("status", "--now", at(47))
    assert rc == 1 and any(line.startswith("WARNING: ") and "waiting to go out, the oldest for 47 min" in line
                           for line in out.splitlines())
    assert "SMTP failing" not in out
    bot.smtp.clear()
    assert cli("poll", "--now", at(120))[0] == 0
    alerts = bot.sent("ops_alert")
    assert [m.header("Subject") for m in alerts] == ["Peringatan operasional: email keluar tertahan",
                                                     "Pulih: email keluar tertahan"]
    assert len(bot.sent("ack")) == 1 and len(bot.sent("review_request")) == 1
    assert cli("status", "--now", at(120))[0] == 0
    assert cli("poll", "--now", at(121))[0] == 0 and len(bot.sent("ops_alert")) == 2


def test_a_quarantined_message_warns_for_a_week(any_bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: bytes that are not an email land in quarantine: `status` exits 1 naming `quarantine
    list`; a week later the message is still counted but no longer a warning."""
    bot, cli = any_bot, Cli(any_bot.workdir / "mailbot.toml", capsys)
    bot.append(b"\x00\x01 not an email at all\r\n")
    bot.poll()
    now = datetime.now(timezone.utc)
    rc, out = cli("status", "--now", now.isoformat())
    assert rc == 1 and "WARNING: 1 message(s) quarantined in the last 7 days: `mailbot quarantine list`" in out
    assert "quarantine: 1" in out
    assert cli("poll", "--now", (now + timedelta(days=8)).isoformat())[0] == 0
    rc, out = cli("status", "--now", (now + timedelta(days=8)).isoformat())
    assert rc == 0 and "quarantine: 1" in out
