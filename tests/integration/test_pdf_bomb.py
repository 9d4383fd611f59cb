"""A PDF that costs too much to read is a finding for the admin, never a stuck poll — on real IMAP and SMTP."""

from __future__ import annotations

import dataclasses
import time

from mailbot.domain.states import CaseStatus
from mailbot.store.models import Case, Document
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import PPK_A, PPK_B, request_email
from tests.support.pdfbomb import pdf_bomb

SECONDS = 2  # the test's [limits] pdf_seconds (the default is 20 s)


def test_a_bomb_as_sk_is_a_manual_check_and_the_next_request_goes_on(any_bot: Bot) -> None:
    settings = any_bot.app.settings  # the office's [limits] pdf_seconds = SECONDS
    any_bot.app.settings = dataclasses.replace(settings, limits=dataclasses.replace(settings.limits,
                                                                                    pdf_seconds=SECONDS))
    name_a, nip_a, email_a = PPK_A[0], PPK_A[1], PPK_A[2]
    name_b, nip_b, email_b = PPK_B[0], PPK_B[1], PPK_B[2]
    bomb = pdf_bomb(3.0)  # ≈ 15 s of pypdf unlimited
    any_bot.append(request_email(email_a, name_a, "Permohonan reset password SPSE",
                                 f"Dengan hormat, mohon reset password. NIP. {nip_a}",
                                 [("Surat Permohonan.pdf", sample_request_letter(name_a, nip_a)),
                                  ("SK PPK.pdf", bomb)]))
    any_bot.append(request_email(email_b, name_b, "Permohonan reset password SPSE",
                                 f"Dengan hormat, mohon reset password. NIP. {nip_b}",
                                 [("Surat Permohonan.pdf", sample_request_letter(name_b, nip_b)),
                                  ("SK PPK.pdf", sample_sk(name_b, nip_b))]))
    t0 = time.monotonic()
    result = any_bot.poll()
    elapsed = time.monotonic() - t0
    assert elapsed < SECONDS + 10, elapsed
    assert result.processed == 2 and result.quarantined == 0

    docs = {(d.case_id, d.filename): d for d in any_bot.all(Document)}
    cases = any_bot.all(Case)
    assert [c.sender for c in cases] == [email_a, email_b]
    assert all(c.status == CaseStatus.AWAITING_REVIEW for c in cases)  # the SK (by its name) is there
    sk_a = docs[(cases[0].id, "SK PPK.pdf")]
    assert sk_a.usable and sk_a.needs_manual_check and sk_a.text == ""
    assert sk_a.problem is not None and "perlu diperiksa manual" in sk_a.problem and "batas waktu" in sk_a.problem
    assert sk_a.kinds == ["sk_pengangkatan"]
    letter_a = docs[(cases[0].id, "Surat Permohonan.pdf")]
    assert letter_a.usable and not letter_a.needs_manual_check and nip_a in letter_a.text.replace(" ", "")
    for filename in ("Surat Permohonan.pdf", "SK PPK.pdf"):  # the second request: as if there were no bomb
        doc = docs[(cases[1].id, filename)]
        assert doc.usable and not doc.needs_manual_check and doc.problem is None and doc.text
    assert sorted(m.rcpt_tos[0] for m in any_bot.sent("ack")) == sorted([email_a, email_b])
    assert len(any_bot.sent("review_request")) == 2 * len(any_bot.app.settings.admins.emails)
