"""Issue 11 on real servers: files nobody can identify go to the admin, the admin decides a case waiting
for documents (email with the digest's code, CLI), a hardcopy case goes straight to review, and mail that
is no request makes no case but is listed for the admins, who can open one from it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mailbot.admin.views import case_detail
from mailbot.cli import main
from mailbot.store.models import Case, Event, InboundMessage
from tests.support.bot import Bot
from tests.support.documents import make_jpeg, make_pdf, sample_request_letter
from tests.support.mails import ADMIN, PPK_A, PPK_B, reply_email, request_email
from tests.support.review import body as raw_body
from tests.support.review import review_for

WIB = timezone(timedelta(hours=7))
A_NAME, A_NIP, A_EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]
B_NAME, B_NIP, B_EMAIL = PPK_B[0], PPK_B[1], PPK_B[2]
PHOTO = "IMG_20261201_0932.jpg"
SK_LABEL = "SK Pengangkatan sebagai PPK"


def body(mail) -> str:  # type: ignore[no-untyped-def]
    return raw_body(mail).replace("\r\n", "\n")


def cases(bot: Bot) -> list[Case]:
    return bot.all(Case)


def cli(bot: Bot, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUDO_USER", "petugas")  # the admin at the desk (a decision is never root's)
        rc = main(["--config", str(bot.workdir / "mailbot.toml"), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def events(bot: Bot, kind: str) -> list[Event]:
    with bot.app.factory() as s:
        return list(s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def letter_only(subject: str = "Permohonan informasi user ID SPSE") -> bytes:
    return request_email(B_EMAIL, B_NAME, subject, f"Dengan hormat, mohon informasi user ID. NIP. {B_NIP}",
                         [("surat_permohonan.pdf", sample_request_letter(B_NAME, B_NIP, "informasi user ID"))])


# -- 4. files nobody can identify ----------------------------------------------------------------------
def test_unidentified_photo_goes_to_review_and_lengkapi_asks_for_what_is_missing(any_bot: Bot) -> None:
    """Scenario: the letter and a phone photo of something unknown → review as a manual check, no
    `incomplete`; LENGKAPI → the PPK's `incomplete` names the SK as missing and each file received."""
    any_bot.append(request_email(B_EMAIL, B_NAME, "Permohonan informasi user ID", f"NIP. {B_NIP}",
                                 [("surat_permohonan.pdf", sample_request_letter(B_NAME, B_NIP, "user ID")),
                                  (PHOTO, make_jpeg())]))
    any_bot.poll()
    [case] = cases(any_bot)
    assert case.status == "AWAITING_REVIEW"
    assert any_bot.sent("incomplete") == []
    assert [m.rcpt_tos for m in any_bot.sent("ack")] == [[B_EMAIL]]
    assert "tidak perlu mengirim ulang" in body(any_bot.sent("ack")[0])
    review = review_for(any_bot, case)
    assert f"{PHOTO}: jenis dokumen tidak dapat ditentukan, perlu diperiksa manual" in body(review)
    assert f"dokumen yang belum dikenali: {SK_LABEL}" in body(review) and "telah lengkap" not in body(review)
    assert f"perlu diperiksa manual: {PHOTO}" in body(review)
    findings = {f["code"]: f for f in case_detail(any_bot.app, case.number)["findings"]}
    assert PHOTO in findings["unidentified"]["message"] and not findings["unidentified"]["ok"]

    any_bot.append(reply_email(review, ADMIN, "Admin", "LENGKAPI Foto tersebut bukan SK; mohon kirim SK"))
    any_bot.poll()
    assert cases(any_bot)[0].status == "AWAITING_DOCUMENTS"
    [incomplete] = any_bot.sent("incomplete")
    assert incomplete.rcpt_tos == [B_EMAIL]
    text = body(incomplete)
    missing = text.split("Dokumen yang belum kami terima:")[1].split("\n\n")[0]
    assert SK_LABEL in missing and "Surat permohonan" not in missing
    assert "surat_permohonan.pdf: Surat permohonan reset password / informasi user ID" in text
    assert f"{PHOTO}: tidak dikenali" in text
    assert "mohon kirim SK" in text


