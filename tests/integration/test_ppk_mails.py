"""Issue 14: the PPK always knows where the file stands — `complete`, `sent_to_registered`, `wrong_sender`
and the admin digest's cases waiting for documents — on real IMAP and SMTP."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mailbot.store.models import Case, Event, InboundMessage
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_A, PPK_B, reply_email, request_email
from tests.support.review import body, review_for

WIB = ZoneInfo("Asia/Jakarta")
NAME, NIP, EMAIL = PPK_B[0], PPK_B[1], PPK_B[2]
PRIVATE = "budi.pribadi@gmail.example"


def cases(bot: Bot) -> list[Case]:
    with bot.app.factory() as s:
        return list(s.scalars(select(Case).order_by(Case.id)))


def letter_only(now: datetime | None = None) -> bytes:
    return request_email(EMAIL, NAME, "Permohonan reset password SPSE", f"Dengan hormat, mohon reset password. NIP. {NIP}",
                         [("surat_permohonan.pdf", sample_request_letter(NAME, NIP))])


def contact_line(bot: Bot, text: str) -> None:
    office = bot.app.settings.office
    assert f"Kontak {office.name}" in text


def test_follow_up_that_completes_the_file_gets_the_complete_mail(any_bot: Bot) -> None:
    """Scenario: letter only → incomplete; the PPK's follow-up with the SK → one `complete` mail
    ("sedang diperiksa") to the PPK, no second ack, and the review starts."""
    any_bot.append(letter_only())
    any_bot.poll()
    [incomplete] = any_bot.sent("incomplete")
    assert '"Lupa Password"' in body(incomplete)  # a password request: SPSE's own self-service is named
    any_bot.append(request_email(EMAIL, NAME, "Re: " + incomplete.header("Subject"), "Terlampir SK.",
                                 [("SK Pengangkatan PPK.pdf", sample_sk(NAME, NIP))],
                                 in_reply_to=incomplete.header("Message-ID")))
    any_bot.poll()
    [case] = cases(any_bot)
    assert case.status == "AWAITING_REVIEW"
    [complete] = any_bot.sent("complete")
    assert complete.rcpt_tos == [EMAIL]
    assert complete.header("X-Mailbot-Template") == "complete"
    assert f"[{case.number}]" in complete.header("Subject") and "sedang diperiksa" in complete.header("Subject")
    assert "sedang diperiksa" in body(complete)
    contact_line(any_bot, body(complete))
    assert any_bot.sent("ack") == [] and len(any_bot.sent("review_request")) == 1


def test_request_from_a_private_address_credentials_to_the_registered_one_and_the_requester_told(
        any_bot: Bot) -> None:
    """Scenario: PPK A writes from a private address (registry matched by NIP); SETUJU → the credentials go
    to the registry address, and the private address gets `sent_to_registered` — without that address
    or the password."""
    name, nip, registered = PPK_A[0], PPK_A[1], PPK_A[2]
    any_bot.append(request_email(PRIVATE, name, "Permohonan reset password SPSE",
                                 f"Dengan hormat, mohon reset password. NIP. {nip}",
                                 [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                                  ("SK PPK.pdf", sample_sk(name, nip))]))
    any_bot.poll()
    [case] = cases(any_bot)
    assert case.status == "AWAITING_REVIEW"
    review = review_for(any_bot, case)
    assert "BUKAN alamat pengirim" in body(review)
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert creds.rcpt_tos == [registered]
    [notice] = any_bot.sent("sent_to_registered")
    assert notice.rcpt_tos == [PRIVATE]
    assert notice.header("X-Mailbot-Template") == "sent_to_registered"
    text = body(notice)
    assert "alamat email PPK yang terdaftar pada registri" in text
    contact_line(any_bot, text)
    with any_bot.app.factory() as s:
        password = s.get(Case, case.id).proposed_password  # erased once the credentials were accepted
    assert password is None
    assert registered not in notice.data.decode("utf-8", "replace")
    creds_text = body(creds)
    shown = next(line for line in creds_text.splitlines() if "Password sementara:" in line)
    secret = shown.split(":", 1)[1].strip()
    assert secret and secret not in notice.data.decode("utf-8", "replace")


def test_request_from_the_registered_address_gets_no_notice(any_bot: Bot) -> None:
    """Scenario: the registered address asks; SETUJU → credentials only, no `sent_to_registered`."""
    name, nip, registered = PPK_A[0], PPK_A[1], PPK_A[2]
    any_bot.append(request_email(registered, name, "Permohonan reset password SPSE", f"NIP. {nip}",
                                 [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                                  ("SK PPK.pdf", sample_sk(name, nip))]))
    any_bot.poll()
    [case] = cases(any_bot)
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    assert [m.rcpt_tos for m in any_bot.sent("credentials")] == [[registered]]
    assert any_bot.sent("sent_to_registered") == []


def test_reply_with_the_case_number_from_another_address_opens_no_case(any_bot: Bot) -> None:
    """Scenario: a stranger replies in the case's thread with an SK and some text → no new case, nothing
    added to the case, one short `wrong_sender` mail that relays nothing of theirs; past the daily cap
    they get the one limit notice and then nothing."""
    any_bot.append(letter_only())
    any_bot.poll()
    [incomplete] = any_bot.sent("incomplete")
    [case] = cases(any_bot)
    stranger = "orang.lain@example.org"
    cap = any_bot.app.settings.limits.auto_replies_per_sender_per_day
    words = "KLIK http://phish.example/login SEGERA"
    for i in range(cap + 2):
        any_bot.append(request_email(stranger, "Orang Lain", f"Re: [{case.number}] dokumen {i}", words,
                                     [("SK.pdf", sample_sk(NAME, NIP))],
                                     in_reply_to=incomplete.header("Message-ID") if i == 0 else None))
    any_bot.poll()
    with any_bot.app.factory() as s:
        [only] = s.scalars(select(Case)).all()
        assert only.id == case.id and only.status == "AWAITING_DOCUMENTS"
        assert len(only.documents) == 1  # the letter; the stranger's SK was not taken
    replies = any_bot.sent("wrong_sender")
    assert len(replies) == cap and all(m.rcpt_tos == [stranger] for m in replies)
    assert [m.rcpt_tos for m in any_bot.sent("auto_reply_limit")] == [[stranger]]
    mail = replies[0]
    assert mail.header("X-Mailbot-Template") == "wrong_sender"
    text = body(mail)
    assert "alamat email yang mengajukan permohonan" in text and case.number in text
    contact_line(any_bot, text)
    raw = mail.data.decode("utf-8", "replace")
    for kept in ("phish.example", "KLIK", EMAIL, NAME, "Orang Lain"):
        assert kept not in raw, kept
    with any_bot.app.factory() as s:
        rows = s.scalars(select(InboundMessage).where(InboundMessage.from_addr == stranger)).all()
        assert {r.kind for r in rows} == {"other_address"} and all(r.case_id is None for r in rows)
        told = s.scalars(select(Event).where(Event.kind == "reply_from_other_address")).all()
        assert len(told) == cap + 2 and all(e.case_id == case.id for e in told)
    assert any_bot.sent("incomplete") == [incomplete]  # the PPK is not bothered


def test_automatic_mail_with_the_case_number_from_another_address_is_not_answered(any_bot: Bot) -> None:
    """Scenario: an out-of-office reply quoting the case number from another address → no reply, no case."""
    any_bot.append(letter_only())
    any_bot.poll()
    [case] = cases(any_bot)
    any_bot.append(request_email("cuti@example.org", "Cuti", f"Otomatis: [{case.number}] dokumen", "Saya sedang cuti.",
                                 extra_headers={"Auto-Submitted": "auto-replied"}))
    any_bot.poll()
    assert any_bot.sent("wrong_sender") == [] and len(cases(any_bot)) == 1


def test_digest_lists_cases_waiting_for_documents_and_follow_ups_without_attachment(any_bot: Bot) -> None:
    """Scenario: Tuesday a letter-only request (AWAITING_DOCUMENTS) and the PPK's reply without any file;
    Wednesday 08:05 the digest lists the case under both headings (no case waits for review)."""
    tue = datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
    any_bot.append(letter_only())
    any_bot.poll(tue)
    [incomplete] = any_bot.sent("incomplete")
    [case] = cases(any_bot)
    any_bot.append(request_email(EMAIL, NAME, "Re: " + incomplete.header("Subject"), "SK menyusul, terima kasih.",
                                 in_reply_to=incomplete.header("Message-ID")))
    any_bot.poll(datetime(2026, 11, 24, 11, 0, tzinfo=WIB))
    assert cases(any_bot)[0].status == "AWAITING_DOCUMENTS"
    any_bot.poll(datetime(2026, 11, 25, 8, 5, tzinfo=WIB))
    [digest] = any_bot.sent("admin_digest")
    text = body(digest)
    docs = text.index("Permohonan yang menunggu kelengkapan dokumen dari PPK (1)")
    empty = text.index("BALASAN PPK TANPA LAMPIRAN (1)")
    assert case.number in text[docs:empty] and case.number in text[empty:]
    assert "Tidak ada permohonan yang menunggu." in text  # nothing waits for review
    any_bot.poll(datetime(2026, 11, 26, 8, 5, tzinfo=WIB))
    [_, second] = any_bot.sent("admin_digest")
    assert "TANPA LAMPIRAN" not in body(second)  # that follow-up was in the previous digest
    assert "menunggu kelengkapan dokumen dari PPK" in body(second)


def test_grouped_proposal_quoted_without_a_label_is_not_stored(any_bot: Bot) -> None:
    """Scenario: the admin's reply repeats the proposed password as the mail groups it ("Abc4 xYz7 Mn3p"),
    on a line without any password label → the stored reply holds neither form."""
    from tests.support.bot import submit

    review = submit(any_bot)
    text = body(review)
    line = next(x for x in text.splitlines() if "Password sementara yang diusulkan:" in x)
    whole = line.split(":", 1)[1].split()[0]
    grouped = " ".join(whole[i:i + 4] for i in range(0, len(whole), 4))
    assert f"(dibaca: {grouped})" in line
    any_bot.append(reply_email(review, ADMIN, "Admin", f"SETUJU\n\nsudah saya set di SPSE {grouped} ok"))
    any_bot.poll()
    assert len(any_bot.sent("credentials")) == 1
    with any_bot.app.factory() as s:
        blobs = [r.raw_blob for r in s.scalars(select(InboundMessage).where(InboundMessage.from_addr == ADMIN))]
    assert blobs
    for blob in blobs:
        stored = any_bot.app.store.get(blob).decode("utf-8", "replace")
        assert grouped not in stored and whole not in stored
