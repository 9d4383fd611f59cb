"""Admin keyword replies: extract what the admin wrote, parse the decision, find review codes, redact secrets."""

from __future__ import annotations

import base64
import email
import quopri
import re
from html import escape as html_escape
from collections.abc import Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32
from html.parser import HTMLParser
from io import BytesIO

__all__ = [
    "REVIEW_CODE_RE",
    "AdminCommand",
    "new_text",
    "parse_command",
    "find_review_codes",
    "redact_secrets",
    "redact_raw_message",
]

# The lookarounds keep a code from matching inside a longer token (e.g. "XRV-...").
REVIEW_CODE_RE: re.Pattern[str] = re.compile(
    r"(?<![A-Za-z0-9])RV-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}(?![A-Za-z0-9])",
    re.IGNORECASE,
)

REDACTED = "[DISUNTING]"

ACTION_APPROVE = "approve"
ACTION_REJECT = "reject"
ACTION_REQUEST_DOCS = "request_docs"


@dataclass(frozen=True)
class AdminCommand:
    """The admin's decision as parsed from the new text of a reply."""

    action: str | None  # "approve" | "reject" | "request_docs" | None
    argument: str  # reason / note ("" for approve)
    password: str | None
    user_id: str | None
    note: str | None  # Catatan:
    send_to_sender: bool
    error: str | None  # formal Indonesian explanation when action is None


# --------------------------------------------------------------------------
# HTML to text
# --------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    "address article aside blockquote br caption dd div dl dt figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot "
    "th thead tr ul".split()
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template"})
# Markers (in class or id) that start the quoted part in webmail and desktop clients.
_QUOTE_MARKERS = (
    "gmail_quote",
    "gmail_signature",
    "divrplyfwdmsg",
    "moz-cite-prefix",
    "yahoo_quoted",
    "outlookmessageheader",
)
# An <hr> is only a quote separator when a From block follows (Outlook, Zimbra);
# elsewhere it is decoration. The sentinel lets us decide after conversion.
_HR_SENTINEL = "\x00HR\x00"


