"""What a password looks like in mail text, and how it is blanked out (text and HTML, by label or by its keyed hash)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from html import escape as html_escape
from html import unescape as html_unescape

REDACTED = "[DISUNTING]"


# A password label anywhere on a line ("Password:", "> Kata sandi sementara:", "Password baru:").
# Over-redacting a harmless line is acceptable; leaking a credential is not.
_SECRET_LABEL = r"\b(?:pass\s?word|passwd|pwd|kata[ \t]+sandi|sandi)\b[^:\r\n]{0,40}?:"
# The bot's own wording: "Password sementara:" (credentials) and "Password sementara yang diusulkan:"
# (review_request), cut from every inbound mail that quotes them.
_BOT_LABEL = r"\b(?:pass\s?word|kata[ \t]+sandi)[ \t]+sementara\b[^:\r\n]{0,40}?:"
_HTML_SPACE = r"(?:\s|&nbsp;|&#160;)"
# Block-level tags end a value in HTML; inline ones (<span>, <b>, <code>, …) glued to its text on both
# sides ("Pecah</span><span>Sandi") split it, so the value runs on across them.
_HTML_BLOCK = r"/?(?:br|p|div|tr|td|th|li|ul|ol|dl|dt|dd|table|tbody|thead|blockquote|h[1-6]|hr|pre)\b"


def _text_re(label: str) -> re.Pattern[str]:
    return re.compile(rf"(?P<label>{label})(?P<value>[^\r\n]*)", re.IGNORECASE)


def _html_re(label: str) -> re.Pattern[str]:
    html_label = label.replace(r"[ \t]+", rf"{_HTML_SPACE}+").replace(r"[^:\r\n]", r"[^:<\r\n]")
    return re.compile(
        rf"(?P<label>{html_label})(?P<gap>(?:{_HTML_SPACE}|<[^>]*>)*)"
        rf"(?P<value>[^<\r\n]*(?:(?<=\S)(?:<(?!{_HTML_BLOCK})[^>]*>)+(?=[^\s<])[^<\r\n]*)*)",
        re.IGNORECASE,
    )


_TEXT_SECRET_RE = _text_re(_SECRET_LABEL)
_HTML_SECRET_RE = _html_re(_SECRET_LABEL)
_TEXT_BOT_RE = _text_re(_BOT_LABEL)
_HTML_BOT_RE = _html_re(_BOT_LABEL)


_LONE_TOKEN_RE = re.compile(r"^(?P<prefix>[ \t]*(?:>[ \t]*)*)(?P<value>\S+)[ \t]*$")


def secret_digest(key: bytes, value: str) -> str:
    """The keyed hash under which an issued password is remembered (HMAC-SHA256, hex)."""
    return hmac.new(key, value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def redact_secrets(text: str, *, bot_only: bool = False) -> str:
    """Replace the value of every "Password:"/"Kata sandi:" line with "[DISUNTING]" (with `bot_only`,
    only the bot's own "Password sementara…:" lines)."""
    label_re = _TEXT_BOT_RE if bot_only else _TEXT_SECRET_RE
    lines = text.split("\n")
    value_on_next_line = False
    for index, line in enumerate(lines):
        if value_on_next_line:
            value_on_next_line = False
            token = _LONE_TOKEN_RE.match(line.rstrip("\r"))
            # "Password:\nAbc123": a lone token right after an empty label is the value.
            if token and not label_re.search(line):
                ending = "\r" if line.endswith("\r") else ""
                lines[index] = token["prefix"] + REDACTED + ending
                continue
        match = label_re.search(line)
        if not match:
            continue
        value = match["value"]
        if value.strip():
            lines[index] = line[: match.end("label")] + " " + REDACTED + line[match.end("value") :]
        else:
            value_on_next_line = True
    return "\n".join(lines)


def _visible(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html).replace("&nbsp;", "").replace("&#160;", "")


def _redact_html(html: str, *, bot_only: bool = False) -> str:
    """The HTML form of redact_secrets; a value split over inline tags loses every piece, the tags stay."""

    def replace(match: re.Match[str]) -> str:
        value = match["value"]
        if not _visible(value).strip():
            return match.group(0)
        out, done = [], False
        for piece in re.split(r"(<[^>]*>)", value):
            if piece.startswith("<"):
                out.append(piece)
            elif piece.strip() and not done:
                out.append(REDACTED)
                done = True
        return match["label"] + match["gap"] + "".join(out)

    return (_HTML_BOT_RE if bot_only else _HTML_SECRET_RE).sub(replace, html)


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


# A candidate password: a run without white space, quotes or tag brackets, 4 to 130 characters.
_TOKEN_RE = re.compile(r"[^\s<>\"'`]{4,130}")
_EDGE = ".,;:!?()[]{}*_"


def _cores(token: str, html: bool) -> list[str]:
    """The ways a password can sit in a token: as it is, without surrounding punctuation, after a colon."""
    found = [token, token.strip(_EDGE), token.rsplit(":", 1)[-1], token.rsplit(":", 1)[-1].strip(_EDGE)]
    if html:
        found += [html_unescape(c) for c in found]
    return [c for c in dict.fromkeys(found) if len(c) >= 4]


def redact_digests(text: str, is_secret: Callable[[str], bool], html: bool = False) -> str:
    """Replace every token that `is_secret` recognises (e.g. by its keyed hash) with "[DISUNTING]"."""
    seen: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in seen:
            out = token
            for core in _cores(token, html):
                if is_secret(core):
                    raw = core if core in token else html_escape(core, quote=False)
                    out = token.replace(raw, REDACTED) if raw in token else REDACTED
                    break
            seen[token] = out
        return seen[token]

    return _TOKEN_RE.sub(replace, text)


def contains_digest(text: str, is_secret: Callable[[str], bool]) -> bool:
    """True when some token of `text` is recognised by `is_secret` (the archive's last check)."""
    return any(is_secret(core) for token in set(_TOKEN_RE.findall(text)) for core in _cores(token, True))
