"""The only mail-parser user: raw bytes to a ParsedMail, with stdlib fallbacks for broken mail."""

from __future__ import annotations

import binascii
import email
import email.utils
import logging
import mimetypes
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from html.parser import HTMLParser
from io import BytesIO

import mailparser
from mailparser.exceptions import MailParserRecursionError

from mailbot.domain.errors import MailbotError
from mailbot.domain.mail import Attachment, DerivedText, ParsedMail
from mailbot.domain.text import (
    collapse,
    decode_bytes,
    decode_header_value,
    decode_words,
    fix_8bit,
    message_ids,
    normalize_message_id,
    sanitize_filename,
)

log = logging.getLogger(__name__)

__all__ = [
    "Attachment",
    "ParseError",
    "ParsedMail",
    "html_to_text",
    "normalize_message_id",
    "parse_message",
    "sanitize_filename",
]


class ParseError(MailbotError):
    """The bytes are not a usable RFC 822 message; str(e) is the reason."""


# --------------------------------------------------------------------------- text decoding


# --------------------------------------------------------------------------- public helpers


_BLOCK_TAGS = {"br", "p", "div", "li", "blockquote", "tr", "table", "ul", "ol", "h1", "h2",
               "h3", "h4", "h5", "h6", "hr", "pre", "section", "article", "header", "footer"}
_SKIP_TAGS = {"script", "style", "head", "title", "template"}


class _TextExtractor(HTMLParser):
    """Collects visible text; block tags become line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS and tag != "br":
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: scripts and styles dropped, block elements on their own lines."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        raw = "".join(parser.chunks)
    except Exception:  # html.parser is lenient, but this feeds an intake that must not crash
        raw = re.sub(r"<[^>]*>", " ", html)
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in raw.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- raw bytes -> message tree

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
# "From sender date" envelope line; "From  : x" (obsolete header syntax) is not one.
_MBOX_FROM = re.compile(rb"From [^\s:]")
_KNOWN_HEADERS = {"from", "sender", "to", "cc", "subject", "date", "message-id", "received",
                  "return-path", "mime-version", "content-type", "reply-to", "delivered-to",
                  "in-reply-to", "references", "x-mailer"}


_FOUR_VISIBLE = re.compile(rb"\s*\S\s*\S\s*\S\s*\S")  # len(data.strip()) >= 4, without a copy


def _prepare(raw: bytes, defects: list[str]) -> bytes:
    """Reject what is not RFC 822 at all; strip a BOM, leading blank lines and an mbox envelope."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseError(f"expected bytes, got {type(raw).__name__}")
    data = bytes(raw)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        defects.append("UTF-8 byte order mark stripped")
    if data.startswith(_OLE_MAGIC):
        raise ParseError("Outlook .msg file (OLE compound document), not an RFC 822 message")
    if data.startswith(_TNEF_MAGIC):
        raise ParseError("bare TNEF (winmail.dat) stream, not an RFC 822 message")
    stripped = data.lstrip(b"\r\n")
    if len(stripped) != len(data):
        defects.append("leading blank lines stripped")
        data = stripped
    if not _FOUR_VISIBLE.match(data):
        raise ParseError(f"empty or truncated message ({len(raw)} bytes)")
    if _MBOX_FROM.match(data):
        data = _first_mbox_message(data)
        defects.append("mbox 'From ' line stripped; first message parsed")
    return data


def _first_mbox_message(data: bytes) -> bytes:
    """The first message of an mbox: drop the envelope line, cut at the next 'From ' separator."""
    newline = data.find(b"\n")
    body = data[newline + 1:] if newline >= 0 else b""
    separator = re.search(rb"\r?\n\r?\nFrom [^\r\n]*\r?\n", body)
    return body[: separator.start() + 1] if separator else body


def _repair_header_block(data: bytes, limit: int, defects: list[str]) -> bytes:
    """Enforce the header size limit and fold obsolete "Name  :" syntax (RFC 5322 §4.5) to "Name:"."""
    end = _header_block_end(data, limit)
    block, repaired = re.subn(rb"(?m)^([!-9;-~]+)[ \t]+:", rb"\1:", data[:end])
    if not repaired:
        return data
    defects.append("whitespace before header colons removed (obsolete syntax)")
    return block + data[end:]


