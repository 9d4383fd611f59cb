"""Admin decisions written by real mail clients (Gmail, Outlook, Apple Mail, Thunderbird, Zimbra, Yahoo,
webmails; plain, HTML-only, base64, windows-1252), end to end on real servers: the PPK gets the outcome."""

from __future__ import annotations

import pytest

from tests.support.bot import Bot
from tests.support.mails import ADMIN, PPK_A
from tests.support.replies import rewrite_fixture
from tests.support.review import (
    assert_password_not_stored,
    body,
    get_case,
    recipients,
    refusals,
    review_for,
    submit_case,
)

NAME, NIP, EMAIL, USER_ID = PPK_A[0], PPK_A[1], PPK_A[2], PPK_A[3]


# -- real client reply formats, end to end ------------------------------------------------------
# (fixture, expected outcome template, text the outcome mail must carry, password the PPK must get)
CLIENT_REPLIES = [
    ("gmail_id_setuju.eml", "credentials", None, "proposed"),
    ("outlook_desktop_en_approve_password.eml", "credentials", None, "Tmp#2026=bys"),
    ("outlook_id_lengkapi.eml", "incomplete", "SK pengangkatan PPK yang sudah ditandatangani dan distempel.", None),
    ("outlook_id_windows1252_tolak.eml", "rejected", "SK tahun anggaran 2024 \u2013 mohon PPK mengirim SK", None),
    ("zimbra_id_tolak.eml", "rejected", "surat permohonan tidak ditandatangani PPK", None),
    ("apple_mail_en_approve_note.eml", "credentials", "Verified by phone with the PPK this morning.", "proposed"),
    ("html_only_webmail_approve_base64.eml", "credentials", "budi.ppk", "Rc!2026-Bys"),
    ("owa_en_html_only_reject.eml", "rejected", "does not match the registry", None),
    ("thunderbird_id_bottom_post_setuju.eml", "credentials", None, "proposed"),
    ("yahoo_en_incomplete.eml", "incomplete", "the SK attached is for a different satker.", None),
    ("trap_keyword_only_in_quote.eml", "admin_command_error", "tidak memuat keputusan", None),
    ("trap_setuju_kalau_datanya_benar.eml", "admin_command_error", "sendiri pada barisnya", None),
    ("tolak_without_reason.eml", "admin_command_error", "harus disertai alasan", None),
]
STATUS_AFTER = {"credentials": "COMPLETED", "rejected": "REJECTED", "incomplete": "AWAITING_DOCUMENTS",
                "admin_command_error": "AWAITING_REVIEW"}


@pytest.mark.parametrize(("fixture", "outcome", "text", "password"), CLIENT_REPLIES,
                         ids=[c[0].removesuffix(".eml") for c in CLIENT_REPLIES])
def test_real_client_reply_end_to_end(any_bot: Bot, fixture: str, outcome: str, text: str | None,
                                      password: str | None) -> None:
    """Scenario: the admin answers a real review_request from a real mail client; the PPK gets the outcome."""
    case = submit_case(any_bot)
    proposed = get_case(any_bot, case).proposed_password
    review = review_for(any_bot, case)
    any_bot.append(rewrite_fixture(fixture, review))
    any_bot.poll()
    after = get_case(any_bot, case)
    assert after.status == STATUS_AFTER[outcome]
    outcomes = [m for m in any_bot.smtp.messages
                if m.header("X-Mailbot-Template") in ("credentials", "rejected", "incomplete", "admin_command_error")]
    assert [m.header("X-Mailbot-Template") for m in outcomes] == [outcome]
    sent = outcomes[0]
    assert sent.rcpt_tos == ([ADMIN] if outcome == "admin_command_error" else [EMAIL])
    content = body(sent)
    if text:
        assert text in content
    if password:
        expected = proposed if password == "proposed" else password
        assert expected and expected in content
        assert after.proposed_password is None
        assert [m.rcpt_tos for m in any_bot.sent("admin_confirmation")] == [[ADMIN]]
        assert expected.encode() not in any_bot.sent("admin_confirmation")[0].data
        if password != "proposed":
            assert_password_not_stored(any_bot, expected)
    if outcome == "admin_command_error":  # a refusal: audited with its reason, the case untouched
        assert [(e.case_id, text in e.detail) for e in refusals(any_bot)] == [(case.id, True)]
        assert (after.review_round, after.decided_by, after.proposed_password) == (1, None, proposed)
    else:
        assert refusals(any_bot) == []
    assert recipients(any_bot) <= {EMAIL, ADMIN}
