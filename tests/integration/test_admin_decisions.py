"""Issue 4: admin decisions by email reply, outcomes, and the attacks that must change nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.demo import samplepdf
from mailbot.demo.world import ADMIN, reply_email, request_email
from mailbot.store.models import Case, Event
from tests.conftest import PPK_A, Bot

NAME, NIP, EMAIL, USER_ID = PPK_A[0], PPK_A[1], PPK_A[2], PPK_A[3]


def submit(bot: Bot, subject: str = "Permohonan reset password SPSE"):  # type: ignore[no-untyped-def]
    bot.append(request_email(EMAIL, NAME, subject, f"Dengan hormat, mohon reset password. NIP. {NIP}",
                             [("Surat Permohonan.pdf", samplepdf.sample_request_letter(NAME, NIP)),
                              ("SK PPK.pdf", samplepdf.sample_sk(NAME, NIP))]))
    bot.poll()
    reviews = bot.sent("review_request")
    assert len(reviews) == 1
    return reviews[-1]


def case_of(bot: Bot) -> Case:
    with bot.app.factory() as s:
        return s.scalars(select(Case).order_by(Case.id.desc())).first()


def test_setuju_sends_credentials_to_registered_address(any_bot: Bot) -> None:
    """Scenario: the admin replies SETUJU from Gmail → one credentials email → COMPLETED."""
    review = submit(any_bot)
    assert review.rcpt_tos == [ADMIN]
    assert "RV-" in review.header("Subject")
    assert len(review.message.get_payload()) >= 3  # body + the two documents attached
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    creds = any_bot.sent("credentials")
    assert [m.rcpt_tos for m in creds] == [[EMAIL]]
    assert case_of(any_bot).status == "COMPLETED"
    assert case_of(any_bot).proposed_password is None
    conf = any_bot.sent("admin_confirmation")
    assert [m.rcpt_tos for m in conf] == [[ADMIN]]


def test_tolak_sends_rejection_with_reason(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "TOLAK NIP tidak sesuai data SPSE"))
    any_bot.poll()
    rejected = any_bot.sent("rejected")
    assert [m.rcpt_tos for m in rejected] == [[EMAIL]]
    assert "NIP tidak sesuai data SPSE" in rejected[0].message.get_body(("plain",)).get_content()
    assert case_of(any_bot).status == "REJECTED"
    assert any_bot.sent("credentials") == []


def test_lengkapi_goes_back_to_documents_with_note(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "LENGKAPI SK yang sudah ditandatangani"))
    any_bot.poll()
    assert case_of(any_bot).status == "AWAITING_DOCUMENTS"
    inc = any_bot.sent("incomplete")
    assert len(inc) == 1 and "SK yang sudah ditandatangani" in inc[0].message.get_body(("plain",)).get_content()


def _unchanged(bot: Bot, before: int, attacker: str | None = None) -> None:
    assert case_of(bot).status == "AWAITING_REVIEW"
    assert bot.sent("credentials") == [] and bot.sent("rejected") == []
    if attacker:
        assert all(attacker not in m.rcpt_tos for m in bot.smtp.messages)
    with bot.app.factory() as s:
        refusals = s.scalars(select(Event).where(Event.kind == "decision_refused")).all()
    assert len(refusals) >= 1


def test_forged_from_without_code_is_refused(any_bot: Bot) -> None:
    submit(any_bot)
    number = case_of(any_bot).number
    any_bot.append(request_email(ADMIN, "Admin", f"Re: [{number}] Tinjauan", "SETUJU"))
    any_bot.poll()
    _unchanged(any_bot, 0)
    errors = any_bot.sent("admin_command_error")
    assert [m.rcpt_tos for m in errors] == [[ADMIN]]


def test_stranger_replaying_review_email_gets_nothing(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, "mallory@evil.example", "Mallory", "SETUJU"))
    any_bot.poll()
    _unchanged(any_bot, 0, attacker="mallory@evil.example")
    assert any_bot.sent("admin_command_error") == []


def test_keyword_only_in_quote_is_not_a_decision(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "OK, saya cek dulu"))
    any_bot.poll()
    _unchanged(any_bot, 0)
    assert len(any_bot.sent("admin_command_error")) == 1


def test_second_decision_after_first_is_refused(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "TOLAK dokumen tidak sah"))
    any_bot.poll()
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    assert case_of(any_bot).status == "REJECTED"
    assert any_bot.sent("credentials") == []
    errors = any_bot.sent("admin_command_error")
    assert len(errors) == 1
    assert ADMIN in errors[0].message.get_body(("plain",)).get_content()


def test_code_from_earlier_round_is_refused(any_bot: Bot) -> None:
    review1 = submit(any_bot)
    any_bot.append(reply_email(review1, ADMIN, "Admin", "LENGKAPI mohon SK terbaru"))
    any_bot.poll()
    inc = any_bot.sent("incomplete")[-1]
    any_bot.append(request_email(EMAIL, NAME, "Re: " + inc.header("Subject"), "SK terbaru terlampir",
                                 [("SK terbaru.pdf", samplepdf.sample_sk(NAME, NIP))],
                                 in_reply_to=inc.header("Message-ID")))
    any_bot.poll()
    assert case_of(any_bot).status == "AWAITING_REVIEW"
    assert len(any_bot.sent("review_request")) == 2
    any_bot.append(reply_email(review1, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    _unchanged(any_bot, 0)


def test_header_and_html_injection_in_reason(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin",
                               "TOLAK <script>alert(1)</script> Bcc: victim@example.org"))
    any_bot.poll()
    rejected = any_bot.sent("rejected")
    assert len(rejected) == 1 and rejected[0].rcpt_tos == [EMAIL]
    html = rejected[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert rejected[0].header("Bcc") is None


def test_password_absent_everywhere_after_delivery(any_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """Scenario: the admin types a Password: line; after delivery it exists only in the credentials mail."""
    caplog.set_level(logging.INFO)  # what an operator's journal holds (DEBUG of the test servers excluded)
    caplog.set_level(logging.DEBUG, logger="mailbot")
    review = submit(any_bot)
    typed = "Sandi9Baru2026x"
    any_bot.append(reply_email(review, ADMIN, "Admin", f"SETUJU\nPassword: {typed}"))
    any_bot.poll()
    creds = any_bot.sent("credentials")
    assert len(creds) == 1 and typed in creds[0].data.decode()
    with any_bot.app.factory() as s:
        proposed = s.scalars(select(Case)).one()
    assert case_of(any_bot).status == "COMPLETED"
    for m in any_bot.smtp.messages:
        if m.header("X-Mailbot-Template") != "credentials":
            assert typed.encode() not in m.data, m.header("X-Mailbot-Template")
    for path in Path(any_bot.workdir).rglob("*"):
        if path.is_file():
            assert typed.encode() not in path.read_bytes(), path
    assert typed not in caplog.text


def test_generated_password_only_in_review_and_credentials(any_bot: Bot) -> None:
    """Scenario: SETUJU without a Password: line; the proposed password reaches the admin (review_request)
    and the PPK (credentials) and nothing else — not the database, the data directory or other mail."""
    review = submit(any_bot)
    with any_bot.app.factory() as s:
        proposed = s.scalars(select(Case)).one().proposed_password
    assert proposed and len(proposed) >= 12 and proposed.isalnum()
    assert proposed in review.data.decode("utf-8", "replace") or proposed in review.message.get_body(("plain",)).get_content()
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))  # quotes the review, password included
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert proposed in creds.message.get_body(("plain",)).get_content()
    for m in any_bot.smtp.messages:
        if m.header("X-Mailbot-Template") not in ("credentials", "review_request"):
            assert proposed not in m.message.as_string(), m.header("X-Mailbot-Template")
    for path in Path(any_bot.workdir).rglob("*"):
        if path.is_file():
            assert proposed.encode() not in path.read_bytes(), path