class _HtmlToText(HTMLParser):
    """Convert HTML to plain text, stopping at the first quote marker."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stopped = False
        self._skip_depth = 0
        self._pre_depth = 0
        self._line_start = True

    def _block_break(self) -> None:
        # Adjacent block boundaries end one line, they do not make empty lines:
        # Gmail writes one <div> per line and <div><br></div> for a blank line.
        if not self._line_start:
            self.parts.append("\n")
            self._line_start = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        if tag == "body":
            self._skip_depth = 0  # an unclosed <head> ends where <body> starts
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag == "blockquote" or _has_quote_marker(attrs):
            self.stopped = True
            return
        if tag == "pre":
            self._pre_depth += 1
        if tag == "br":
            self.parts.append("\n")
            self._line_start = True
        elif tag == "hr":
            self._block_break()
            self.parts.append(_HR_SENTINEL + "\n")
        elif tag in _BLOCK_TAGS:
            self._block_break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends: never open a skip/pre scope for a self-closed tag.
        if tag in _SKIP_TAGS or tag == "pre":
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _BLOCK_TAGS and tag not in ("br", "hr"):
            self._block_break()

    def handle_data(self, data: str) -> None:
        if self.stopped or self._skip_depth:
            return
        if not self._pre_depth:
            # HTML collapses whitespace; source line breaks are not text line breaks.
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        if self._line_start:
            data = data.lstrip(" ")
        if data:
            self.parts.append(data)
            self._line_start = data.endswith("\n")


def _has_quote_marker(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name in ("class", "id") and value:
            lowered = value.lower()
            if any(marker in lowered for marker in _QUOTE_MARKERS):
                return True
    return False


def html_to_text(html: str) -> str:
    """Render the new part of an HTML reply as plain text (quote blocks cut off)."""
    parser = _HtmlToText()
    try:
        parser.feed(html.replace("\x00", ""))  # NUL is our <hr> sentinel's delimiter
        parser.close()
    except Exception:  # html.parser is lenient, but a reply must never crash intake
        pass
    text = "".join(parser.parts)
    lines = [line.strip(" ") for line in text.split("\n")]
    return _cut_at_hr_before_header("\n".join(lines))


def _cut_at_hr_before_header(text: str) -> str:
    pieces = text.split(_HR_SENTINEL)
    kept = pieces[0]
    for piece in pieces[1:]:
        following = [line for line in piece.split("\n") if line.strip()][:6]
        if following and _starts_header_block(following, 0):
            return kept
        kept += piece
    return kept


# --------------------------------------------------------------------------
# Quote and signature removal on plain text
# --------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

_SEPARATOR_RE = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|pesan asli|forwarded message|pesan terusan|"
    r"pesan yang diteruskan|message d'origine|ursprüngliche nachricht|mensaje original)\s*-{2,}"
    r"|_{10,}|begin forwarded message:|awal pesan yang diteruskan:)\s*$",
    re.IGNORECASE,
)
_SIGNATURE_RE = re.compile(
    r"^(?:--\s*$|(?:sent from|dikirim dari|get outlook for|envoyé de|sent via)\b)",
    re.IGNORECASE,
)
_FROM_HEADER_RE = re.compile(r"^\s*\*?(?:from|dari|de|von|van)\s*\*?\s*:\s*\*?\s*\S", re.IGNORECASE)
_OTHER_HEADER_RE = re.compile(
    r"^\s*\*?(?:sent|date|to|cc|subject|dikirim|terkirim|tanggal|kepada|tembusan|subjek|"
    r"perihal|envoyé|à|objet|gesendet|an|betreff|enviado|para|asunto)\s*\*?\s*:",
    re.IGNORECASE,
)
_ATTRIBUTION_START_RE = re.compile(r"^\s*(?:on|pada|le|am|el|em|op|il)\s", re.IGNORECASE)
_ATTRIBUTION_END_RE = re.compile(
    r"(?:wrote|menulis|a écrit|schrieb|escribió|escreveu|schreef|ha scritto)\s*:\s*$",
    re.IGNORECASE,
)


def _clean(line: str) -> str:
    return line.translate(_INVISIBLE).replace("\xa0", " ").rstrip()


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _starts_header_block(lines: list[str], index: int) -> bool:
    """True when lines[index] is a "From:/Dari:" line followed by mail-header lines."""
    if not _FROM_HEADER_RE.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 8] if line.strip()][:4]
    return any(_OTHER_HEADER_RE.match(line) for line in following)


def _attribution_length(lines: list[str], index: int) -> int:
    """0, or how many lines (1 or 2) an "On … wrote:" attribution at lines[index] spans."""
    line = lines[index]
    if not _ATTRIBUTION_START_RE.match(line):
        return 0
    if _ATTRIBUTION_END_RE.search(line):
        return 1
    # Clients wrap long attributions ("On Mon, … X <x@y>\nwrote:").
    if index + 1 < len(lines) and _ATTRIBUTION_END_RE.search(line + " " + lines[index + 1]):
        return 2
    return 0


def _next_content_is_quoted(lines: list[str], index: int) -> bool:
    for line in lines[index:]:
        if line.strip():
            return _is_quoted(line)
    return False


def _strip_quotes(text: str) -> str:
    lines = [_clean(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _is_quoted(line):
            index += 1
            continue
        if _SEPARATOR_RE.match(line) or _SIGNATURE_RE.match(line.strip()):
            break
        if _starts_header_block(lines, index):
            break
        span = _attribution_length(lines, index)
        if span:
            # Bottom-posting: the admin may write below a "> " quote; anything else
            # after an attribution is an unmarked quote (HTML clients) and is dropped.
            if not _next_content_is_quoted(lines, index + span):
                break
            index += span
            continue
        kept.append(line)
        index += 1
    return "\n".join(kept).strip("\n")


def new_text(text: str, html: str | None = None) -> str:
    """Return only what the admin wrote: quotes and signatures removed.

    The plain-text part is preferred; the HTML part is used only when there is no text.
    """
    source = text if text and text.strip() else html_to_text(html or "")
    return _strip_quotes(source)


# --------------------------------------------------------------------------
# Command parsing
# --------------------------------------------------------------------------

# "SETUJU", "setuju.", "**APPROVE**!" — but not "SETUJU?" (a question is not a decision).
_APPROVE_RE = re.compile(r"^[*_]*(?:setuju|approve)(?:[^\w?]|_)*$", re.IGNORECASE)
_ARGUMENT_RE = re.compile(
    r"^[*_]*(?P<keyword>tolak|reject|lengkapi|incomplete)(?![\w])[*_]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_ARGUMENT_ACTIONS = {
    "tolak": ACTION_REJECT,
    "reject": ACTION_REJECT,
    "lengkapi": ACTION_REQUEST_DOCS,
    "incomplete": ACTION_REQUEST_DOCS,
}
_OPTION_RE = re.compile(
    # Gmail's text part renders a bold label as "*Password*:": allow * and _ around the label.
    r"^\s*[*_]*(?P<label>password|kata\s+sandi|user\s*-?\s*id|id\s+pengguna|catatan|note|"
    r"kirim\s+ke\s+pengirim|send\s+to\s+sender)[*_]*\s*:[*_]*(?P<value>.*)$",
    re.IGNORECASE,
)
_YES_RE = re.compile(r"^(?:ya|yes|iya)[\s.!]*$", re.IGNORECASE)

_KEYWORD_HELP = (
    "Mohon balas dengan salah satu kata kunci pada baris pertama balasan: "
    "SETUJU (berdiri sendiri pada barisnya), TOLAK <alasan penolakan>, "
    "atau LENGKAPI <dokumen yang perlu dilengkapi>."
)
ERROR_EMPTY = "Balasan Anda tidak memuat keputusan. " + _KEYWORD_HELP
ERROR_APPROVE_WITH_TEXT = (
    "Kata kunci SETUJU harus ditulis sendiri pada barisnya tanpa kata lain, sehingga "
    "balasan Anda belum dapat diproses sebagai persetujuan. " + _KEYWORD_HELP
)
ERROR_REJECT_NO_REASON = (
    "Kata kunci TOLAK harus disertai alasan penolakan, misalnya: "
    "TOLAK SK pengangkatan PPK sudah tidak berlaku. Alasan tersebut akan disampaikan kepada PPK."
)
ERROR_DOCS_NO_NOTE = (
    "Kata kunci LENGKAPI harus disertai keterangan dokumen yang perlu dilengkapi, misalnya: "
    "LENGKAPI SK pengangkatan PPK yang telah ditandatangani."
)


def _option_key(label: str) -> str:
    label = re.sub(r"\s+", " ", label.lower())
    if label in ("password", "kata sandi"):
        return "password"
    if label in ("catatan", "note"):
        return "note"
    if label in ("kirim ke pengirim", "send to sender"):
        return "send_to_sender"
    return "user_id"


def _collect_options(lines: list[str]) -> tuple[dict[str, list[str]], str | None]:
    """Gather option lines; return (values per key, error)."""
    found: dict[str, list[str]] = {}
    for line in lines:
        match = _OPTION_RE.match(line)
        if match:
            found.setdefault(_option_key(match["label"]), []).append(match["value"].strip())
    for key, label in (("password", "Password"), ("user_id", "User ID")):
        values = found.get(key, [])
        if any(not value for value in values):
            return found, (
                f"Baris {label}: pada balasan Anda tidak berisi nilai. Mohon tuliskan nilainya "
                f"pada baris yang sama, misalnya: {label}: <nilai>."
            )
        if len(set(values)) > 1:
            return found, (
                f"Balasan Anda memuat lebih dari satu baris {label}: dengan nilai berbeda. "
                "Mohon kirim ulang balasan dengan satu nilai saja."
            )
    return found, None


def _argument_lines(lines: list[str], start: int) -> list[str]:
    """The continuation of a reason/note: until a blank line or an option line."""
    taken: list[str] = []
    for line in lines[start:]:
        if not line.strip() or _OPTION_RE.match(line):
            break
        taken.append(line.strip())
    return taken


def _error(message: str) -> AdminCommand:
    return AdminCommand(None, "", None, None, None, False, message)


def _not_a_keyword(first: str) -> AdminCommand:
    shown = redact_secrets(first.strip())
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return _error(
        f"Baris pertama balasan Anda (\u201c{shown}\u201d) bukan kata kunci keputusan yang jelas, "
        "sehingga tidak ada keputusan yang dicatat. " + _KEYWORD_HELP
    )


def _decide(lines: list[str], first_index: int) -> tuple[str, str] | AdminCommand:
    """(action, argument) from the first line, or an error command."""
    first = lines[first_index].strip()
    if _APPROVE_RE.match(first):
        return ACTION_APPROVE, ""
    match = _ARGUMENT_RE.match(first)
    if not match:
        if re.match(r"^[*_]*(?:setuju|approve)\b", first, re.IGNORECASE):
            return _error(ERROR_APPROVE_WITH_TEXT)
        return _not_a_keyword(first)
    action = _ARGUMENT_ACTIONS[match["keyword"].lower()]
    rest = re.sub(r"^[\s:.,;\-\u2013\u2014]+", "", match["rest"]).strip()
    parts = ([rest] if rest else []) + _argument_lines(lines, first_index + 1)
    argument = "\n".join(parts).strip()
    if not re.search(r"\w", argument):
        return _error(ERROR_REJECT_NO_REASON if action == ACTION_REJECT else ERROR_DOCS_NO_NOTE)
    return action, argument


def parse_command(text: str, html: str | None = None) -> AdminCommand:
    """Parse the admin's decision from the first non-quoted, non-empty line of a reply."""
    lines = new_text(text, html).split("\n")
    first_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first_index is None:
        return _error(ERROR_EMPTY)
    decided = _decide(lines, first_index)
    if isinstance(decided, AdminCommand):
        return decided
    options, error = _collect_options(lines[first_index + 1 :])
    if error:
        return _error(error)
    notes = [value for value in options.get("note", []) if value]
    send = options.get("send_to_sender", [])
    return AdminCommand(
        action=decided[0],
        argument=decided[1],
        password=(options.get("password") or [None])[0],
        user_id=(options.get("user_id") or [None])[0],
        note="\n".join(notes) or None,
        send_to_sender=bool(send) and all(_YES_RE.match(value) for value in send),
        error=None,
    )