def _header_block_end(data: bytes, limit: int) -> int:
    """Offset where the top-level header block ends (as the parser will see it); raise above `limit`."""
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        line = data[pos:end]
        if not line.strip(b"\r\n") or not (line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line)):
            return pos
        pos = end
        if pos > limit:
            raise ParseError(f"header block larger than max_header_bytes={limit}")
    return pos


def _parse_tree(data: bytes, max_depth: int, defects: list[str]) -> tuple[Message, object | None]:
    """Message tree (compat32) plus the mail-parser object if it succeeded; falls back step by step."""
    try:
        parser = mailparser.MailParser.from_bytes(data)
        if parser.message is not None:
            return parser.message, parser
        defects.append("mail-parser returned no message; used stdlib email")
    except (RecursionError, MailParserRecursionError) as exc:
        raise ParseError(f"MIME nesting deeper than the parser handles (max_depth={max_depth})") from exc
    except Exception as exc:  # a library bug must not stop the intake: fall back
        log.info("mail-parser failed (%s: %s); falling back to stdlib email", type(exc).__name__, exc)
        defects.append(f"mail-parser failed ({type(exc).__name__}: {exc}); used stdlib email")
    try:
        return email.message_from_bytes(data, policy=compat32), None
    except RecursionError as exc:
        raise ParseError(f"MIME nesting deeper than the parser handles (max_depth={max_depth})") from exc
    except Exception as exc:
        log.warning("stdlib email failed (%s: %s); using a bare header/body split", type(exc).__name__, exc)
        defects.append(f"stdlib email failed ({type(exc).__name__}: {exc}); used a bare header/body split")
    return _bare_split(data), None


def _bare_split(data: bytes) -> Message:
    """Last resort: header lines up to the first blank line, the rest as one text body."""
    lines = re.split(rb"\r?\n", data)
    pairs: list[list[str]] = []
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is where the body starts, used below
        if not line.strip():
            break
        text = line.decode("ascii", "surrogateescape")
        if line[:1] in (b" ", b"\t") and pairs:
            pairs[-1][1] += " " + text.strip()
        elif _HEADER_LINE.match(line):
            name, _, value = text.partition(":")
            pairs.append([name.strip(), value.strip()])
    msg = Message()
    for name, value in pairs:
        msg[name] = value  # compat32 stores values as given, repeated names included
    msg.set_payload(b"\n".join(lines[index + 1:]).decode("ascii", "surrogateescape"))
    return msg


# --------------------------------------------------------------------------- large bodies set aside

# A large attachment is mostly one run of base64 lines. Parsing it through the stdlib costs ~8x its size
# (the message as str, one str per line, the joined payload, mail-parser's copy), so before parsing such
# runs are replaced by a one-line token and decoded later straight from the raw bytes: the parser sees a
# skeleton of a few KiB, and the decoded attachment is the only extra copy.
SPOOL_MIN_RUN = 256 * 1024  # bytes of consecutive base64-alphabet lines worth setting aside
# One character class, so the regex engine keeps no per-line backtracking state over a 25 MB run; at
# least 64 characters, so the words of a large text body are skipped inside the engine (a failed attempt
# costs at most 64 steps), not one by one in Python.
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/=\r\n]{64,}")
_B64_VALID = re.compile(rb"[A-Za-z0-9+/\r\n]*={0,2}")


@dataclass
class _Spool:
    """Runs of the raw message set aside before parsing: token -> (start, end) offsets in `data`."""

    data: bytes
    runs: dict[str, tuple[int, int]] = field(default_factory=dict)

    def text(self, token: str) -> str:
        start, end = self.runs[token]
        return self.data[start:end].decode("ascii")

    def decode(self, token: str) -> bytes:
        start, end = self.runs[token]
        return binascii.a2b_base64(memoryview(self.data)[start:end])  # ignores the line breaks

    def restore_text(self, value: str) -> str:
        for token in self.runs:
            if token in value:
                value = value.replace(token, self.text(token))
        return value

    def restore_tree(self, message: object) -> None:
        """Put the set-aside text back into every part of `message` (before it is re-serialised)."""
        if not isinstance(message, Message):
            return
        for part in message.walk():
            stored = getattr(part, "_payload", None)
            if isinstance(stored, str):
                restored = self.restore_text(stored)
                if restored is not stored:
                    part.set_payload(restored)


