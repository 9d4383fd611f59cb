"""The daemon runs each of its jobs, writes its heartbeat, and serves Prometheus metrics over loopback."""

from __future__ import annotations

import threading
import urllib.request
from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families

from mailbot import metrics
from mailbot.demo.servers import free_port
from mailbot.scheduler import Daemon
from mailbot.store.models import Health
from tests.support.bot import Bot, make_bot
from tests.support.mails import ADMIN, complete_request
from tests.support.servers import DovecotServer

JOBS = {"poll", "outbox", "timers", "digest", "retention", "heartbeat"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        return samples(response.read().decode())


def test_the_daemon_runs_every_job_and_serves_metrics(any_bot: Bot) -> None:
    """Scenario: the daemon starts with `[metrics] listen` set; every job runs once at start; a request
    arrives and is answered; a scrape over loopback shows the message, the mails, the case by state and
    the poll duration; the OCR histogram counts what the OCR pass observes."""
    bot = any_bot
    port = free_port()
    bot.app.settings = replace(bot.app.settings, metrics=replace(bot.app.settings.metrics,
                                                                 listen=f"127.0.0.1:{port}"))
    from prometheus_client import generate_latest

    before = samples(generate_latest(metrics.enable()["registry"]).decode())
    daemon = Daemon(bot.app)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        with daemon.ran:
            assert daemon.ran.wait_for(lambda: JOBS <= set(daemon.runs), timeout=60), daemon.runs
        heartbeats = daemon.runs["heartbeat"]
        bot.append(complete_request())
        bot.smtp.wait_for(2, timeout=30)
        with daemon.ran:  # the poll that processed the request wakes the heartbeat (cases by state)
            assert daemon.ran.wait_for(lambda: daemon.runs["heartbeat"] > heartbeats, timeout=30)
        metrics.observe_ocr_seconds(1.5)
        after = scrape(port)
    finally:
        daemon.stop_event.set()
        thread.join(timeout=15)
    assert not thread.is_alive()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("mailbot_messages_total", outcome="processed") == 1
    assert delta("mailbot_mails_total", result="sent") == 2  # the ack and the review request
    assert after[("mailbot_cases", (("state", "AWAITING_REVIEW"),))] == 1
    assert delta("mailbot_poll_duration_seconds_count") >= 2
    assert delta("mailbot_ocr_seconds_count") == 1 and delta("mailbot_ocr_seconds_sum") == 1.5
    with bot.app.factory() as s:
        for component in ("daemon", "poll", "imap", "smtp"):
            row = s.get(Health, component)
            assert row is not None and row.ok and row.last_ok_at is not None, component


def test_the_daemon_with_a_rejected_password_logs_in_once_per_backoff_step(
        tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Scenario: `mailbot run` with a wrong IMAP password, polling every 5 s: the first poll's login is
    rejected; the next polls (within the 1-minute backoff) and IDLE do not try again, so the server
    sees one failed login; the admins get one ops_alert at once."""
    bot = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    bot.app = replace(bot.app, secrets=replace(bot.app.secrets, imap_password="not-the-password"))
    daemon = Daemon(bot.app)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        alerts = [m for m in bot.smtp.wait_for(1, timeout=30) if m.header("X-Mailbot-Template") == "ops_alert"]
        with daemon.ran:
            assert daemon.ran.wait_for(lambda: daemon.runs["poll"] >= 3, timeout=60), daemon.runs
    finally:
        daemon.stop_event.set()
        thread.join(timeout=15)
        bot.app.engine.dispose()
    assert not thread.is_alive()
    assert len(alerts) == 1 and alerts[0].rcpt_tos == [ADMIN]
    with bot.app.factory() as s:
        row = s.get(Health, "imap")
        assert row is not None and not row.ok and row.failures == 1
    if isinstance(imap_server.server, DovecotServer):
        lines = imap_server.server.wait_for_log(rf"auth failed.*user=<{imap_server.username}>", timeout=5.0)
        assert len(lines) == 1 and "1 attempts" in lines[0]
