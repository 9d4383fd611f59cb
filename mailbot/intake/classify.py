"""Automatic mail (bounces, auto-replies, lists), bounced Message-IDs, and the request type."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailbot.domain.mail import ParsedMail
from mailbot.domain.text import normalize_message_id

__all__ = ["automatic_reason", "bounced_message_ids", "carried_files", "detect_request_type", "is_bounce"]

_BOUNCE_LOCAL_PARTS = {"mailer-daemon", "postmaster", "post_master", "mailerdaemon", "mail-daemon"}

# Subjects of delivery failures from common MTAs and webmails (English and Indonesian). Anchored
# at the start: a person may well write "my mail was not delivered" further into a subject.
_BOUNCE_SUBJECT = re.compile(
    r"^(?:warning:\s*)?(?:undeliver(?:ed|able)|returned mail|delivery status notification"
    r"|failure notice|(?:mail )?delivery fail|non[- ]?delivery|delayed mail|message not delivered"
    r"|could not send message|mail system error|pemberitahuan status pengiriman"
    r"|tidak (?:dapat|bisa) dikirim:)",
    re.IGNORECASE,
)
_AUTO_SUBJECT_PREFIX = re.compile(
    r"^(?:automatic reply|auto(?:matic)?[- ]?reply|autoreply|auto[- ]?response|auto:"
    r"|balasan otomatis|jawaban otomatis|abwesenheitsnotiz|réponse automatique"
    r"|respuesta automática|out of (?:the )?office\s*:)",
    re.IGNORECASE,
)
_AUTO_SUBJECT_ANYWHERE = re.compile(r"out of (?:the )?office|sedang cuti|di luar kantor", re.IGNORECASE)
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?([\w-]+)", re.IGNORECASE)


def automatic_reason(mail: ParsedMail, own_addresses: Iterable[str], own_domain: str) -> str | None:
    """Why this mail is automatic and must get no reply and no case, or None for a human mail."""
    return (_strong_bounce_reason(mail) or _auto_reply_reason(mail) or _weak_bounce_reason(mail)
            or _list_reason(mail) or _own_mail_reason(mail, own_addresses, own_domain))


def is_bounce(mail: ParsedMail) -> bool:
    """True for a delivery failure report (DSN or MTA bounce), not for read receipts or vacation replies."""
    if _strong_bounce_reason(mail):
        return True
    return _auto_reply_reason(mail) is None and _weak_bounce_reason(mail) is not None


def _strong_bounce_reason(mail: ParsedMail) -> str | None:
    """Signals only delivery failures carry; checked before auto-reply headers, which bounces often carry too."""
    if mail.content_type == "multipart/report":
        report_type = _report_type(mail)
        if report_type in ("", "delivery-status", "global-delivery-status"):
            return f"bounce: Content-Type multipart/report (report-type={report_type or 'missing'})"
    local_part = mail.from_addr.split("@", 1)[0]
    if local_part in _BOUNCE_LOCAL_PARTS:
        return f"bounce: From is {local_part}"
    if mail.header("x-failed-recipients"):
        return "bounce: X-Failed-Recipients header"
    if _BOUNCE_SUBJECT.search(mail.subject) and not _AUTO_SUBJECT_PREFIX.match(mail.subject):
        return f"bounce: Subject {mail.subject[:60]!r}"
    return None


def _weak_bounce_reason(mail: ParsedMail) -> str | None:
    # RFC 3834 asks auto-responders to send from the null sender too, so an empty
    # Return-Path alone only means "bounce" once the auto-reply rules did not match.
    if mail.return_path == "":
        return "bounce: empty Return-Path (<>)"
    return None


def _report_type(mail: ParsedMail) -> str:
    match = _REPORT_TYPE.search(mail.header("content-type") or "")
    return match.group(1).lower() if match else ""


def _auto_reply_reason(mail: ParsedMail) -> str | None:
    auto_submitted = (mail.header("auto-submitted") or "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-reply: Auto-Submitted {auto_submitted}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress",
                 "x-ms-exchange-inbox-rules-loop"):
        if mail.header(name) is not None:
            return f"auto-reply: {_title(name)} header"
    precedence = (mail.header("precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"auto-reply: Precedence {precedence}"
    if mail.content_type == "multipart/report":  # read receipts (MDN), abuse reports (ARF)
        return f"auto-reply: multipart/report (report-type={_report_type(mail) or 'missing'})"
    # A client's auto-reply prefix ("Auto reply:", "Balasan otomatis:") at the start of the subject is
    # one on its own; words anywhere are not: a PPK writes "… - PPK sedang dinas di luar kantor" too.
    # They count only with a header signal of an automatic sender, the null Return-Path (RFC 3834 §3.3).
    if _AUTO_SUBJECT_PREFIX.match(mail.subject):
        return f"auto-reply: Subject {mail.subject[:60]!r}"
    if _AUTO_SUBJECT_ANYWHERE.search(mail.subject) and mail.return_path == "":
        return f"auto-reply: Subject {mail.subject[:60]!r} from the null sender"
    return None


def carried_files(mail: ParsedMail) -> list[str]:
    """Names of the files a person attached (not embedded messages, DSN parts or inline images)."""
    return [a.filename or "(tanpa nama)" for a in mail.attachments
            if not a.inline and not a.content_type.startswith("message/")
            and a.content_type not in _EMBEDDED_HEADER_TYPES]


def _list_reason(mail: ParsedMail) -> str | None:
    for name in ("list-id", "list-unsubscribe"):
        if mail.header(name) is not None:
            return f"list: {_title(name)} header"
    return None


def _own_mail_reason(mail: ParsedMail, own_addresses: Iterable[str], own_domain: str) -> str | None:
    own = {address.strip().lower() for address in own_addresses if address.strip()}
    if mail.from_addr and mail.from_addr in own:
        return f"own mail: From is own address {mail.from_addr}"
    domain = (mail.message_id or "").rstrip(">").rpartition("@")[2].lower()
    if own_domain and domain and domain == own_domain.strip().lower():
        return f"own mail: Message-ID domain is {domain}"
    return None


def _title(header_name: str) -> str:
    return "-".join(word.capitalize() for word in header_name.split("-"))


# --------------------------------------------------------------------------- bounced message-ids

_EMBEDDED_HEADER_TYPES = {"message/rfc822", "message/global", "text/rfc822-headers",
                          "message/rfc822-headers", "message/global-headers"}
_MESSAGE_ID_FIELD = re.compile(r"^message-id:[ \t]*((?:.*)(?:\r?\n[ \t]+.*)*)", re.IGNORECASE | re.MULTILINE)
# In a body the original headers are often indented or quoted ("> Message-ID: <…>").
_MESSAGE_ID_LINE = re.compile(r"^[ \t>|]*message-id:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def bounced_message_ids(mail: ParsedMail) -> list[str]:
    """Message-IDs of the original mail inside a DSN or bounce, normalised, in order of appearance."""
    found: list[str] = []
    for attachment in mail.attachments:
        if attachment.content_type in _EMBEDDED_HEADER_TYPES:
            text = attachment.payload.decode("utf-8", "replace")
            block = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]  # the original's header block only
            found += [m for m in map(normalize_message_id, _MESSAGE_ID_FIELD.findall(block)) if m]
    found += [m for m in map(normalize_message_id, _MESSAGE_ID_LINE.findall(mail.text)) if m]
    unique: list[str] = []
    for message_id in found:
        if message_id and message_id != mail.message_id and message_id not in unique:
            unique.append(message_id)
    return unique


# --------------------------------------------------------------------------- request type

_PASSWORD = r"(?:pass\s?-?word|pasword|passwd|kata\s*sandi|sandi)"
_RESET_PATTERNS = (
    r"reset",  # also "direset", "mereset", "me-reset"
    rf"\blupa\s+(?:{_PASSWORD})",
    rf"\b(?:ganti|penggantian|pergantian|perubahan|ubah|merubah|mengubah|mengganti|change)\s+(?:{_PASSWORD})",
    rf"(?:{_PASSWORD})\s+baru",
    r"\bforgot(?:ten)?\s+(?:my\s+)?pass\s?word",
    r"\batur\s+ulang",
)
_USER_ID_PATTERNS = (
    r"\buser\s*[-_]?\s*id\b",  # "user id", "userid", "user-id", "user_id"
    r"\bnama\s+pengguna\b",
    r"\buser\s*name\b",
    r"\blupa\s+user\b",
    r"\bid\s+pengguna\b",
)


def detect_request_type(subject: str, body: str) -> str:
    """"reset_password", "user_id_info", "both" (phrases of each in subject or body) or "unknown"."""
    lowered = f"{subject or ''}\n{body or ''}".lower()
    reset = any(re.search(pattern, lowered) for pattern in _RESET_PATTERNS)
    user_id = any(re.search(pattern, lowered) for pattern in _USER_ID_PATTERNS)
    if reset and user_id:
        return "both"
    return "reset_password" if reset else "user_id_info" if user_id else "unknown"