def test_incomplete_mail_names_no_file_to_an_unverified_sender(any_bot: Bot) -> None:
    """Scenario: a private address sends the letter and a broken DOCX: the `incomplete` mail counts the
    unusable file and names none of the files (a forged From must not get someone's words relayed)."""
    any_bot.append(request_email("budi.pribadi@gmail.example", A_NAME, "Permohonan reset password", f"NIP. {A_NIP}",
                                 [("surat_permohonan.pdf", sample_request_letter(A_NAME, A_NIP)),
                                  ("SK PPK.docx", b"PK\x03\x04 not really a docx")]))
    any_bot.poll()
    [incomplete] = any_bot.sent("incomplete")
    text = body(incomplete)
    assert "surat_permohonan.pdf" not in text and "SK PPK.docx" not in text
    assert "Sebanyak 1 berkas" in text and SK_LABEL in text


# -- 5. the admin decides a case waiting for documents -----------------------------------------------------
def test_digest_code_lets_the_admin_approve_a_case_waiting_for_documents(db_bot: Bot) -> None:
    """Scenario: a user-ID request lacks the SK; the next morning's digest lists it with a review code;
    the admin mails SETUJU with that code → credentials to the registered address, audited as the admin's."""
    db_bot.append(letter_only())
    db_bot.poll(datetime(2026, 12, 1, 10, 0, tzinfo=WIB))  # Tuesday
    [case] = cases(db_bot)
    assert case.status == "AWAITING_DOCUMENTS"
    db_bot.poll(datetime(2026, 12, 2, 8, 30, tzinfo=WIB))
    [digest] = db_bot.sent("admin_digest")
    text = body(digest)
    assert case.number in text and "menunggu kelengkapan dokumen" in text
    code = text.split("Kode tinjauan: ")[1].split()[0]
    assert code.startswith("RV-")
    assert [e.detail for e in events(db_bot, "review_codes_issued")][0].startswith("round 1")
    db_bot.poll(datetime(2026, 12, 2, 9, 0, tzinfo=WIB))  # later polls: no second digest, no new round
    assert len(db_bot.sent("admin_digest")) == 1 and len(events(db_bot, "review_codes_issued")) == 1

    db_bot.append(request_email(ADMIN, "Admin", f"Keputusan {code}", "SETUJU"))
    db_bot.poll(datetime(2026, 12, 2, 9, 10, tzinfo=WIB))
    assert cases(db_bot)[0].status == "COMPLETED"
    [credentials] = db_bot.sent("credentials")
    assert credentials.rcpt_tos == [B_EMAIL] and PPK_B[3] in body(credentials)
    assert [m.rcpt_tos for m in db_bot.sent("admin_confirmation")] == [[ADMIN]]
    [approve] = events(db_bot, "approve")
    assert (approve.actor, approve.from_status, approve.to_status) == (f"admin:{ADMIN}", "AWAITING_DOCUMENTS",
                                                                        "APPROVED")


def test_reply_to_a_digest_with_codes_of_several_cases_is_never_guessed(any_bot: Bot) -> None:
    """Scenario: two cases wait for documents; the admin answers the digest "SETUJU" quoting both codes →
    refused with admin_command_error, both cases unchanged."""
    any_bot.append(letter_only("Permohonan informasi user ID SPSE 1"))
    any_bot.append(letter_only("Permohonan informasi user ID SPSE 2"))
    any_bot.poll(datetime(2026, 12, 1, 10, 0, tzinfo=WIB))
    any_bot.poll(datetime(2026, 12, 2, 8, 30, tzinfo=WIB))
    [digest] = any_bot.sent("admin_digest")
    assert body(digest).count("Kode tinjauan: RV-") == 2
    any_bot.append(reply_email(digest, ADMIN, "Admin", "SETUJU"))
    any_bot.poll(datetime(2026, 12, 2, 9, 0, tzinfo=WIB))
    assert [c.status for c in cases(any_bot)] == ["AWAITING_DOCUMENTS"] * 2
    assert any_bot.sent("credentials") == []
    [error] = any_bot.sent("admin_command_error")
    assert "lebih dari satu permohonan" in body(error)


