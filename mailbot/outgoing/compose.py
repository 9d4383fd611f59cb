"""MIME building with the SPEC §4 headers and stable, HMAC-tagged Message-IDs."""

from __future__ import annotations

import binascii
import email
import hashlib
import hmac
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from email.contentmanager import _encode_text  # type: ignore[attr-defined]  # the stdlib's choice of encoding
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from mailbot.outgoing.render import Rendered

AUTO_GENERATED = {"reminder_documents", "expired", "admin_digest", "review_request", "delivery_failure",
                  "quarantine_alert", "registry_changed"}
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
    """The outgoing mail as an EmailMessage (the bytes of build_raw, parsed back)."""
    _, raw = build_raw(out, from_address=from_address, from_name=from_name, message_id=message_id, date=date)
    return email.message_from_bytes(raw, _class=EmailMessage, policy=SMTP)  # type: ignore[return-value]


# -- fast path -------------------------------------------------------------------------------------
# The stdlib's modern API parses every header into an object and refolds it (≈ 2–4 ms a message).
# Headers that are short printable ASCII are written as they are (which is what that API writes for
# them); anything else goes through the same header objects as before, so encoding and folding of
# non-ASCII or long values is unchanged. Messages with attachment names outside a plain ASCII set are
# built entirely by the modern API.
_MAXLEN: int = SMTP.max_line_length or 78  # 78
_PLAIN_TEXT_RE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")
_PLAIN_ADDR_RE = re.compile(r"[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_PLAIN_FILENAME_RE = re.compile(r"[A-Za-z0-9._-]+(?: [A-Za-z0-9._-]+)*")
_NL_RE = re.compile(r"\r\n|\r|\n")
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))


def _header(name: str, value: str) -> tuple[str, bytes]:
    """(decoded value, folded header line) as the modern email API would write it with the SMTP policy."""
    if (len(name) + 2 + len(value) <= _MAXLEN and "=?" not in value and value.isascii()
            and _PLAIN_TEXT_RE.fullmatch(value)):
        return value, f"{name}: {value}\r\n".encode("ascii")
    h = SMTP.header_factory(name, value)
    return str(h), h.fold(policy=SMTP).encode("ascii", "surrogateescape")


def _from_header(from_name: str, from_address: str) -> bytes:
    name = clean_header(from_name, 120)
    if (_PLAIN_NAME_RE.fullmatch(name) and _PLAIN_ADDR_RE.fullmatch(from_address)
            and len(name) + len(from_address) + 9 <= _MAXLEN):
        return f"From: {name} <{from_address}>\r\n".encode("ascii")
    return SMTP.header_factory("From", Address(name, addr_spec=from_address)).fold(policy=SMTP).encode(
        "ascii", "surrogateescape")


def _to_header(to: list[str]) -> bytes:
    addrs = [clean_header(a, 254) for a in to]
    value = ", ".join(addrs)
    if all(_PLAIN_ADDR_RE.fullmatch(a) for a in addrs) and len(value) + 4 <= _MAXLEN:
        return f"To: {value}\r\n".encode("ascii")
    return SMTP.header_factory("To", value).fold(policy=SMTP).encode("ascii", "surrogateescape")


def _lines(payload: str) -> bytes:
    """A payload with CRLF line ends, as the generator writes it (8-bit text kept via surrogateescape)."""
    return _NL_RE.sub("\r\n", payload).encode("ascii", "surrogateescape")


def _boundary(parts: list[bytes]) -> bytes:
    while True:
        b = ("=" * 15 + "%0*d" % (_BOUNDARY_WIDTH, random.randrange(sys.maxsize)) + "==").encode("ascii")
        if not any(b"--" + b in p for p in parts):
            return b


def _multipart(subtype: str, parts: list[bytes]) -> tuple[bytes, list[bytes]]:
    """(Content-Type header line, body pieces) of a multipart made of already serialised parts; the
    pieces are joined once by the caller, so a large attachment is not copied at every level."""
    boundary = _boundary(parts)
    line = b"Content-Type: multipart/" + subtype.encode() + b"; boundary=\"" + boundary + b"\""
    if len(line) > _MAXLEN:
        line = b"Content-Type: multipart/" + subtype.encode() + b";\r\n boundary=\"" + boundary + b"\""
    sep = b"--" + boundary
    body = [sep + b"\r\n"]
    for i, part in enumerate(parts):
        if i:
            body.append(b"\r\n" + sep + b"\r\n")
        body.append(part)
    body.append(b"\r\n" + sep + b"--\r\n")
    return line + b"\r\n", body


def _text_part(text: str, subtype: str, mime_version: bool) -> bytes:
    cte, payload = _encode_text(scrub(text), "utf-8", None, SMTP)
    head = (f"Content-Type: text/{subtype}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: {cte}\r\n"
            + ("MIME-Version: 1.0\r\n" if mime_version else ""))
    return head.encode("ascii") + b"\r\n" + _lines(payload)


