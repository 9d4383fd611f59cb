"""The daemon waits in IMAP IDLE and answers new mail without waiting for the poll interval."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from mailbot.scheduler import Daemon
from tests.support.bot import Bot, make_bot
from tests.support.mails import complete_request


@pytest.fixture
def slow_interval_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch):  # type: ignore[no-untyped-def]
    bot = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    # A 10-minute interval: only IDLE can explain an answer within the 30 s we wait (generous for a
    # loaded CI machine; the latency itself is measured by bench/latency, not here).
    bot.app.settings = replace(bot.app.settings, imap=replace(bot.app.settings.imap, poll_interval_seconds=600))
    yield bot
    bot.app.engine.dispose()


def test_idle_push_answers_without_waiting_for_the_interval(slow_interval_bot: Bot) -> None:
    """Scenario: the daemon is idle; a request arrives; the ack is sent long before the next scheduled poll."""
    bot = slow_interval_bot
    daemon = Daemon(bot.app)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        bot.append(complete_request())
        acks = [m for m in bot.smtp.wait_for(2, timeout=30) if m.header("X-Mailbot-Template") == "ack"]
        assert len(acks) == 1
        # A second request while the daemon keeps running is answered too.
        bot.append(complete_request("Permohonan reset password (ulang)"))
        bot.smtp.wait_for(4, timeout=30)
        assert len(bot.sent("ack")) == 2
    finally:
        daemon.stop_event.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert daemon.polls >= 2