def _set_aside(data: bytes, min_run: int = SPOOL_MIN_RUN) -> tuple[bytes, _Spool | None]:
    """The message with every long, valid base64 run replaced by a token (kept in the returned _Spool).

    A run is whole lines of the base64 alphabet, from the start of its first line to the end of its last
    line's characters (the line break after it stays, so the parser sees the same structure); runs
    shorter than `min_run` bytes stay in place."""
    if len(data) < min_run:
        return data, None
    body = _header_block_end(data, len(data))
    spool = _Spool(data)
    view = memoryview(data)
    pieces: list[object] = [view[:body]]
    pos = body
    nonce = secrets.token_hex(8)
    for match in _B64_CHARS.finditer(data, body):
        start, end = match.span()
        if end - start < min_run:
            continue
        if start > 0 and data[start - 1:start] != b"\n":  # begins inside a line: skip to the next one
            start = data.find(b"\n", start, end) + 1
            if start == 0:
                continue
        if end < len(data) and data[end:end + 1] not in (b"\r", b"\n"):  # ends inside a line
            end = data.rfind(b"\n", start, end)
            if end < 0:
                continue
        while start < end and data[start] in b"\r\n":
            start += 1
        while end > start and data[end - 1] in b"\r\n":
            end -= 1
        if end - start < min_run or not _B64_VALID.fullmatch(data, start, end):
            continue
        if (end - start - data.count(b"\n", start, end) - data.count(b"\r", start, end)) % 4:
            continue  # not whole base64 quanta: let the parser see it as it is
        token = f"MailbotSetAside{nonce}N{len(spool.runs):05d}AAA"  # 40 characters: valid base64 itself
        spool.runs[token] = (start, end)
        pieces += [view[pos:start], token.encode("ascii")]
        pos = end
    if not spool.runs:
        return data, None
    pieces.append(view[pos:])
    return b"".join(pieces), spool  # type: ignore[arg-type]


# --------------------------------------------------------------------------- MIME walk

_ENCRYPTED_TYPES = {"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
_SIGNATURE_TYPES = {"application/pgp-signature", "application/pkcs7-signature",
                    "application/x-pkcs7-signature"}
_MESSAGE_TYPES = {"message/rfc822", "message/global"}
_FIXED_NAMES = {
    "application/ms-tnef": "winmail.dat",
    "application/vnd.ms-tnef": "winmail.dat",
    "message/delivery-status": "delivery-status.txt",
    "message/global-delivery-status": "delivery-status.txt",
    "text/rfc822-headers": "rfc822-headers.txt",
    "message/rfc822-headers": "rfc822-headers.txt",
    "message/global-headers": "rfc822-headers.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "message/feedback-report": "feedback-report.txt",
}
_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/jpg": ".jpg",
               "image/pjpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
               "text/plain": ".txt", "text/html": ".html", "application/zip": ".zip",
               "application/msword": ".doc"}


@dataclass
class _Walk:
    """What a MIME walk collects; one per parse_message call."""

    max_attachments: int
    max_depth: int
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    spool: _Spool | None = None

    def note(self, text: str) -> None:
        if text not in self.defects:
            self.defects.append(text)


def _walk(root: Message, walk: _Walk) -> None:
    """Visit parts depth-first in document order without recursion (deep trees must not overflow)."""
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, is_signature = stack.pop()
        if depth > walk.max_depth:
            raise ParseError(f"MIME nesting deeper than max_depth={walk.max_depth}")
        if not isinstance(part, Message):
            walk.note(f"non-MIME part of type {type(part).__name__} skipped")
            continue
        for defect in getattr(part, "defects", []) or []:
            walk.note(f"MIME defect: {type(defect).__name__}")
        ctype = _content_type(part)
        if ctype in _ENCRYPTED_TYPES:
            walk.note(f"encrypted: {ctype} content cannot be read; no attachments taken")
            continue
        if is_signature and ctype in _SIGNATURE_TYPES:
            walk.note("signed: signature part not verified and not kept")
            continue
        children = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(children, list):
            signed = ctype == "multipart/signed"
            stack.extend((child, depth + 1, signed and i > 0) for i, child in reversed(list(enumerate(children))))
            continue
        _visit_leaf(part, ctype, depth, walk)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _visit_leaf(part: Message, ctype: str, depth: int, walk: _Walk) -> None:
    """A leaf is either body text or an attachment."""
    filename = _part_filename(part, walk)
    disposition = _disposition(part)
    if ctype.startswith("multipart/"):
        walk.note(f"{ctype} without parsable parts read as text")
        ctype = "text/plain"
    if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
        text = decode_bytes(_leaf_bytes(part, walk), _charset(part), walk.defects, ctype)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        (walk.plain if ctype == "text/plain" else walk.html).append(text)
        return
    if len(walk.attachments) >= walk.max_attachments:
        raise ParseError(f"more than max_attachments={walk.max_attachments} attachments")
    if ctype in _MESSAGE_TYPES:
        filename = filename or _attached_subject(part)
        filename += "" if filename.lower().endswith(".eml") else ".eml"
    fallback = _FIXED_NAMES.get(ctype) or "lampiran" + (_EXTENSIONS.get(ctype)
                                                         or mimetypes.guess_extension(ctype) or ".bin")
    content_id = decode_header_value(part.get("content-id", "")) or None
    walk.attachments.append(Attachment(
        filename=sanitize_filename(filename or "", fallback),
        content_type=ctype,
        payload=_leaf_bytes(part, walk),
        content_id=content_id,
        inline=disposition == "inline" or (disposition is None and content_id is not None),
    ))


