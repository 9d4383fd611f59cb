"""Completeness, follow-ups, reminders on working days (also after LENGKAPI), expiry — on real IMAP and SMTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from mailbot.admin.views import case_detail, list_cases
from mailbot.store.models import Case
from tests.support.bot import Bot
from tests.support.documents import make_png, sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_B, reply_email, request_email

NAME, NIP, EMAIL = PPK_B[0], PPK_B[1], PPK_B[2]
WIB = timezone(timedelta(hours=7))


def letter_only() -> bytes:
    return request_email(EMAIL, NAME, "Permohonan informasi user ID SPSE",
                         f"Dengan hormat, mohon informasi user ID. NIP. {NIP}",
                         [("surat_permohonan.pdf", sample_request_letter(NAME, NIP, "informasi user ID"))])


def the_case(bot: Bot) -> Case:
    with bot.app.factory() as s:
        return s.scalars(select(Case)).one()


def test_complete_request_goes_to_review(any_bot: Bot) -> None:
    """Scenario: both PDFs → AWAITING_REVIEW, one ack to the PPK, one review_request per admin."""
    any_bot.append(request_email(EMAIL, NAME, "Permohonan informasi user ID", f"NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("SK.pdf", sample_sk(NAME, NIP))]))
    any_bot.poll()
    assert [c["number"] for c in list_cases(any_bot.app, "AWAITING_REVIEW")] == [the_case(any_bot).number]
    assert [m.rcpt_tos for m in any_bot.sent("ack")] == [[EMAIL]]
    assert len(any_bot.sent("review_request")) == len(any_bot.app.settings.admins.emails)
    assert any_bot.sent("incomplete") == []
    detail = case_detail(any_bot.app, the_case(any_bot).number)
    codes = {f["code"]: f["ok"] for f in detail["findings"]}
    assert codes["document:surat_permohonan"] and codes["document:sk_pengangkatan"]
    assert codes["sender_registry"] and codes["nip_registry"] and codes["nip_valid"]


def test_incomplete_then_follow_up_completes_same_case(any_bot: Bot) -> None:
    """Scenario: the letter alone → one incomplete email naming the SK; the reply with the SK → review."""
    any_bot.append(letter_only())
    any_bot.poll()
    case = the_case(any_bot)
    assert case.status == "AWAITING_DOCUMENTS"
    incomplete = any_bot.sent("incomplete")
    assert len(incomplete) == 1 and incomplete[0].rcpt_tos == [EMAIL]
    body = incomplete[0].message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    missing, received = body.split("Dokumen yang belum kami terima:")[1].split("Berkas yang kami terima")
    assert "SK" in missing and "Surat permohonan reset password" not in missing
    assert "surat_permohonan.pdf: Surat permohonan reset password" in received  # what the bot took it for
    assert any_bot.sent("ack") == []

    any_bot.append(request_email(EMAIL, NAME, "Re: " + incomplete[0].header("Subject"), "Terlampir SK.",
                                 [("SK Pengangkatan PPK.pdf", sample_sk(NAME, NIP))],
                                 in_reply_to=incomplete[0].header("Message-ID")))
    any_bot.poll()
    case = the_case(any_bot)
    assert case.status == "AWAITING_REVIEW"
    assert len(any_bot.sent("incomplete")) == 1
    assert len(any_bot.sent("review_request")) == 1
    detail = case_detail(any_bot.app, case.number)
    assert [s["step"] for s in detail["sla"]] == ["step3_request_documents"]


def test_follow_up_by_subject_number_from_other_sender_is_no_case(any_bot: Bot) -> None:
    """Scenario: someone else quoting the case number does not attach to the PPK's case, and opens no new
    case either: they are told that replies must come from the address that made the request."""
    any_bot.append(letter_only())
    any_bot.poll()
    number = the_case(any_bot).number
    any_bot.append(request_email("intruder@example.org", "X", f"Re: [{number}] dokumen", "SK terlampir",
                                 [("SK.pdf", sample_sk(NAME, NIP))]))
    any_bot.poll()
    with any_bot.app.factory() as s:
        cases = s.scalars(select(Case).order_by(Case.id)).all()
    assert len(cases) == 1 and cases[0].status == "AWAITING_DOCUMENTS"
    assert [m.rcpt_tos for m in any_bot.sent("wrong_sender")] == [["intruder@example.org"]]


def test_reminders_on_working_days_then_expiry_once(any_bot: Bot) -> None:
    """Scenario: silence → reminders on working days only, then EXPIRED and one expired email."""
    # Friday 2026-12-04 10:00 WIB: the request arrives (letter only).
    friday = datetime(2026, 12, 4, 10, 0, tzinfo=WIB)
    any_bot.append(letter_only())
    any_bot.poll(friday)
    assert the_case(any_bot).status == "AWAITING_DOCUMENTS"
    # Weekend polls: no reminder (0 working days passed).
    for day in (5, 6):
        any_bot.poll(datetime(2026, 12, day, 11, 0, tzinfo=WIB))
    assert any_bot.sent("reminder_documents") == []
    # Monday: 1 working day: still nothing. Tuesday 10:00: 2 working days → reminder 1, and only one.
    any_bot.poll(datetime(2026, 12, 7, 11, 0, tzinfo=WIB))
    assert any_bot.sent("reminder_documents") == []
    for _ in range(3):
        any_bot.poll(datetime(2026, 12, 8, 10, 30, tzinfo=WIB))
    assert len(any_bot.sent("reminder_documents")) == 1
    # Thursday: reminder 2. Monday after: expiry, once, whatever the number of polls.
    any_bot.poll(datetime(2026, 12, 10, 10, 31, tzinfo=WIB))
    assert len(any_bot.sent("reminder_documents")) == 2
    for _ in range(3):
        any_bot.poll(datetime(2026, 12, 14, 10, 32, tzinfo=WIB))
    assert the_case(any_bot).status == "EXPIRED"
    assert len(any_bot.sent("expired")) == 1
    any_bot.poll(datetime(2026, 12, 21, 10, 0, tzinfo=WIB))
    assert len(any_bot.sent("expired")) == 1 and len(any_bot.sent("reminder_documents")) == 2
    assert all(m.header("Auto-Submitted") == "auto-generated" for m in any_bot.sent("reminder_documents"))


def test_office_adds_a_required_document_without_code(tmp_path, imap_server, smtp_server, sqlite_url,  # type: ignore[no-untyped-def]
                                                      monkeypatch) -> None:
    """Scenario: the office adds a KTP to [[documents]]; letter + SK alone are now incomplete, naming the KTP."""
    from mailbot.app import build_app
    from mailbot.config import load_settings
    from tests.support.bot import make_bot

    bot = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text(cfg.read_text() + '''
[[documents]]
name = "ktp"
label = "Fotokopi KTP"
filename_patterns = ["ktp"]
text_patterns = ["kartu tanda penduduk"]
''')
    bot.app = build_app(load_settings(cfg))
    bot.append(request_email(EMAIL, NAME, "Permohonan reset password", f"NIP. {NIP}",
                             [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                              ("SK.pdf", sample_sk(NAME, NIP))]))
    bot.poll()
    [inc] = bot.sent("incomplete")
    body = inc.message.get_body(("plain",)).get_content()
    assert "Fotokopi KTP" in body
    bot.append(request_email(EMAIL, NAME, "Re: " + inc.header("Subject"), "KTP terlampir",
                             [("ktp.png", make_png())], in_reply_to=inc.header("Message-ID")))
    bot.poll()
    assert the_case(bot).status == "AWAITING_REVIEW"


def test_incomplete_email_explains_unusable_files(any_bot: Bot) -> None:
    """Scenario: the SK arrives as a DOCX and an empty PDF; the incomplete email names the SK as missing
    and says, per file, why it could not be used."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    any_bot.append(request_email(EMAIL, NAME, "Permohonan informasi user ID", f"NIP. {NIP}",
                                 [("surat_permohonan.pdf", sample_request_letter(NAME, NIP, "user ID")),
                                  ("SK PPK.docx", buf.getvalue()), ("SK kosong.pdf", b"")]))
    any_bot.poll()
    assert the_case(any_bot).status == "AWAITING_DOCUMENTS"
    [inc] = any_bot.sent("incomplete")
    body = inc.message.get_body(("plain",)).get_content()
    assert "SK PPK.docx" in body and "PDF" in body
    assert "SK kosong.pdf" in body
    detail = case_detail(any_bot.app, the_case(any_bot).number)
    unusable = {d["filename"]: d["problem"] for d in detail["documents"] if not d["usable"]}
    assert set(unusable) == {"SK PPK.docx", "SK kosong.pdf"} and all(unusable.values())


