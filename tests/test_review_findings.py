"""Code review findings (security, crash and concurrency): each test shows one open bug, marked
xfail(strict=True) until it is fixed — then the marker must go."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from mailbot.demo import samplepdf
from mailbot.demo.servers import EmbeddedSmtp
from mailbot.demo.world import BOT, reply_email, request_email
from mailbot.store.models import Case, InboundMessage
from tests.conftest import (
    ADMIN,
    PPK_A,
    PPK_B,
    Bot,
    _fastest_imap,
    _pg_database,
    make_bot,
)
from tests.test_intake import complete_request

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]
WIB = timezone(timedelta(hours=7))


@pytest.fixture
def pg_bot(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: EmbeddedSmtp,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """PostgreSQL only (skipped unless MAILBOT_TEST_POSTGRES_URL is set)."""
    for url in _pg_database():
        b = make_bot(tmp_path, _fastest_imap(request), smtp_server, url, monkeypatch)
        try:
            yield b
        finally:
            b.app.engine.dispose()


def cases(bot: Bot) -> list[Case]:
    return bot.all(Case)


def inbound(bot: Bot) -> list[InboundMessage]:
    return bot.all(InboundMessage)


def submit(bot: Bot):  # type: ignore[no-untyped-def]
    bot.append(complete_request())
    bot.poll()
    [review] = bot.sent("review_request")
    return review


def admin_reply(review, text: str, html: str | None = None) -> bytes:  # type: ignore[no-untyped-def]
    """An admin's reply (threaded, review code in the subject), plain text and optionally HTML."""
    msg = EmailMessage()
    msg["From"] = f"Admin <{ADMIN}>"
    msg["To"] = str(review.message["From"])
    msg["Subject"] = "Re: " + str(review.message["Subject"])
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=ADMIN.split("@")[1])
    msg["In-Reply-To"] = str(review.message["Message-ID"])
    msg["References"] = str(review.message["Message-ID"])
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def stored_bytes(bot: Bot) -> bytes:
    """Everything the bot keeps on disk: the database file(s) and the blob store."""
    return b"".join(p.read_bytes() for p in Path(bot.workdir).rglob("*") if p.is_file())


# -- 1. intake stall on PostgreSQL ------------------------------------------------------------
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
    assert EMAIL in [c.sender for c in cases(pg_bot)]


# -- 2. a message that kills the process is retried forever ----------------------------------------
class SimulatedKill(BaseException):
    """What the process sees of an OOM kill / watchdog kill -9 in the middle of one message."""


def kill_on_subject(monkeypatch: pytest.MonkeyPatch, marker: str) -> None:
    """Make processing a message whose subject contains `marker` "kill the process" (SimulatedKill)."""
    import mailbot.intake.process as runner

    real_route = runner.route

    def deadly(s, app, row, mail, now, *rest):  # type: ignore[no-untyped-def]
        if marker in mail.subject:
            raise SimulatedKill()
        return real_route(s, app, row, mail, now, *rest)

    monkeypatch.setattr(runner, "route", deadly)


