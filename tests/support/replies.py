"""Admin replies as real mail clients write them: the fixtures in tests/fixtures/replies, re-addressed
to a review_request the bot really sent, and the headers a receiving MTA puts on top."""

from __future__ import annotations

import base64
import email
import quopri
import re
from email.header import Header, decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import make_msgid

from mailbot.cases.commands import REVIEW_CODE_RE
from mailbot.demo.servers import ReceivedMail
from tests.support.mails import ADMIN
from tests.support.paths import REPLIES

FIXTURE_CASE = "LPSE-BYS-2026-00042"  # the case number the fixtures were written for
AUTH_OK = "mx.lpse-demo.go.id; dkim=pass header.d=lpse-demo.go.id; dmarc=pass"


def code_of(review: ReceivedMail) -> str:
    """The review code in a review_request's subject."""
    m = REVIEW_CODE_RE.search(review.header("Subject"))
    assert m is not None
    return m.group(0)


def with_headers(raw: bytes, **headers: str) -> bytes:
    """Prepend headers as a receiving MTA would (Authentication-Results goes on top)."""
    lines = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items())
    return lines.encode() + raw


def _set_text(part: Message, text: str, charset: str) -> None:
    """Re-encode a text part under its own Content-Transfer-Encoding."""
    data = text.encode(charset)
    cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte == "base64":
        part.set_payload(base64.encodebytes(data).decode("ascii"))
    elif cte == "quoted-printable":
        part.set_payload(quopri.encodestring(data).decode("ascii"))
    else:
        part.set_payload(data.decode("ascii", "surrogateescape"))


def rewrite_fixture(name: str, review, sender: str = ADMIN, number: str | None = None,  # type: ignore[no-untyped-def]
                    code: str | None = None) -> bytes:
    """A real client's reply fixture, re-addressed to a review_request the bot really sent: case number,
    review code (subject and every text part, re-encoded in its own CTE), From, In-Reply-To/References."""
    number = number or re.search(r"\[([A-Z0-9-]+-\d{4}-\d{5})\]", review.header("Subject")).group(1)
    code = code or code_of(review)
    msg = email.message_from_bytes((REPLIES / name).read_bytes(), policy=compat32)

    def swap(text: str) -> str:
        return REVIEW_CODE_RE.sub(code, text.replace(FIXTURE_CASE, number))

    subject = swap(str(make_header(decode_header(msg["Subject"]))))
    for h in ("Subject", "From", "In-Reply-To", "References", "Message-ID", "Return-Path", "Authentication-Results"):
        del msg[h]
    msg["From"] = f"Admin Agency <{sender}>"
    msg["Subject"] = Header(subject, "utf-8").encode()
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["In-Reply-To"] = review.header("Message-ID")
    msg["References"] = review.header("Message-ID")
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        charset = part.get_content_charset() or "us-ascii"
        data = part.get_payload(decode=True)
        text = data.decode(charset, "surrogateescape")
        new = swap(text)
        if new != text:
            _set_text(part, new, charset)
    # Thread-Topic and the like carry the case number in plain ASCII.
    raw = msg.as_bytes(policy=compat32).replace(FIXTURE_CASE.encode(), number.encode())
    assert FIXTURE_CASE.encode() not in raw
    return raw