def _disposition(part: Message) -> str | None:
    try:
        value = part.get_content_disposition()
    except Exception:
        return None
    return value.lower() if isinstance(value, str) else None


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231-encoded parameter
        value = value[2]
    return fix_8bit(str(value)) if value else None


def _part_filename(part: Message, walk: _Walk) -> str | None:
    """Decoded filename from Content-Disposition filename= or Content-Type name= (RFC 2231 and 2047)."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        try:
            value = part.get_param(param, header=header)
        except Exception as exc:
            walk.note(f"unreadable {header} {param} parameter ({type(exc).__name__})")
            continue
        if isinstance(value, tuple):
            charset, _language, text = value
            raw = str(text).encode("raw-unicode-escape", "replace") if text else b""
            value = decode_bytes(raw, charset, walk.defects, "file name")
        if value:
            decoded = decode_header_value(email.utils.collapse_rfc2231_value(value))
            if decoded.strip():
                return decoded
    return None


def _leaf_bytes(part: Message, walk: _Walk) -> bytes:
    """Transfer-decoded content; message/* parts are re-serialised as a whole message."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822, message/delivery-status in compat32
        if walk.spool:
            for sub in payload:
                walk.spool.restore_tree(sub)
        return b"".join(_message_bytes(sub) for sub in payload if isinstance(sub, Message))
    stored = getattr(part, "_payload", None)  # as parsed: get_payload() may have charset-decoded it
    if walk.spool and isinstance(stored, str):
        token = stored.strip()
        if token in walk.spool.runs and str(part.get("content-transfer-encoding", "")).lower() == "base64":
            return walk.spool.decode(token)  # what get_payload(decode=True) gives for valid base64
        restored = walk.spool.restore_text(stored)
        if restored is not stored:
            part.set_payload(restored)
            payload = part.get_payload()
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        walk.note(f"transfer encoding not decodable ({type(exc).__name__}); raw content kept")
        data = None
    if isinstance(data, bytes):
        return data
    return str(payload or "").encode("utf-8", "surrogateescape")


def _message_bytes(msg: Message) -> bytes:
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=compat32).flatten(msg)
        return buffer.getvalue()
    except Exception:
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _attached_subject(part: Message) -> str:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    subject = decode_header_value(inner.get("subject", "")) if isinstance(inner, Message) else ""
    return collapse(subject)[:140] or "lampiran"


# --------------------------------------------------------------------------- headers

def _header_map(message: Message) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        key = fix_8bit(str(name)).strip().lower()
        headers.setdefault(key, []).append(decode_header_value(value))
    return headers


def _raw_first(message: Message, name: str) -> str | None:
    """First raw value of a header, with 8-bit bytes decoded (utf-8, else latin-1)."""
    for key, value in message.raw_items():
        if str(key).strip().lower() == name:
            return fix_8bit(str(value))
    return None


def _addresses(message: Message, parser: object | None, name: str) -> list[tuple[str, str]]:
    """(display name, lowercased address) pairs: mail-parser's reading, stdlib's when it finds none."""
    pairs: list[tuple[str, str]] = []
    raw = _raw_first(message, name)
    # mail-parser renders raw 8-bit bytes as literal "\\udcXX" text: read those headers ourselves.
    if parser is not None and raw is not None and raw.isascii():
        try:
            pairs = [(str(n), str(a)) for n, a in getattr(parser, name.replace("-", "_") + "_")]
        except Exception:
            pairs = []
    if not pairs and raw:
        try:
            unfolded = re.sub(r"\r?\n(?=[ \t])", "", raw)
            pairs = [(decode_words(n), a) for n, a in email.utils.getaddresses([unfolded])]
        except Exception:
            pairs = []
    out = []
    for n, a in pairs:
        addr = a.strip().strip("<>").lower()
        if addr and ("@" in addr or " " in addr) and not _ADDR_SHAPE.fullmatch(addr):
            # "Big Bug bb@bug.com" (no angle brackets) reads as junk: take the first address-shaped
            # token of the raw header instead, or nothing (the caller then ignores a sender-less mail).
            found = _ADDR_SHAPE.search((raw or "").lower())
            addr = found.group(0) if found else ""
        if addr:
            out.append((collapse(n), addr))
    return out


_ADDR_SHAPE = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")


def _return_path(message: Message) -> str | None:
    raw = _raw_first(message, "return-path")
    if raw is None:
        return None
    match = re.search(r"<([^<>]*)>", raw)
    address = match.group(1) if match else raw
    return "".join(address.split()).lower()


def _date(message: Message, parser: object | None, defects: list[str]) -> datetime | None:
    """Aware UTC date from mail-parser, else from the stdlib's RFC 5322 parser."""
    value = None
    if parser is not None:
        try:
            value = getattr(parser, "date")  # noqa: B009 - parser is typed object; its property may raise
        except Exception:
            value = None
    raw = _raw_first(message, "date")
    if not isinstance(value, datetime) and raw:
        try:
            value = email.utils.parsedate_to_datetime(collapse(raw))
        except Exception:
            value = None
    if not isinstance(value, datetime):
        if raw:
            defects.append(f"Date header not understood: {collapse(raw)[:80]!r}")
        return None
    # A naive value means "-0000" (zone unknown); UTC is the honest reading.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# --------------------------------------------------------------------------- entry point

def parse_message(raw: bytes, *, max_attachments: int = 50, max_depth: int = 10,
                  max_header_bytes: int = 256_000, spool_min_run: int = SPOOL_MIN_RUN) -> ParsedMail:
    """Parse raw RFC 822 bytes; raise ParseError for what is not a usable message or exceeds a limit.

    `spool_min_run`: base64 runs of at least this many bytes are set aside before parsing (see _set_aside)."""
    defects: list[str] = []
    data = _prepare(raw, defects)
    data = _repair_header_block(data, max_header_bytes, defects)
    skeleton, spool = _set_aside(data, spool_min_run)
    message, parser = _parse_tree(skeleton, max_depth, defects)
    del skeleton
    headers = _header_map(message)
    if not headers.keys() & _KNOWN_HEADERS:
        raise ParseError("no RFC 822 header (From, To, Subject, Date, Message-ID, ...) found")
    walk = _Walk(max_attachments=max_attachments, max_depth=max_depth, defects=defects, spool=spool)
    _walk(message, walk)
    return _assemble(message, parser, headers, walk)


def _assemble(message: Message, parser: object | None, headers: dict[str, list[str]],
              walk: _Walk) -> ParsedMail:
    sender = _addresses(message, parser, "from")
    html = "\n".join(walk.html) if walk.html else None
    text = "\n".join(walk.plain)
    if not text.strip() and html:  # HTML-only mail, or an empty text/plain alternative
        text = DerivedText(html_to_text(html))  # marked: an admin reply is then read from its HTML
    return ParsedMail(
        message_id=normalize_message_id(_raw_first(message, "message-id")),
        from_addr=sender[0][1] if sender else "",
        from_name=sender[0][0] if sender else "",
        to=[a for _, a in _addresses(message, parser, "to")],
        cc=[a for _, a in _addresses(message, parser, "cc")],
        reply_to=[a for _, a in _addresses(message, parser, "reply-to")],
        return_path=_return_path(message),
        subject=collapse((headers.get("subject") or [""])[0]),
        date=_date(message, parser, walk.defects),
        in_reply_to=message_ids(_raw_first(message, "in-reply-to")),
        references=message_ids(_raw_first(message, "references")),
        text=text,
        html=html,
        attachments=walk.attachments,
        headers=headers,
        content_type=_content_type(message),
        defects=walk.defects,
    )
