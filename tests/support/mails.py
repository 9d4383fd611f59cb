"""The people of the demo office and the mails they send, as their mail clients would write them.

The PPKs, the admin and the bot's address are the demo's, and `request_email`/`reply_email` are the
demo's own builders (literally the same mails); the rest is what tests need on top."""

from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailbot.demo.servers import ReceivedMail
from mailbot.demo.world import ADMIN, BOT, PPK_A, PPK_B, reply_email, request_email
from tests.support.documents import sample_request_letter, sample_sk

ADMIN_B = "kepala.seksi@lpse-demo.go.id"  # a second Admin Agency address (the `two_admins` bot)

__all__ = ["ADMIN", "ADMIN_B", "BOT", "PPK_A", "PPK_B", "admin_reply", "big_request", "complete_request", "reply_email",
           "request_email"]


def complete_request(subject: str = "Permohonan reset password SPSE") -> bytes:
    """PPK A's request with both required documents (letter and SK)."""
    name, nip, address = PPK_A[0], PPK_A[1], PPK_A[2]
    return request_email(address, name, subject, f"Dengan hormat, mohon reset password. NIP. {nip}",
                         [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                          ("SK PPK.pdf", sample_sk(name, nip))])


def big_request(scan: bytes, body_extra: str = "") -> bytes:
    """PPK A's complete request with a third attachment, `scan` (e.g. documents.scan_pdf)."""
    name, nip, address = PPK_A[0], PPK_A[1], PPK_A[2]
    return request_email(address, name, "Permohonan reset password SPSE",
                         f"Dengan hormat, mohon reset password. NIP. {nip}{body_extra}",
                         [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                          ("SK PPK.pdf", sample_sk(name, nip)),
                          ("Scan lampiran.pdf", scan)])


def admin_reply(review: ReceivedMail, text: str, html: str | None = None) -> bytes:
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
