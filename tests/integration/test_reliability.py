"""Outages, quarantine, limits, loops and floods — nothing lost, nothing sent twice."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from mailbot.admin.views import quarantine_list, quarantine_requeue
from mailbot.store.models import Case, InboundMessage, Outbox
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.faults import SimulatedKill, route_killing_on, route_raising_on
from tests.support.mails import ADMIN, PPK_A, PPK_B, complete_request, request_email

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]


def rows(bot: Bot) -> list[InboundMessage]:
    return bot.all(InboundMessage)


def outbox(bot: Bot) -> list[Outbox]:
    return bot.all(Outbox)


def test_smtp_down_intake_goes_on_and_mail_is_sent_once_later(any_bot: Bot) -> None:
    """Scenario: the SMTP server is down; requests still become cases; mail goes out once when it is back."""
    any_bot.smtp.set_down(True)
    any_bot.append(complete_request())
    result = any_bot.poll()
    assert result.processed == 1 and result.sent == 0 and result.retried == 1
    assert any_bot.uids("INBOX") == []
    assert {o.status for o in outbox(any_bot)} == {"pending"}
    any_bot.smtp.set_down(False)
    # Retries wait for their backoff: a poll right away sends nothing, one after the backoff sends all.
    later = outbox(any_bot)[0].next_attempt_at
    assert any_bot.poll(later).sent == 2
    assert len(any_bot.sent("ack")) == 1 and len(any_bot.sent("review_request")) == 1
    assert any_bot.poll(later).sent == 0


def test_smtp_4xx_retried_with_backoff_then_sent(any_bot: Bot) -> None:
    """Scenario: the server answers 451 twice; the ack is retried and delivered exactly once."""
    any_bot.smtp.fail_next(2, "451 4.3.0 Try again later")
    any_bot.append(complete_request())
    any_bot.poll()
    pending = [o for o in outbox(any_bot) if o.status == "pending"]
    assert pending and all(o.last_error.startswith("451") for o in pending)
    for _ in range(4):
        due = min((o.next_attempt_at for o in outbox(any_bot) if o.status == "pending"), default=None)
        if due is None:
            break
        any_bot.poll(due)
    assert len(any_bot.sent("ack")) == 1 and len(any_bot.sent("review_request")) == 1
    assert {o.status for o in outbox(any_bot)} == {"sent"}


def test_smtp_5xx_reports_delivery_failure_to_admins(any_bot: Bot) -> None:
    """Scenario: the PPK's server refuses the ack permanently; the admins get delivery_failure."""
    any_bot.smtp.fail_next(1, "550 5.1.1 User unknown")
    any_bot.append(complete_request())
    any_bot.poll()
    failed = [o for o in outbox(any_bot) if o.status == "failed"]
    assert [o.template for o in failed] == ["ack"]
    any_bot.poll()
    reports = any_bot.sent("delivery_failure")
    assert [m.rcpt_tos for m in reports] == [[ADMIN]]
    assert "550" in reports[0].message.get_body(("plain",)).get_content()


def test_imap_restart_between_polls_loses_nothing(any_bot: Bot, request) -> None:  # type: ignore[no-untyped-def]
    """Scenario: the IMAP server goes away; the poll reports it and still flushes; after restart all is fine."""
    any_bot.append(complete_request())
    server = any_bot.imap
    server.stop()  # type: ignore[attr-defined]
    try:
        result = any_bot.poll()
        assert result.errors and "IMAP" in result.errors[0]
    finally:
        server.start()  # type: ignore[attr-defined]
    result = any_bot.poll()
    assert result.errors == [] and result.processed == 1
    with any_bot.app.factory() as s:
        assert len(s.scalars(select(Case)).all()) == 1
    assert len(any_bot.sent("ack")) == 1