# --------------------------------------------------------------------------
# Review codes
# --------------------------------------------------------------------------


def find_review_codes(subject: str, text: str) -> list[str]:
    """All review codes in the subject and the whole body, uppercased, in order, de-duplicated."""
    codes: list[str] = []
    for source in (subject or "", text or ""):
        for match in REVIEW_CODE_RE.finditer(source):
            code = match.group(0).upper()
            if code not in codes:
                codes.append(code)
    return codes


# --------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------

# A password label anywhere on a line ("Password:", "> Kata sandi sementara:", "Password baru:").
# Over-redacting a harmless line is acceptable; leaking a credential is not.
_SECRET_LABEL = r"\b(?:pass\s?word|passwd|pwd|kata[ \t]+sandi|sandi)\b[^:\r\n]{0,40}?:"
_TEXT_SECRET_RE = re.compile(rf"(?P<label>{_SECRET_LABEL})(?P<value>[^\r\n]*)", re.IGNORECASE)
_HTML_SECRET_RE = re.compile(
    r"(?P<label>\b(?:pass\s?word|passwd|pwd|kata(?:\s|&nbsp;|&#160;)+sandi|sandi)\b"
    r"[^:<\r\n]{0,40}?:)(?P<gap>(?:\s|&nbsp;|&#160;|<[^>]*>)*)(?P<value>[^<\r\n]*)",
    re.IGNORECASE,
)
_LONE_TOKEN_RE = re.compile(r"^(?P<prefix>[ \t]*(?:>[ \t]*)*)(?P<value>\S+)[ \t]*$")