# -- reminders after LENGKAPI, expiry of a case whose reply was capped ------------------------------
def test_reminder_is_sent_again_after_admin_asks_for_more_documents(any_bot: Bot) -> None:
    """Scenario: letter only → incomplete → reminder 1 → PPK sends the SK → admin LENGKAPI → two working
    days of silence → the PPK gets a reminder for the new request for documents."""
    name, nip, email_b = PPK_B[0], PPK_B[1], PPK_B[2]
    any_bot.append(request_email(email_b, name, "Permohonan reset password SPSE", f"Mohon reset. NIP. {nip}",
                                 [("surat_permohonan.pdf", sample_request_letter(name, nip))]))
    any_bot.poll(datetime(2026, 2, 2, 9, 0, tzinfo=WIB))  # Monday
    [incomplete] = any_bot.sent("incomplete")
    any_bot.poll(datetime(2026, 2, 5, 10, 0, tzinfo=WIB))  # Thursday: reminder 1
    assert len(any_bot.sent("reminder_documents")) == 1
    any_bot.append(request_email(email_b, name, "Re: " + incomplete.header("Subject"), "Terlampir SK.",
                                 [("SK Pengangkatan PPK.pdf", sample_sk(name, nip))],
                                 in_reply_to=incomplete.header("Message-ID")))
    any_bot.poll(datetime(2026, 2, 5, 10, 30, tzinfo=WIB))
    [review] = any_bot.sent("review_request")
    any_bot.append(reply_email(review, ADMIN, "Admin", "LENGKAPI SK yang telah ditandatangani"))
    any_bot.poll(datetime(2026, 2, 5, 10, 40, tzinfo=WIB))
    assert any_bot.all(Case)[0].status == "AWAITING_DOCUMENTS"
    any_bot.poll(datetime(2026, 2, 10, 10, 0, tzinfo=WIB))  # Tuesday: 2+ working days later
    assert len(any_bot.sent("reminder_documents")) == 2


def test_case_whose_incomplete_mail_was_capped_still_expires(any_bot: Bot) -> None:
    """Scenario: with a cap of 1 auto-reply a day, a second incomplete request the same day gets only the
    cap notice; weeks of silence later it must have expired like any other."""
    from dataclasses import replace

    limits = replace(any_bot.app.settings.limits, auto_replies_per_sender_per_day=1)
    any_bot.app.settings = replace(any_bot.app.settings, limits=limits)
    name, nip, email_b = PPK_B[0], PPK_B[1], PPK_B[2]
    for i in range(2):
        any_bot.append(request_email(email_b, name, f"Permohonan reset password {i}", f"NIP. {nip}",
                                     [("surat_permohonan.pdf", sample_request_letter(name, nip))]))
    any_bot.poll(datetime(2026, 2, 2, 9, 0, tzinfo=WIB))
    assert [c.status for c in any_bot.all(Case)] == ["AWAITING_DOCUMENTS"] * 2
    for day in (5, 9, 12, 16, 23):
        any_bot.poll(datetime(2026, 2, day, 10, 0, tzinfo=WIB))
    assert [c.status for c in any_bot.all(Case)] == ["EXPIRED", "EXPIRED"]
