"""Findings of the adversarial pass (issue 12), each replayed through a real IMAP server and SMTP sink:
forged senders, keyword mail without a code, loose approvals, hidden HTML, forged authentication,
real requests taken for auto-replies, thank-yous to closed cases, relayed files and attacker text."""

from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from mailbot.demo.servers import ReceivedMail
from mailbot.store.models import Case
from tests.support.bot import Bot
from tests.support.mails import ADMIN, reply_email, request_email
from tests.support.replies import with_headers
from tests.support.review import get_case, refusals, review_for, set_auth, submit_case

MALLORY = "mallory@evil.example"


def _two_froms(raw: bytes, first: str, second: str) -> bytes:
    lines = [line for line in raw.split(b"\n") if not line.lower().startswith(b"from:")]
    return f"From: {first}\nFrom: {second}\n".encode() + b"\n".join(lines)


# -- 1. two From fields ----------------------------------------------------------------------------
def test_two_from_fields_admin_first_is_no_decision(any_bot: Bot) -> None:
    case = submit_case(any_bot)
    raw = reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU")
    any_bot.append(_two_froms(raw, f"Admin <{ADMIN}>", f"Mallory <{MALLORY}>"))
    any_bot.poll()
    assert get_case(any_bot, case).status == "AWAITING_REVIEW"
    assert any_bot.sent("credentials") == []
    assert all(MALLORY not in m.rcpt_tos for m in any_bot.smtp.messages)
    assert "From" in refusals(any_bot)[-1].detail


def test_two_mailboxes_in_one_from_is_no_decision(any_bot: Bot) -> None:
    case = submit_case(any_bot)
    raw = reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU")
    any_bot.append(_two_froms(raw, f"Admin <{ADMIN}>, Mallory <{MALLORY}>", "")
                   .replace(b"From: \n", b""))
    any_bot.poll()
    assert get_case(any_bot, case).status == "AWAITING_REVIEW"
    assert any_bot.sent("credentials") == []


# -- 2. keyword mail without a code or thread; the cap on admin_command_error ----------------------
def test_admin_keyword_without_code_or_thread_is_refused_not_a_case(any_bot: Bot) -> None:
    any_bot.append(request_email(ADMIN, "Admin", "Keputusan", "SETUJU\n\nPassword: Rahasia12345"))
    any_bot.poll()
    assert any_bot.all(Case) == []
    assert any_bot.sent("incomplete") == []
    assert [m.rcpt_tos for m in any_bot.sent("admin_command_error")] == [[ADMIN]]
    assert refusals(any_bot)


def test_admin_command_error_is_capped_per_admin_per_day(any_bot: Bot) -> None:
    cap = any_bot.app.settings.limits.admin_command_errors_per_admin_per_day
    for i in range(cap + 3):
        any_bot.append(request_email(ADMIN, "Admin", f"Keputusan {i}", f"TOLAK palsu {i}"))
    any_bot.poll()
    assert len(any_bot.sent("admin_command_error")) == cap
    assert len(refusals(any_bot)) == cap + 3
    assert any_bot.all(Case) == []


# -- 3. loose approval tails; hidden HTML --------------------------------------------------------
@pytest.mark.parametrize("first_line", ["SETUJU？", "SETUJU 👎❌", "SETUJU?"])
def test_question_or_emoji_after_setuju_does_not_approve(any_bot: Bot, first_line: str) -> None:
    case = submit_case(any_bot)
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", first_line))
    any_bot.poll()
    assert get_case(any_bot, case).status == "AWAITING_REVIEW"
    assert any_bot.sent("credentials") == []
    assert [m.rcpt_tos for m in any_bot.sent("admin_command_error")] == [[ADMIN]]


def test_full_width_full_stop_after_setuju_approves(any_bot: Bot) -> None:
    case = submit_case(any_bot)
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "Setuju。"))
    any_bot.poll()
    assert get_case(any_bot, case).status == "COMPLETED"


def _html_only_reply(review: ReceivedMail, html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Admin <{ADMIN}>"
    msg["To"] = str(review.message["From"])
    msg["Subject"] = "Re: " + str(review.message["Subject"])
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=ADMIN.split("@")[1])
    msg["In-Reply-To"] = str(review.message["Message-ID"])
    msg["References"] = str(review.message["Message-ID"])
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


@pytest.mark.parametrize("style", ["display:none", "visibility: hidden", "font-size:0px", "mso-hide:all"])
def test_hidden_html_keyword_is_not_read(any_bot: Bot, style: str) -> None:
    case = submit_case(any_bot)
    html = (f'<html><body><div style="{style}">SETUJU</div><div>OK, saya cek dulu</div>'
            "<blockquote>kutipan</blockquote></body></html>")
    any_bot.append(_html_only_reply(review_for(any_bot, case), html))
    any_bot.poll()
    assert get_case(any_bot, case).status == "AWAITING_REVIEW"
    assert any_bot.sent("credentials") == []
    assert "saya cek dulu" in refusals(any_bot)[-1].detail


# -- 4. Authentication-Results read by RFC 8601 ------------------------------------------------------
SMUGGLED_AR = ('mx.lpse-demo.go.id; spf=pass smtp.mailfrom="x;dmarc=pass"@evil.example; '
               "dmarc=fail header.from=lpse-demo.go.id")
OPENDKIM_AR = ("mx.lpse-demo.go.id; dkim=pass (2048-bit key; unprotected) header.d=lpse-demo.go.id "
               "header.i=@lpse-demo.go.id header.b=kJ7mPq2x")


def test_quoted_semicolon_in_authentication_results_is_no_pass(any_bot: Bot) -> None:
    set_auth(any_bot, True, ("mx.lpse-demo.go.id",))
    case = submit_case(any_bot)
    raw = reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU")
    any_bot.append(with_headers(raw, Authentication_Results=SMUGGLED_AR))
    any_bot.poll()
    assert get_case(any_bot, case).status == "AWAITING_REVIEW"
    assert any_bot.sent("credentials") == []
    assert "autentikasi" in refusals(any_bot)[-1].detail


def test_opendkim_pass_with_comment_is_accepted(any_bot: Bot) -> None:
    set_auth(any_bot, True, ("mx.lpse-demo.go.id",))
    case = submit_case(any_bot)
    raw = reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU")
    any_bot.append(with_headers(raw, Authentication_Results=OPENDKIM_AR))
    any_bot.poll()
    assert get_case(any_bot, case).status == "COMPLETED"
    assert refusals(any_bot) == []
