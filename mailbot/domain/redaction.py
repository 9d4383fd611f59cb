"""What a password looks like in mail text, and how it is blanked out (text and HTML)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape as html_escape

REDACTED = "[DISUNTING]"


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