def _base64_lines(data: bytes, prefix: bytes = b"") -> bytearray:
    """`prefix`, then base64 in lines of 76 characters + CRLF, written into one buffer (no list of line
    objects, no second copy of a large attachment)."""
    step = _MAXLEN // 4 * 3  # 57 bytes -> 76 characters
    lines = -(-len(data) // step)
    out = bytearray(len(prefix) + 4 * -(-len(data) // 3) + 2 * lines)
    out[:len(prefix)] = prefix
    view, pos = memoryview(data), len(prefix)
    for i in range(0, len(data), step):
        line = binascii.b2a_base64(view[i:i + step], newline=False)
        out[pos:pos + len(line)] = line
        pos += len(line)
        out[pos:pos + 2] = b"\r\n"
        pos += 2
    return out


def _attachment_ctype(att: OutgoingAttachment) -> str:
    ctype = att.content_type.strip().lower()
    # It came from a stranger's mail: never into a header raw, and never a type that a mail client
    # would parse as further MIME structure.
    if not _CTYPE_RE.fullmatch(ctype) or ctype.startswith(("multipart/", "message/")):
        ctype = "application/octet-stream"
    return ctype


def _attachment_filename(att: OutgoingAttachment) -> str:
    # "=?" could be read as an encoded word when the header is folded.
    return clean_header(att.filename, 200).replace("=?", "=_") or "lampiran"


def _attachment_part(att: OutgoingAttachment) -> bytes | None:
    """The serialised part, or None when its headers need the modern API's encoding or folding."""
    ctype, filename = _attachment_ctype(att), _attachment_filename(att)
    maintype, _, subtype = ctype.partition("/")
    if not maintype or not subtype or len(ctype) + 14 > _MAXLEN or maintype == "text":
        return None
    disposition = f'Content-Disposition: attachment; filename="{filename}"'
    if not _PLAIN_FILENAME_RE.fullmatch(filename) or len(disposition) > _MAXLEN:
        return None
    head = (f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n{disposition}\r\n"
            "MIME-Version: 1.0\r\n\r\n")
    return _base64_lines(att.data, head.encode("ascii"))  # type: ignore[return-value]


def build_raw(out: Outgoing, *, from_address: str, from_name: str, message_id: str,
              date: datetime) -> tuple[str, bytes]:
    """(Subject, wire bytes) of the outgoing mail: the same headers, encodings and structure as
    `_build_message_modern(...).as_bytes(policy=SMTP)`, several times faster."""
    att_parts = [_attachment_part(a) for a in out.attachments]
    if any(p is None for p in att_parts):
        msg = _build_message_modern(out, from_address=from_address, from_name=from_name,
                                    message_id=message_id, date=date)
        return str(msg["Subject"]), msg.as_bytes(policy=SMTP)
    subject = clean_header(out.rendered.subject, 250)
    if out.case_number and f"[{out.case_number}]" not in subject:
        subject = f"[{out.case_number}] {subject}"
    subject, subject_line = _header("Subject", subject)
    head = [_from_header(from_name, from_address), _to_header(out.to), subject_line,
            _header("Date", format_datetime(date))[1], _header("Message-ID", message_id)[1]]
    in_reply_to = safe_message_id(out.in_reply_to)
    if in_reply_to:
        head.append(_header("In-Reply-To", in_reply_to)[1])
    refs = [m for m in (safe_message_id(r) for r in out.references) if m]
    if refs:
        head.append(_header("References", " ".join(refs[-10:]))[1])
    head.append(_header("Auto-Submitted", "auto-generated" if out.template in AUTO_GENERATED
                        else "auto-replied")[1])
    head.append(b"X-Auto-Response-Suppress: All\r\n")
    head.append(_header("X-Mailbot-Template", out.template)[1])
    if out.case_number:
        head.append(_header("X-Mailbot-Case", out.case_number)[1])
    head.append(b"MIME-Version: 1.0\r\n")
    ctype, body = _multipart("alternative", [_text_part(out.rendered.text, "plain", False),
                                             _text_part(out.rendered.html, "html", True)])
    if att_parts:
        ctype, body = _multipart("mixed", [ctype + b"\r\n" + b"".join(body), *att_parts])  # type: ignore[list-item]
    head.append(ctype)
    return subject, b"".join([*head, b"\r\n", *body])


def _build_message_modern(out: Outgoing, *, from_address: str, from_name: str, message_id: str,
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


_KEEP_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to", b"references",
                 b"x-mailbot-template", b"x-mailbot-case", b"auto-submitted")
_HEADER_RE = re.compile(rb"^([!-9;-~]+):[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n", re.M)


def headers_only(raw: bytes, note: str) -> bytes:
    """The identifying headers of a mail we generated, with its body (and attachments) replaced by `note`.

    Works on the bytes we generated ourselves (CRLF, folded headers), so no MIME parsing is needed."""
    end = raw.find(b"\r\n\r\n")
    head = (raw[:end] if end >= 0 else raw) + b"\r\n"  # no copy of the (possibly large) body
    kept = b"".join(m.group(0) for m in _HEADER_RE.finditer(head) if m.group(1).lower() in _KEEP_HEADERS)
    body = note.replace("\n", "\r\n").encode("utf-8")
    return (kept + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
