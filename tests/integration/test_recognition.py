"""What the SK says reaches the admin: real IMAP + SMTP + SQLite, text-layer PDFs (issue 11 point 3,
issue 14 point 2). The OCR route (scans, photos) is helper A's tests/integration/test_ocr_flow.py."""

from __future__ import annotations

from sqlalchemy import select

from mailbot.admin.views import case_detail
from mailbot.domain.findings import BLOCKING, FINE, severity
from mailbot.store.models import Case
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import PPK_A, PPK_B, request_email

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]


def findings_of(bot: Bot) -> dict[str, tuple[bool, str]]:
    with bot.app.factory() as s:
        number = s.scalars(select(Case.number)).one()
    return {f["code"]: (f["ok"], f["message"]) for f in case_detail(bot.app, number)["findings"]}


def review_text(bot: Bot) -> str:
    [mail, *_] = bot.sent("review_request")
    return str(mail.message.get_body(("plain",)).get_content())


def test_the_sk_contents_and_the_requester_among_its_appointees(any_bot: Bot) -> None:
    """PPK A's own SK: its number, date and TA, and "tercantum dalam SK" — all fine, from the text layer."""
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password SPSE", f"NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("dokumen.pdf", sample_sk(NAME, NIP))]))
    any_bot.poll()
    found = findings_of(any_bot)
    ok, message = found["sk_contents"]
    assert ok and message.startswith("SK dokumen.pdf: Nomor 900/45/KPTS/2026; ditetapkan tanggal 2 Januari 2026; "
                                      "Tahun Anggaran 2026; menetapkan")
    assert message.endswith("(dari lapisan teks)")
    assert found["sk_ppk"] == (True, f"PPK pemohon {NAME} (NIP {NIP}) tercantum dalam SK (dari lapisan teks)")
    assert "sk_other_ppk" not in found
    assert "Nomor 900/45/KPTS/2026" in review_text(any_bot)


def test_an_sk_appointing_another_registered_ppk_is_a_blocking_finding(any_bot: Bot) -> None:
    """PPK A sends their letter with PPK B's SK: the letter's NIP matches the registry (the old green
    tick), and now the SK naming PPK B, not PPK A, blocks — the admin sees it in the review mail."""
    other_name, other_nip = PPK_B[0], PPK_B[1]
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password SPSE", f"NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("SK PPK.pdf", sample_sk(other_name, other_nip))]))
    any_bot.poll()
    found = findings_of(any_bot)
    assert found["nip_registry"][0] is True
    ok, message = found["sk_other_ppk"]
    assert not ok and severity("sk_other_ppk", ok) == BLOCKING
    assert message == (f"SK menetapkan PPK terdaftar lain: {other_name} (NIP {other_nip}), bukan PPK pemohon "
                       f"{NAME} (NIP {NIP}) (dari lapisan teks)")
    assert severity("nip_registry", True) == FINE
    assert f"SK menetapkan PPK terdaftar lain: {other_name}" in review_text(any_bot)
    assert any_bot.sent("incomplete") == []