def redact_secrets(text: str) -> str:
    """Replace the value of every "Password:"/"Kata sandi:" line with "[DISUNTING]"."""
    lines = text.split("\n")
    value_on_next_line = False
    for index, line in enumerate(lines):
        if value_on_next_line:
            value_on_next_line = False
            token = _LONE_TOKEN_RE.match(line.rstrip("\r"))
            # "Password:\nAbc123": a lone token right after an empty label is the value.
            if token and not _TEXT_SECRET_RE.search(line):
                ending = "\r" if line.endswith("\r") else ""
                lines[index] = token["prefix"] + REDACTED + ending
                continue
        match = _TEXT_SECRET_RE.search(line)
        if not match:
            continue
        value = match["value"]
        if value.strip():
            lines[index] = line[: match.end("label")] + " " + REDACTED + line[match.end("value") :]
        else:
            value_on_next_line = True
    return "\n".join(lines)


def _redact_html(html: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if not match["value"].replace("&nbsp;", "").strip():
            return match.group(0)
        return match["label"] + match["gap"] + REDACTED

    return _HTML_SECRET_RE.sub(replace, html)


def _redact_values(text: str, values: Sequence[str], html: bool) -> str:
    """Replace every occurrence of a known secret value (and its HTML-escaped form)."""
    for value in values:
        if not value or len(value) < 4:
            continue  # too short to replace without mangling ordinary words
        text = text.replace(value, REDACTED)
        if html:
            text = text.replace(html_escape(value, quote=False), REDACTED)
            text = text.replace(html_escape(value, quote=True), REDACTED)
    return text


def _redact_part(part: Message, values: Sequence[str] = ()) -> bool:
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
    redactor = _redact_html if is_html else redact_secrets
    redacted = _redact_values(redactor(text), values, is_html)
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
        return super().header_fetch_parse(name, value.lstrip(" \t").rstrip("\r\n"))

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


def redact_raw_message(raw: bytes, values: Sequence[str] = ()) -> bytes:
    """Redact password values in every text/* part of a raw RFC 822 message; never raises.

    Labelled lines ("Password: …") are redacted, and so is every occurrence of each known secret in
    `values` (e.g. the typed password, the proposal quoted from the review email), in text and HTML.
    Headers are written back verbatim; a message with nothing to redact is returned byte-identical.
    """
    try:
        msg = email.message_from_bytes(raw, policy=_VerbatimHeaders())
        changed = False
        for part in msg.walk():
            if not part.is_multipart() and part.get_content_maintype() == "text":
                changed = _redact_part(part, values) or changed
        if not changed:
            return raw
        return _flatten(msg, "\r\n" if b"\r\n" in raw else "\n")
    except Exception:
        return _fallback_message(raw)