def test_message_that_kills_the_process_is_quarantined_eventually(any_bot: Bot,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: processing one message kills the process each time; after max_attempts it must be
    quarantined and the request behind it processed."""
    kill_on_subject(monkeypatch, "BOOM")
    any_bot.append(request_email("someone@example.org", "S", "BOOM reset password", "x"))
    any_bot.append(complete_request())
    for _ in range(any_bot.app.settings.limits.max_attempts + 2):
        try:
            any_bot.poll()
        except SimulatedKill:
            pass  # the process died; systemd restarts it and the next poll runs
    assert [c.sender for c in cases(any_bot)] == [EMAIL]
    assert [r.status for r in inbound(any_bot)][0] == "quarantined"


# -- 3. passwords surviving in the stored raw copy ------------------------------------------------
def test_password_in_html_part_of_admin_reply_is_not_stored(any_bot: Bot) -> None:
    """Scenario: the admin (Outlook, bold label) replies SETUJU with a Password: line; after delivery the
    typed password is nowhere on disk."""
    review = submit(any_bot)
    typed = "Sandi9Baru2026x"
    any_bot.append(admin_reply(review, f"SETUJU\nPassword: {typed}\n",
                               f"<html><body><div>SETUJU</div><div><b>Password</b>: {typed}</div></body></html>"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert typed in creds.message.get_body(("plain",)).get_content()
    assert cases(any_bot)[0].status == "COMPLETED"
    assert typed.encode() not in stored_bytes(any_bot)


def test_bold_password_label_from_gmail_overrides_proposal(any_bot: Bot) -> None:
    """Scenario: the admin bolds the label in Gmail (text/plain '*Password*: X'); X is what the PPK gets."""
    review = submit(any_bot)
    typed = "Sandi9Baru2026x"
    any_bot.append(admin_reply(review, f"SETUJU\n*Password*: {typed}\n",
                               f"<div>SETUJU</div><div><b>Password</b>: {typed}</div>"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert typed in creds.message.get_body(("plain",)).get_content()


def test_admin_password_not_kept_when_mail_is_not_a_decision(any_bot: Bot) -> None:
    """Scenario: the admin writes a fresh mail (no code, no thread) 'SETUJU / Password: X'; X must not
    stay in the database."""
    typed = "Sandi9Baru2026x"
    any_bot.append(request_email(ADMIN, "Admin", "Persetujuan reset password", f"SETUJU\nPassword: {typed}"))
    any_bot.poll()
    assert [r.secret for r in inbound(any_bot)] == [None]
    assert typed.encode() not in stored_bytes(any_bot)


# -- 4. reminders after LENGKAPI ----------------------------------------------------------------
def test_reminder_is_sent_again_after_admin_asks_for_more_documents(any_bot: Bot) -> None:
    """Scenario: letter only → incomplete → reminder 1 → PPK sends the SK → admin LENGKAPI → two working
    days of silence → the PPK gets a reminder for the new request for documents."""
    name, nip, email_b = PPK_B[0], PPK_B[1], PPK_B[2]
    any_bot.append(request_email(email_b, name, "Permohonan reset password SPSE", f"Mohon reset. NIP. {nip}",
                                 [("surat_permohonan.pdf", samplepdf.sample_request_letter(name, nip))]))
    any_bot.poll(datetime(2026, 2, 2, 9, 0, tzinfo=WIB))  # Monday
    [incomplete] = any_bot.sent("incomplete")
    any_bot.poll(datetime(2026, 2, 5, 10, 0, tzinfo=WIB))  # Thursday: reminder 1
    assert len(any_bot.sent("reminder_documents")) == 1
    any_bot.append(request_email(email_b, name, "Re: " + incomplete.header("Subject"), "Terlampir SK.",
                                 [("SK Pengangkatan PPK.pdf", samplepdf.sample_sk(name, nip))],
                                 in_reply_to=incomplete.header("Message-ID")))
    any_bot.poll(datetime(2026, 2, 5, 10, 30, tzinfo=WIB))
    [review] = any_bot.sent("review_request")
    any_bot.append(reply_email(review, ADMIN, "Admin", "LENGKAPI SK yang telah ditandatangani"))
    any_bot.poll(datetime(2026, 2, 5, 10, 40, tzinfo=WIB))
    assert cases(any_bot)[0].status == "AWAITING_DOCUMENTS"
    any_bot.poll(datetime(2026, 2, 10, 10, 0, tzinfo=WIB))  # Tuesday: 2+ working days later
    assert len(any_bot.sent("reminder_documents")) == 2


# -- 5. exactly-once by Message-ID ----------------------------------------------------------------
def test_same_message_id_delivered_twice_is_one_case(any_bot: Bot) -> None:
    """Scenario: the PPK's request reaches the mailbox twice (two aliases), headers differ by one line."""
    raw = complete_request()
    any_bot.append(b"Delivered-To: lpse@lpse-demo.go.id\r\n" + raw)
    any_bot.append(b"Delivered-To: helpdesk@lpse-demo.go.id\r\n" + raw)
    any_bot.poll()
    assert len(cases(any_bot)) == 1
    assert len(any_bot.sent("ack")) == 1


# -- 6. header injection through an attacker's Message-ID ------------------------------------------
def test_encoded_word_in_message_id_cannot_inject_headers(any_bot: Bot) -> None:
    """Scenario: a request whose Message-ID hides '=0D=0A' in an encoded word; the ack the bot sends back
    must carry no header the attacker wrote."""
    import re

    evil = b"<=?utf-8?q?x=0D=0AX-Injected:_yes=0D=0A?=@example.org>"
    raw = re.sub(rb"(?m)^Message-ID: <[^>]*>", b"Message-ID: " + evil, complete_request(), count=1)
    assert evil in raw
    any_bot.append(raw)
    any_bot.poll()
    [to_ppk] = [m for m in any_bot.smtp.messages if m.rcpt_tos == [EMAIL]]  # the ack
    head = to_ppk.data.split(b"\r\n\r\n", 1)[0]
    assert b"\nX-Injected:" not in head
    assert to_ppk.header("X-Mailbot-Template") == "ack"  # today the injected lines even end the header block


# -- 7. a CLI decision racing an email decision ---------------------------------------------------
def test_cli_reject_racing_email_approve_applies_one_decision(any_bot: Bot,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: the operator runs `mailbot reject` while the daemon applies the admin's SETUJU reply
    (the daemon's poll runs to completion between the CLI's read and its write)."""
    import threading

    import mailbot.cases.decisions as D

    review = submit(any_bot)
    number = cases(any_bot)[0].number
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    real = D.on_admin_decision
    raced: list[bool] = []

    def racing(view, action, **kw):  # type: ignore[no-untyped-def]
        if action == "reject" and not raced:
            raced.append(True)
            daemon = threading.Thread(target=any_bot.poll)
            daemon.start()
            daemon.join()
        return real(view, action, **kw)

    monkeypatch.setattr(D, "on_admin_decision", racing)
    try:
        D.decide_from_cli(any_bot.app, number, D.CliCommand.make("reject", "NIP tidak sesuai"), "operator",
                          datetime.now(timezone.utc))
    except D.DecisionRefused:
        pass  # the correct outcome: the case was decided meanwhile
    any_bot.poll()
    assert raced
    outcomes = [t for t in ("credentials", "rejected") if any_bot.sent(t)]
    assert len(outcomes) == 1, outcomes


# -- 8. authentication ------------------------------------------------------------------------------
def test_dmarc_pass_for_another_domain_does_not_authenticate_admin() -> None:
    """Scenario: the receiving server says dmarc=pass for evil.example; mailbot read the From as the admin."""
    from mailbot.cases.decisions import authenticated
    from mailbot.intake.parse import parse_message

    raw = (f"Authentication-Results: mx.lpse-demo.go.id; dkim=pass header.d=evil.example; "
           f"dmarc=pass header.from=evil.example\r\nFrom: Admin <{ADMIN}>\r\nTo: {BOT}\r\n"
           "Subject: Re: x\r\nMessage-ID: <r1@evil.example>\r\n\r\nSETUJU\r\n").encode()
    ok, _why = authenticated(parse_message(raw), ("mx.lpse-demo.go.id",))
    assert not ok


# -- 9. delay notifications are not failures ---------------------------------------------------------
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


# -- 10. a case whose 'incomplete' mail was capped never expires ----------------------------------------
def test_case_whose_incomplete_mail_was_capped_still_expires(any_bot: Bot) -> None:
    """Scenario: with a cap of 1 auto-reply a day, a second incomplete request the same day gets only the
    cap notice; weeks of silence later it must have expired like any other."""
    from dataclasses import replace

    limits = replace(any_bot.app.settings.limits, auto_replies_per_sender_per_day=1)
    any_bot.app.settings = replace(any_bot.app.settings, limits=limits)
    name, nip, email_b = PPK_B[0], PPK_B[1], PPK_B[2]
    for i in range(2):
        any_bot.append(request_email(email_b, name, f"Permohonan reset password {i}", f"NIP. {nip}",
                                     [("surat_permohonan.pdf", samplepdf.sample_request_letter(name, nip))]))
    any_bot.poll(datetime(2026, 2, 2, 9, 0, tzinfo=WIB))
    assert [c.status for c in cases(any_bot)] == ["AWAITING_DOCUMENTS"] * 2
    for day in (5, 9, 12, 16, 23):
        any_bot.poll(datetime(2026, 2, day, 10, 0, tzinfo=WIB))
    assert [c.status for c in cases(any_bot)] == ["EXPIRED", "EXPIRED"]


# -- hardening: what a stranger gets back ------------------------------------------------------------
def test_stranger_quoting_a_nip_does_not_learn_whose_it_is(any_bot: Bot) -> None:
    """Scenario: a stranger sends a request quoting Budi's NIP with a display name full of prose and a
    link; the reply greets neither with Budi's registry name nor with the stranger's prose, while the
    admin's review email does show the registry match."""
    any_bot.append(request_email("stranger@example.org", "Buka www.evil-lpse.example segera",
                                 "Permohonan reset password", f"NIP. {NIP}",
                                 [("Surat Permohonan.pdf", samplepdf.sample_request_letter(NAME, NIP)),
                                  ("SK.pdf", samplepdf.sample_sk(NAME, NIP))]))
    any_bot.poll()
    [ack] = any_bot.sent("ack")
    body = ack.message.get_body(("plain",)).get_content()
    assert NAME not in body and "evil-lpse" not in body
    assert "Yth. Bapak/Ibu Buka segera," in body
    [review] = any_bot.sent("review_request")
    assert NAME in review.message.get_body(("plain",)).get_content()