def test_cli_reject_applies_to_a_case_waiting_for_documents(any_bot: Bot,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot request-docs` twice, then `mailbot reject N --reason R` on a case waiting for
    documents → an `incomplete` mail each time, then REJECTED, the PPK gets the `rejected` mail with the
    reason, the decision is audited as cli:<user>."""
    any_bot.append(letter_only())
    any_bot.poll()
    [case] = cases(any_bot)
    for note in ("Mohon SK yang dilegalisir", "Mohon SK terbaru"):  # each LENGKAPI is its own mail
        rc, _out, err = cli(any_bot, capsys, "request-docs", case.number, "--note", note)
        assert rc == 0, err
        assert note in body(any_bot.sent("incomplete")[-1]) and SK_LABEL in body(any_bot.sent("incomplete")[-1])
    assert len(any_bot.sent("incomplete")) == 3 and cases(any_bot)[0].status == "AWAITING_DOCUMENTS"
    rc, out, err = cli(any_bot, capsys, "reject", case.number, "--reason", "Bukan PPK pada satker ini")
    assert rc == 0, err
    assert "REJECTED" in out
    assert cases(any_bot)[0].status == "REJECTED"
    [rejected] = any_bot.sent("rejected")
    assert rejected.rcpt_tos == [B_EMAIL] and "Bukan PPK pada satker ini" in body(rejected)
    [event] = events(any_bot, "reject")
    assert (event.actor, event.from_status) == ("cli:petugas", "AWAITING_DOCUMENTS")


def test_hardcopy_case_is_complete_by_the_admins_word(any_bot: Bot, capsys: pytest.CaptureFixture[str],
                                                      tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Scenario: a walk-in registered with one scanned file → AWAITING_REVIEW at once; no `incomplete`, and
    weeks later no reminder and no expiry."""
    scan = tmp_path / "scan0001.pdf"
    scan.write_bytes(sample_request_letter(A_NAME, A_NIP))
    rc, out, err = cli(any_bot, capsys, "case", "new", "--hardcopy", "--name", A_NAME, "--nip", A_NIP,
                       "--email", A_EMAIL, str(scan))
    assert rc == 0, err
    [case] = cases(any_bot)
    assert (case.number, case.status, case.channel) == (out.strip(), "AWAITING_REVIEW", "hardcopy")
    assert [m.rcpt_tos for m in any_bot.sent("review_request")] == [[ADMIN]]
    assert f"dokumen yang belum dikenali: {SK_LABEL}" in body(any_bot.sent("review_request")[0])
    assert any_bot.sent("incomplete") == []
    for day in (7, 10, 15, 22):
        any_bot.poll(datetime(2026, 12, day, 10, 0, tzinfo=WIB))
    assert cases(any_bot)[0].status == "AWAITING_REVIEW"
    assert any_bot.sent("reminder_documents") == [] and any_bot.sent("expired") == []


# -- 6. mail that is no request --------------------------------------------------------------------------
def vendor_offer() -> bytes:
    brochure = make_pdf(["PT Maju Jaya Komputer menawarkan laptop, printer dan jaringan untuk instansi",
                         "pemerintah dengan harga khusus. Hubungi tim pemasaran kami untuk katalog lengkap",
                         "dan demonstrasi produk di kantor Bapak/Ibu."], title="Katalog Produk 2027")
    return request_email("sales@majujaya.example", "PT Maju Jaya", "Penawaran kerja sama pengadaan laptop",
                         "Dengan hormat, bersama ini kami sampaikan penawaran produk kami. Terlampir katalog.",
                         [("Katalog Maju Jaya.pdf", brochure)])


def newsletter() -> bytes:
    return request_email("info@beritapengadaan.example", "Berita Pengadaan", "Info pengadaan pekan ini",
                         "Lima berita pengadaan barang dan jasa pekan ini. Selamat membaca.")


def test_vendor_offer_and_newsletter_make_no_case_and_get_no_mail(db_bot: Bot,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: a vendor offer with a PDF brochure and a newsletter from unknown senders → no case, no mail,
    moved like any other; both in `mailbot inbox --json` and in the next morning's digest; `inbox open ID`
    makes a case of one, audited with the admin's name."""
    db_bot.append(vendor_offer())
    db_bot.append(newsletter())
    db_bot.poll(datetime(2026, 12, 1, 10, 0, tzinfo=WIB))
    assert cases(db_bot) == [] and db_bot.smtp.messages == []
    rows = db_bot.all(InboundMessage)
    assert [(r.status, r.kind) for r in rows] == [("not_a_request", "not_a_request")] * 2
    assert all(r.raw_blob and db_bot.app.store.get(r.raw_blob) for r in rows)
    assert db_bot.uids("INBOX") == [] and len(db_bot.uids(db_bot.app.settings.imap.processed_folder)) == 2

    rc, out, err = cli(db_bot, capsys, "inbox", "--json")
    assert rc == 0, err
    listed = json.loads(out)
    assert [(r["id"], r["from_addr"], r["subject"]) for r in listed] == [
        (rows[0].id, "sales@majujaya.example", "Penawaran kerja sama pengadaan laptop"),
        (rows[1].id, "info@beritapengadaan.example", "Info pengadaan pekan ini")]
    assert all(r["received_at"] for r in listed)

    db_bot.poll(datetime(2026, 12, 2, 8, 30, tzinfo=WIB))
    digests = db_bot.sent("admin_digest")
    assert [m.rcpt_tos for m in digests] == [[ADMIN]]
    text = body(digests[0])
    assert "Penawaran kerja sama pengadaan laptop" in text and "Info pengadaan pekan ini" in text
    assert "mailbot inbox open" in text

    rc, out, err = cli(db_bot, capsys, "inbox", "open", str(rows[1].id))
    assert rc == 0, err
    [case] = cases(db_bot)
    assert out.strip() == case.number and case.sender == "info@beritapengadaan.example"
    assert case.status == "AWAITING_DOCUMENTS"
    [opened] = events(db_bot, "opened_from_inbox")
    assert opened.actor == "cli:petugas" and opened.case_id == case.id
    assert [e.actor for e in events(db_bot, "received")] == ["cli:petugas"]
    assert [m.rcpt_tos for m in db_bot.sent("incomplete")] == [["info@beritapengadaan.example"]]
    assert [r["id"] for r in json.loads(cli(db_bot, capsys, "inbox", "--json")[1])] == [rows[0].id]
    rc, _out, err = cli(db_bot, capsys, "inbox", "open", str(rows[1].id))
    assert rc == 1 and "not a message recorded as no request" in err


def test_registered_ppk_and_request_words_still_make_a_case(any_bot: Bot) -> None:
    """Scenario: a registered PPK writes without attachment or request words, and a stranger asks for a
    password reset without attachment → two cases, each asked for its documents."""
    any_bot.append(request_email(A_EMAIL, A_NAME, "Mohon bantuan", "Dengan hormat, mohon bantuannya."))
    any_bot.append(request_email("ppk.baru@gmail.example", "Andi", "Lupa password SPSE", "Mohon dibantu."))
    any_bot.poll()
    assert [(c.sender, c.status) for c in cases(any_bot)] == [(A_EMAIL, "AWAITING_DOCUMENTS"),
                                                             ("ppk.baru@gmail.example", "AWAITING_DOCUMENTS")]
    assert sorted(m.rcpt_tos[0] for m in any_bot.sent("incomplete")) == sorted([A_EMAIL, "ppk.baru@gmail.example"])
    assert all(r.status == "processed" for r in any_bot.all(InboundMessage))


def test_a_strangers_photo_without_request_words_is_the_admins_to_judge(any_bot: Bot) -> None:
    """Scenario: a private address sends only a phone photo, no request words: it may be an SK, so it
    makes a case that goes to the admin as a manual check (never `incomplete`, never dropped)."""
    any_bot.append(request_email("ppk.baru@gmail.example", "Andi", "Mohon bantuan", "Terlampir.",
                                 [(PHOTO, make_jpeg())]))
    any_bot.poll()
    [case] = cases(any_bot)
    assert case.status == "AWAITING_REVIEW" and any_bot.sent("incomplete") == []
    assert PHOTO in body(review_for(any_bot, case))
