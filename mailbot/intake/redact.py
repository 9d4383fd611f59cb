"""Passwords never reach the disk: Password lines, quoted proposals and issued passwords are cut from the raw mail."""

from __future__ import annotations

import base64
import email
import quopri
import re
from collections.abc import Callable, Sequence
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses
from io import BytesIO

from mailbot.cases.commands import parse_command
from mailbot.domain.mail import ParsedMail
from mailbot.domain.redaction import _redact_html, _redact_values, redact_digests, redact_secrets

_FROM_RE = re.compile(rb"^from[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.I | re.M)
_ADDRESS_RE = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")


MAX_PASSWORD = 128


def _from_address(raw: bytes) -> str:
    """The From address, exactly as the header gives it (lowercased), or ""."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    m = _FROM_RE.search(head)
    if not m:
        return ""
    value = re.sub(r"\r?\n[ \t]", " ", m.group(1).decode("latin-1"))
    addresses = [a for _, a in getaddresses([value]) if "@" in a]
    return addresses[0].strip().lower() if len(addresses) == 1 else ""


def maybe_admin(mail: ParsedMail | None, raw: bytes, admins: Sequence[str]) -> bool:
    """True when routing could take this mail for an admin's: routing's own From (the same parse), any
    address of any From field, or the raw From line names an admin. A mail that does not parse is
    quarantined with its bytes kept: it counts as an admin's, so its Password lines are cut too."""
    wanted = {a.lower() for a in admins}
    if mail is None:
        return True
    fields = " ".join(mail.headers.get("from", [])).lower()
    candidates = {mail.from_addr, _from_address(raw), *_ADDRESS_RE.findall(fields)}
    candidates |= {a.strip().lower() for _, a in getaddresses(mail.headers.get("from", []))}
    return bool(candidates & wanted) or any(a in fields for a in wanted)


def typed_password(mail: ParsedMail | None) -> str | None:
    """The value of the admin's Password: line, read as the decision will read it."""
    if mail is None:
        return None
    return parse_command(mail.text or "", mail.html).password


def _redact_part(part: Message, values: Sequence[str] = (), *, bot_only: bool = False,
                 is_secret: Callable[[str], bool] | None = None) -> bool:
    """Redact one text/* leaf in place; return True when it changed."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return False
    charset = part.get_content_charset() or "us-ascii"
    try:
        text = data.decode(charset, "surrogateescape")
    except (LookupError, UnicodeError):
        charset = "latin-1"
        text = data.decode(charset)
    is_html = part.get_content_subtype() == "html"
    redacted = _redact_html(text, bot_only=bot_only) if is_html else redact_secrets(text, bot_only=bot_only)
    redacted = _redact_values(redacted, values, is_html)
    if is_secret is not None:
        redacted = redact_digests(redacted, is_secret, is_html)
    if redacted == text:
        return False
    try:
        encoded = redacted.encode(charset, "surrogateescape")
    except (LookupError, UnicodeError):
        encoded = redacted.encode("utf-8", "surrogateescape")
        part.set_param("charset", "utf-8")
    _set_encoded_payload(part, encoded)
    return True


def _set_encoded_payload(part: Message, data: bytes) -> None:
    """Store bytes under the part's existing Content-Transfer-Encoding."""
    cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte == "base64":
        part.set_payload(base64.encodebytes(data).decode("ascii"))
    elif cte == "quoted-printable":
        part.set_payload(quopri.encodestring(data).decode("ascii"))
    elif cte in ("7bit", "8bit", "binary", ""):
        # BytesGenerator writes surrogate-escaped text back as the original raw bytes.
        part.set_payload(data.decode("ascii", "surrogateescape"))
    else:
        # x-uuencode and other exotic encodings: re-encode in a standard one.
        part.replace_header("Content-Transfer-Encoding", "base64")
        part.set_payload(base64.encodebytes(data).decode("ascii"))


def _fallback_message(raw: bytes) -> bytes:
    """Keep the header block, replace the (unredactable) body with a note."""
    note = (
        "Isi pesan ini dihapus oleh mailbot karena tidak dapat disunting dengan aman "
        "(pesan mungkin memuat kata sandi).\n"
    )
    try:
        newline = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
        head, sep, _ = raw.partition(newline + newline)
        kept = []
        if sep:
            for block in re.split(rb"\r?\n(?![ \t])", head):
                name = block.split(b":", 1)[0].strip().lower()
                if name not in (b"content-type", b"content-transfer-encoding"):
                    kept.append(block)
        kept += [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit"]
        return newline.join(kept) + newline + newline + note.encode("utf-8").replace(b"\n", newline)
    except Exception:
        return b"Content-Type: text/plain; charset=utf-8\n\n" + note.encode("utf-8")


class _VerbatimHeaders(Compat32):
    """compat32 that writes every parsed header back byte for byte (no refolding, no added space)."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = sourcelines[0].split(":", 1)
        # Keep the exact spacing, folding and line ends of the source.
        return name, value + "".join(sourcelines[1:])

    def header_fetch_parse(self, name: str, value: str) -> str:  # type: ignore[override]
        return str(super().header_fetch_parse(name, value.lstrip(" \t").rstrip("\r\n")))

    def fold(self, name: str, value: str) -> str:  # type: ignore[override]
        if not value.endswith("\n"):  # a header we set ourselves, not one from the source
            value = " " + value + self.linesep
        return f"{name}:{value}"

    def fold_binary(self, name: str, value: str) -> bytes:  # type: ignore[override]
        return self.fold(name, str(value)).encode("ascii", "surrogateescape")


def _flatten(msg: Message, linesep: str) -> bytes:
    out = BytesIO()
    policy = _VerbatimHeaders(linesep=linesep)
    BytesGenerator(out, mangle_from_=False, policy=policy).flatten(
        msg, unixfrom=msg.get_unixfrom() is not None
    )
    return out.getvalue()


def redact_raw_message(raw: bytes, values: Sequence[str] = (), *, bot_only: bool = False,
                       is_secret: Callable[[str], bool] | None = None) -> bytes:
    """Redact password values in every text/* part of a raw RFC 822 message; never raises.

    Labelled lines ("Password: …"; with `bot_only` only the bot's own "Password sementara…:" lines) are
    redacted, and so is every occurrence of each known secret in `values` (e.g. the typed password, the
    proposal quoted from the review email) and every token `is_secret` recognises (an issued password,
    by its keyed hash), in text and HTML. Headers are written back verbatim; a message with nothing to
    redact is returned byte-identical.
    """
    try:
        msg = email.message_from_bytes(raw, policy=_VerbatimHeaders())
        changed = False
        for part in msg.walk():
            if not part.is_multipart() and part.get_content_maintype() == "text":
                changed = _redact_part(part, values, bot_only=bot_only, is_secret=is_secret) or changed
        if not changed:
            return raw
        return _flatten(msg, "\r\n" if b"\r\n" in raw else "\n")
    except Exception:
        return _fallback_message(raw)
