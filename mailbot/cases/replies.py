"""The admin's own words in a reply: HTML to text, quotes, attributions and signatures removed."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mailbot.cases.quotes import (
    attribution_span,
    cut_inline_attribution,
    header_block_span,
    is_separator,
    quote_header_span,
)
from mailbot.domain.mail import DerivedText

_BLOCK_TAGS = frozenset(
    "address article aside blockquote br caption dd div dl dt figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot "
    "th thead tr ul".split()
)


_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template"})


_VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())


# Text a mail client does not show: display:none, visibility:hidden, font-size:0, mso-hide:all, or the
# `hidden` attribute. An attacker's hidden "SETUJU" must not be read as the admin's visible words.
_HIDDEN_STYLE_RE = re.compile(
    r"(?:^|[;\s])(?:display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all|"
    r"font-size\s*:\s*0*\.?0+(?:px|pt|em|rem|%)?\s*(?:!important)?\s*(?:;|$))",
    re.IGNORECASE,
)


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "hidden":
            return True
        if name == "style" and value and _HIDDEN_STYLE_RE.search(value):
            return True
    return False


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
        self._hidden: list[str] = []  # open elements from the first hidden one inward

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
        if tag not in _VOID_TAGS and (self._hidden or _hidden(attrs)):
            self._hidden.append(tag)
            return
        if self._hidden:
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
        if tag in _SKIP_TAGS or tag == "pre" or (tag not in _VOID_TAGS and (self._hidden or _hidden(attrs))):
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._hidden:
            if tag in self._hidden:  # close up to the matching element (HTML end tags may be missing)
                while self._hidden and self._hidden.pop() != tag:
                    pass
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _BLOCK_TAGS and tag not in ("br", "hr"):
            self._block_break()

    def handle_data(self, data: str) -> None:
        if self.stopped or self._skip_depth or self._hidden:
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
        if following and quote_header_span(following, 0):
            return kept
        kept += piece
    return kept


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"), None)


# A signature or a mobile client's footer: nothing after it is the admin's decision.
_SIGNATURE_RE = re.compile(
    r"^(?:--\s*$|(?:sent from|sent via|sent with|sent using|dikirim dari|dikirim melalui|get outlook for|"
    r"envoyé de|envoyé depuis|envoyé à partir de|gesendet von|von meinem .* gesendet|enviado desde|"
    r"enviado do|inviato da|verzonden (?:vanaf|met)|sendt fra|skickat från|wysłane z|отправлено с)\b)",
    re.IGNORECASE,
)


def _clean(line: str) -> str:
    return line.translate(_INVISIBLE).replace("\xa0", " ").rstrip()


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


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
        if _SIGNATURE_RE.match(line.strip()) or is_separator(line):
            break
        if cut_inline_attribution(line)[1]:
            # "reply On … wrote:" on one line: the line stays whole (a keyword is then not alone on its
            # line; a reason is cut where the attribution starts), and the quote after it goes.
            kept.append(line)
            if not _next_content_is_quoted(lines, index + 1):
                break
            index += 1
            continue
        span = attribution_span(lines, index)
        if span:
            # Bottom-posting: the admin may write below a "> " quote; anything else
            # after an attribution is an unmarked quote (HTML clients) and is dropped.
            if not _next_content_is_quoted(lines, index + span):
                break
            index += span
            continue
        if header_block_span(lines, index):
            break
        kept.append(line)
        index += 1
    return "\n".join(kept).strip("\n")


def new_text(text: str, html: str | None = None) -> str:
    """Return only what the admin wrote: quotes and signatures removed.

    The text/plain part is read when the mail has one; the HTML part when it has none (`text` empty, or
    a `DerivedText` that intake rendered from that HTML), so the HTML quote marks (blockquote,
    gmail_quote, divRplyFwdMsg, ...) are seen."""
    if html and (not text.strip() or isinstance(text, DerivedText)):
        return _strip_quotes(html_to_text(html))
    return _strip_quotes(text)