def test_uidvalidity_change_resyncs_without_duplicates(any_bot: Bot) -> None:
    """Scenario: the intake folder is deleted and recreated on the server (new UIDVALIDITY) and gets a
    copy of an already-processed request plus a new one: one new case, the copy is a duplicate."""
    from tests.support.servers import imap_connect

    settings = any_bot.app.settings
    any_bot.app.settings = replace(settings, imap=replace(settings.imap, folder="Intake"))
    with imap_connect(any_bot.imap) as c:
        c.create_folder("Intake")
        before = c.folder_status("Intake", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    original = complete_request()
    any_bot.append(original, "Intake")
    any_bot.poll()
    with imap_connect(any_bot.imap) as c:
        c.delete_folder("Intake")
        c.create_folder("Intake")
        after = c.folder_status("Intake", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    if after == before:  # some servers derive UIDVALIDITY from the clock: make it differ for real
        with imap_connect(any_bot.imap) as c:
            c.delete_folder("Intake")
            c.create_folder("Intake2")
            c.rename_folder("Intake2", "Intake")
            after = c.folder_status("Intake", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    assert after != before
    any_bot.append(original, "Intake")
    any_bot.append(request_email("other.ppk@example.go.id", "Other", "Permohonan reset password", "mohon",
                                 [("Surat Permohonan.pdf", sample_request_letter("Other", NIP)),
                                  ("SK.pdf", sample_sk("Other", NIP))]), "Intake")
    result = any_bot.poll()
    assert (result.duplicates, result.processed) == (1, 1)
    with any_bot.app.factory() as s:
        assert len(s.scalars(select(Case)).all()) == 2
    assert len(any_bot.sent("ack")) == 2
    assert any_bot.uids("Intake") == []


def test_unparseable_message_is_quarantined_with_alert_and_requeue(any_bot: Bot) -> None:
    """Scenario: bytes that are not an email arrive; quarantine folder, admin alert, list and requeue."""
    any_bot.append(b"\x00\x01 not an email at all\r\n")
    any_bot.append(complete_request())
    result = any_bot.poll()
    assert result.quarantined == 1 and result.processed == 1
    q = quarantine_list(any_bot.app)
    assert len(q) == 1 and q[0]["reason"].startswith("parse error")
    assert any_bot.uids("INBOX") == []
    assert len(any_bot.uids(any_bot.app.settings.imap.quarantine_folder)) == 1
    alerts = any_bot.sent("quarantine_alert")
    assert [m.rcpt_tos for m in alerts] == [[ADMIN]]
    assert quarantine_requeue(any_bot.app, q[0]["id"])
    any_bot.poll()
    assert len(quarantine_list(any_bot.app)) == 1  # still unparseable: back in quarantine, raw kept
    assert any_bot.app.store.exists(rows(any_bot)[0].raw_blob)


def test_processing_failure_retried_then_quarantined(any_bot: Bot) -> None:
    """Scenario: processing crashes on one message; it is retried max_attempts times, then quarantined,
    and the other messages are processed normally."""
    flaky = route_raising_on("BOOM", lambda: RuntimeError("simulated bug"))
    any_bot.append(request_email(EMAIL, NAME, "BOOM reset password", "x"))
    any_bot.append(complete_request())
    any_bot.poll(route=flaky)
    assert any_bot.uids("INBOX") != []  # the failing one waits in the INBOX for its retries
    for _ in range(any_bot.app.settings.limits.max_attempts):
        any_bot.poll(route=flaky)
    q = quarantine_list(any_bot.app)
    assert len(q) == 1 and "simulated bug" in q[0]["reason"]
    assert any_bot.uids("INBOX") == []
    with any_bot.app.factory() as s:
        assert len(s.scalars(select(Case)).all()) == 1


def test_message_that_kills_the_process_mid_backlog_is_quarantined_after_max_attempts(any_bot: Bot) -> None:
    """Scenario: the second of three messages kills the process every time it is processed (its
    attempt is counted in the first message's commit). After max_attempts restarts it is quarantined
    with the reason, and the messages before and after it are processed once."""
    deadly = route_killing_on("DEADLY")
    any_bot.append(complete_request("Permohonan pertama"))
    any_bot.append(request_email(EMAIL, NAME, "DEADLY reset password", "x"))
    any_bot.append(request_email(PPK_B[2], PPK_B[0], "Permohonan ketiga", f"NIP. {PPK_B[1]}"))
    restarts = 0
    while True:
        try:
            any_bot.poll(route=deadly)
            break
        except SimulatedKill:
            restarts += 1
            assert restarts <= any_bot.app.settings.limits.max_attempts
    assert restarts == any_bot.app.settings.limits.max_attempts
    statuses = [(r.subject, r.status, r.attempts) for r in rows(any_bot)]
    assert [st for _, st, _ in statuses] == ["processed", "quarantined", "processed"]
    assert statuses[1][2] == any_bot.app.settings.limits.max_attempts + 1
    assert "did not finish in" in rows(any_bot)[1].reason
    assert len(any_bot.all(Case)) == 2 and len(any_bot.sent("quarantine_alert")) == 1


def test_too_large_message_not_downloaded_and_sender_told(any_bot: Bot) -> None:
    """Scenario: a message over max_message_bytes: only headers fetched, the sender gets too_large."""
    limits = replace(any_bot.app.settings.limits, max_message_bytes=50_000)
    any_bot.app.settings = replace(any_bot.app.settings, limits=limits)
    big = request_email(EMAIL, NAME, "Permohonan reset password", "lampiran besar",
                        [("scan.pdf", b"%PDF-1.4\n" + b"0" * 120_000)])
    any_bot.append(big)
    any_bot.poll()
    [row] = rows(any_bot)
    assert row.status == "quarantined" and "exceeds" in row.reason
    assert row.size < 50_000  # headers only
    assert [m.rcpt_tos for m in any_bot.sent("too_large")] == [[EMAIL]]
    assert len(any_bot.uids(any_bot.app.settings.imap.quarantine_folder)) == 1


def test_auto_reply_cap_per_sender_with_one_final_notice(any_bot: Bot) -> None:
    """Scenario: one sender floods the mailbox; cases are kept, replies stop after the cap + one notice."""
    limits = replace(any_bot.app.settings.limits, auto_replies_per_sender_per_day=2)
    any_bot.app.settings = replace(any_bot.app.settings, limits=limits)
    for i in range(5):
        any_bot.append(request_email("flood@example.org", "Flood", f"Permohonan reset password {i}", "mohon"))
    any_bot.poll()
    with any_bot.app.factory() as s:
        assert len(s.scalars(select(Case)).all()) == 5
    to_flood = [m for m in any_bot.smtp.messages if "flood@example.org" in m.rcpt_tos]
    assert [m.header("X-Mailbot-Template") for m in to_flood] == ["incomplete", "incomplete", "auto_reply_limit"]


def test_bounce_of_own_mail_reported_to_admins(any_bot: Bot) -> None:
    """Scenario: the ack bounces back from the PPK's server; admins get one delivery_failure, no reply."""
    any_bot.append(complete_request())
    any_bot.poll()
    ack = any_bot.sent("ack")[0]
    dsn = (
        "From: MAILER-DAEMON@mail.pupr-demo.go.id\r\nTo: lpse@lpse-demo.go.id\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce1@mail.pupr-demo.go.id>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/plain\r\n\r\nMailbox full.\r\n"
        "--XX\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail\r\n\r\n"
        "Final-Recipient: rfc822; budi.santoso@pupr-demo.go.id\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "--XX\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ack.header('Message-ID')}\r\nSubject: x\r\n--XX--\r\n").encode()
    any_bot.append(dsn)
    any_bot.poll()
    any_bot.poll()
    reports = any_bot.sent("delivery_failure")
    assert [m.rcpt_tos for m in reports] == [[ADMIN]]
    assert all("MAILER-DAEMON" not in ",".join(m.rcpt_tos) for m in any_bot.smtp.messages)
    [bounce_row] = [r for r in rows(any_bot) if r.kind == "automatic"]
    assert bounce_row.reason.startswith("bounce") and bounce_row.case_id is not None


def test_second_poller_is_refused(any_bot: Bot) -> None:
    """Scenario: two pollers on one database: the second is refused while the first holds the lock."""
    import pytest

    from mailbot.runner import AlreadyRunning, instance_lock

    with instance_lock(any_bot.app):
        with pytest.raises(AlreadyRunning):
            with instance_lock(any_bot.app):
                pass


def test_imap_reconnects_within_a_poll_when_the_server_comes_back(any_bot: Bot) -> None:
    """Scenario: the IMAP server is down when the poll starts and back a moment later: the same poll
    reconnects (with backoff) and processes the request; no error is reported."""
    import logging
    import threading

    any_bot.append(complete_request())
    server = any_bot.imap
    server.stop()  # type: ignore[attr-defined]
    first_failure = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "reconnecting in" in record.getMessage():
                first_failure.set()

    handler = Watch()
    logging.getLogger("mailbot.runner").addHandler(handler)
    results = []
    poller = threading.Thread(target=lambda: results.append(any_bot.poll()))
    try:
        poller.start()
        assert first_failure.wait(timeout=30)
        server.start()  # type: ignore[attr-defined]
        poller.join(timeout=60)
    finally:
        logging.getLogger("mailbot.runner").removeHandler(handler)  # the fixture restarts a stopped server
    [result] = results
    assert result.errors == [] and result.processed == 1
    assert len(any_bot.sent("ack")) == 1


# -- a stranger's mail, a message that kills the process, delay notices ----------------------------
def test_stranger_mail_cannot_stall_intake_on_postgres(pg_bot: Bot) -> None:
    """Scenario: a stranger names the admin in Reply-To and writes a 300-char Password: line; the
    PPK's request that arrives after it must still become a case."""
    poison = request_email("attacker@example.org", "X", "halo", "SETUJU\nPassword: " + "A" * 300,
                           extra_headers={"Reply-To": ADMIN})
    pg_bot.append(poison)
    pg_bot.append(complete_request())
    for _ in range(pg_bot.app.settings.limits.max_attempts + 1):
        try:
            pg_bot.poll()
        except Exception:  # noqa: BLE001 - today the whole poll dies; the daemon would log and retry
            pass
    # The stranger's mail is an ordinary (if odd) request now; what matters is that the PPK's request
    # behind it was not stalled.
    assert EMAIL in [c.sender for c in pg_bot.all(Case)]


def test_message_that_kills_the_process_is_quarantined_eventually(any_bot: Bot) -> None:
    """Scenario: processing one message kills the process each time; after max_attempts it must be
    quarantined and the request behind it processed."""
    deadly = route_killing_on("BOOM")
    any_bot.append(request_email("someone@example.org", "S", "BOOM reset password", "x"))
    any_bot.append(complete_request())
    for _ in range(any_bot.app.settings.limits.max_attempts + 2):
        try:
            any_bot.poll(route=deadly)
        except SimulatedKill:
            pass  # the process died; systemd restarts it and the next poll runs
    assert [c.sender for c in any_bot.all(Case)] == [EMAIL]
    assert [r.status for r in rows(any_bot)][0] == "quarantined"


def test_delayed_dsn_is_not_reported_as_delivery_failure(any_bot: Bot) -> None:
    """Scenario: the PPK's server is slow; its MTA sends a 'delayed' DSN for the ack; nothing failed."""
    any_bot.append(complete_request())
    any_bot.poll()
    ack = any_bot.sent("ack")[0]
    dsn = (
        "From: MAILER-DAEMON@mail.pupr-demo.go.id\r\nTo: lpse@lpse-demo.go.id\r\n"
        "Subject: Delayed Mail (still being retried)\r\nMessage-ID: <delay1@mail.pupr-demo.go.id>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/plain\r\n\r\nThis is a warning only; no action is required.\r\n"
        "--XX\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail\r\n\r\n"
        "Final-Recipient: rfc822; budi.santoso@pupr-demo.go.id\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        "--XX\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ack.header('Message-ID')}\r\nSubject: x\r\n--XX--\r\n").encode()
    any_bot.append(dsn)
    any_bot.poll()
    any_bot.poll()
    assert any_bot.sent("delivery_failure") == []
