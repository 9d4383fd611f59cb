"""Builds outgoing MIME messages with the SPEC §4 headers and HMAC-tagged Message-IDs (pure)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from datetime import datetime

from mailbot.render import Rendered

AUTO_GENERATED = {"reminder_documents", "expired", "admin_digest", "review_request", "delivery_failure",
                  "quarantine_alert"}
_TAG_RE = re.compile(r"<mb\.([A-Z0-9-]+)\.([0-9a-f]{12})\.([0-9a-f]{16})@", re.I)
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_CTYPE_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def scrub(value: str) -> str:
    """Text that can be encoded: lone surrogates (undecodable bytes of a PPK's mail, kept by a
    surrogateescape decode upstream) become U+FFFD instead of crashing the MIME encoder."""
    return _SURROGATE_RE.sub("\ufffd", value)


# RFC 5322 msg-id made of atext and dots only: no whitespace, no "=?" encoded words, no quotes.
_MSGID_RE = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,250}@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\[\]:-]{1,250}>")


def safe_message_id(value: str | None) -> str | None:
    """A Message-ID from a stranger's mail, fit to be echoed in In-Reply-To/References, or None.

    Older Pythons decode RFC 2047 words inside these headers when folding, so "=?" is refused too."""
    value = (value or "").strip()
    if not _MSGID_RE.fullmatch(value) or "=?" in value:
        return None
    return value


def clean_header(value: str, limit: int = 300) -> str:
    """One line of printable text: control characters (CR/LF included) become spaces."""
    return " ".join(_CTRL_RE.sub(" ", scrub(value or "")).split())[:limit]


def _sig(secret: bytes, case: str, nonce: str) -> str:
    return hmac.new(secret, f"{case}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def make_message_id(secret: bytes, idempotency_key: str, case_number: str | None, domain: str) -> str:
    """A stable Message-ID for one outbox row; carries a signed case tag so replies thread back."""
    case = case_number or "NOCASE"
    nonce = hmac.new(secret, idempotency_key.encode(), hashlib.sha256).hexdigest()[:12]
    return f"<mb.{case}.{nonce}.{_sig(secret, case, nonce)}@{domain}>"


def case_from_message_ids(secret: bytes, message_ids: list[str]) -> str | None:
    """The case number of the first of our own signed, case-tagged Message-IDs among message_ids.

    Our IDs without a case (NOCASE) are skipped: a thread may hold one before the case's own ID."""
    for mid in message_ids:
        for m in _TAG_RE.finditer(mid or ""):
            if m.group(1) != "NOCASE" and hmac.compare_digest(
                    m.group(3).lower(), _sig(secret, m.group(1), m.group(2).lower())):
                return m.group(1)
    return None


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    template: str
    to: list[str]
    rendered: Rendered
    case_number: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[OutgoingAttachment] = field(default_factory=list)


def build_message(out: Outgoing, *, from_address: str, from_name: str, message_id: str,
                  date: datetime) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(clean_header(from_name, 120), addr_spec=from_address)
    msg["To"] = ", ".join(clean_header(a, 254) for a in out.to)
    subject = clean_header(out.rendered.subject, 250)
    if out.case_number and f"[{out.case_number}]" not in subject:
        subject = f"[{out.case_number}] {subject}"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    in_reply_to = safe_message_id(out.in_reply_to)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = [m for m in (safe_message_id(r) for r in out.references) if m]
    if refs:
        msg["References"] = " ".join(refs[-10:])
    msg["Auto-Submitted"] = "auto-generated" if out.template in AUTO_GENERATED else "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailbot-Template"] = out.template
    if out.case_number:
        msg["X-Mailbot-Case"] = out.case_number
    msg.set_content(scrub(out.rendered.text), subtype="plain", charset="utf-8")
    msg.add_alternative(scrub(out.rendered.html), subtype="html", charset="utf-8")
    for att in out.attachments:
        ctype = att.content_type.strip().lower()
        # It came from a stranger's mail: never into a header raw, and never a type that a mail client
        # would parse as further MIME structure.
        if not _CTYPE_RE.fullmatch(ctype) or ctype.startswith(("multipart/", "message/")):
            ctype = "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(att.data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream",
                           # "=?" could be read as an encoded word when the header is folded.
                           filename=clean_header(att.filename, 200).replace("=?", "=_") or "lampiran")
    return msg
