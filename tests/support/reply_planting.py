"""Putting an admin's lines into a stored reply the way a mail client would: in place of the visible reply
(text or HTML), and into the quoted part (a "> " line, the last line of an unmarked quote, a line inside the
quoted HTML). Used by tests/support/reply_corpus.py."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# --------------------------------------------------------------------------- planting into text


@dataclass(frozen=True)
class Planted:
    """A body with the admin's lines in place of the fixture's reply; `None` where that cannot be done."""

    body: str
    same_line: bool  # the fixture's reply shares its last line with what follows (an attribution)
    below_header: bool  # the fixture's reply sits below an unmarked quote header ("On … wrote:" at the top)


def _norm(line: str) -> str:
    return " ".join(line.replace("\xa0", " ").split())


def _reply_span(body: str, reply: str) -> tuple[int, int, bool] | None:
    """(start, end, same_line) of the first contiguous run of the reply's lines in `body`."""
    wanted = [_norm(line) for line in reply.split("\n") if line.strip()]
    if not wanted:
        return None
    lines = body.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for first in range(len(lines)):
        got = _norm(lines[first])
        if got != wanted[0] and not (got.startswith(wanted[0]) and len(wanted) == 1):
            continue
        start = offsets[first] + len(lines[first]) - len(lines[first].lstrip())
        index, matched, last = first, 0, first
        while index < len(lines) and matched < len(wanted):
            got = _norm(lines[index])
            if not got:
                index += 1
                continue
            if got == wanted[matched]:
                matched, last = matched + 1, index
                index += 1
                continue
            if got.startswith(wanted[matched]) and got != wanted[matched]:
                # The reply ends inside this line: an attribution follows on the same line.
                cut = _prefix_end(lines[index], wanted[matched])
                return start, offsets[index] + cut, True
            break
        return start, offsets[last] + len(lines[last].rstrip()), False
    return None


def _prefix_end(line: str, prefix: str) -> int:
    """Index in `line` just after the (whitespace-normalised) `prefix`."""
    pattern = r"\s*" + r"\s+".join(re.escape(word) for word in prefix.split())
    match = re.match(pattern, line.replace("\xa0", " "))
    assert match, (line, prefix)
    return match.end()


def plant_text(body: str, reply: str, lines: str) -> Planted | None:
    """`body` with `lines` where the fixture's reply is (at the top, above the quote, when it has none)."""
    if not reply.strip():
        return Planted(lines + "\n\n" + body.lstrip("\n"), False, False)
    span = _reply_span(body, reply)
    if span is None:
        return None
    start, end, same_line = span
    above = [line for line in body[:start].split("\n") if line.strip()]
    below_header = bool(above) and not any(_QUOTE_PREFIX_RE.match(line) for line in above)
    return Planted(body[:start] + lines + body[end:], same_line, below_header)


_QUOTE_PREFIX_RE = re.compile(r"^[ \t]*(?:>[ \t]?)+")


def quote_text(body: str, reply: str, line: str) -> str | None:
    """`body` with `line` put into its quote the way the client quotes; None when it has no quote.

    A "> " quote gets the line with the same prefix before its first quoted line; an unmarked quote
    (a header block or an attribution followed by the quoted mail) gets it as its last line."""
    span = _reply_span(body, reply)
    if span is None:
        return None
    start, end, _ = span
    before, after = body[:start], body[end:]
    for part, rebuild in ((after, lambda new: before + body[start:end] + new),
                          (before, lambda new: new + body[start:]),):
        lines = part.split("\n")
        for index, text in enumerate(lines):
            match = _QUOTE_PREFIX_RE.match(text)
            if match:
                lines.insert(index, match.group(0).rstrip() + " " + line)
                return rebuild("\n".join(lines))
    if not _has_unmarked_quote(after, reply):
        return None
    return before + body[start:end] + after.rstrip() + "\n" + line + "\n"


def _has_unmarked_quote(after: str, reply: str) -> bool:
    """Whether the text after the reply holds a quoted mail (not only a signature or a list footer).

    A deliberately loose test of its own, independent of the code under test: some line is an
    attribution-like line (a "wrote" verb, or a date and an address ending in ":"), a header line
    ("From:", "Van:", "Date:" ... with a value, followed by another such line), a separator naming
    the original/forwarded message, or a date-first Gmail line."""
    lines = [_norm(line) for line in after.split("\n") if line.strip()]
    own = {_norm(line) for line in reply.split("\n") if line.strip()}
    lines = [line for line in lines if line not in own]
    for index, line in enumerate(lines[:-1]):
        if _WROTE_RE.search(line) or _SEPARATOR_NAME_RE.search(line) or _DATE_FIRST_RE.match(line):
            return True
        if _DATE_ISH_RE.search(line) and re.search(r"[>@\w\"]\s*:$", line) and "@" in line:
            return True
        if _HEADERISH_RE.match(line) and _HEADERISH_RE.match(lines[index + 1]):
            return True
    return False


_WROTE_RE = re.compile(
    r"\b(?:wrote|schrieb|écrit|escribió|escreveu|skrev|napisał|kirjoitti|schreef|geschreven|scritto|написал"
    r"|menulis)\b", re.IGNORECASE)
_SEPARATOR_NAME_RE = re.compile(r"-{2,}.*(?:message|messaggio|mensaje|nachricht|besked|bericht)|^={4}$",
                                re.IGNORECASE)
_DATE_FIRST_RE = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2} ")
_DATE_ISH_RE = re.compile(r"\d{1,2}[:.]\d\d|\d{4}")
_HEADERISH_RE = re.compile(r"^\W*\w+(?: \w+)?\W*\s*:\S?.*\S")


# --------------------------------------------------------------------------- planting into HTML


@dataclass(frozen=True)
class _Run:
    text: str
    start: int  # source offset of the first character
    end: int  # source offset after the last character


class _Positions(HTMLParser):
    """Visible text runs of an HTML document with their source offsets."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.runs: list[_Run] = []
        self.skip = 0

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag == "body":
            self.skip = 0

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            start = self._offset()
            self.runs.append(_Run(data, start, start + len(data)))

    def handle_entityref(self, name: str) -> None:
        self._entity(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._entity(f"&#{name};")

    def _entity(self, ref: str) -> None:
        if not self.skip:
            start = self._offset()
            end = self.source.find(";", start) + 1 or start + len(ref)
            self.runs.append(_Run(htmllib.unescape(ref), start, end))


def text_of_html(markup: str) -> str:
    """The visible text of an HTML fragment, one text run per line (for the expected HTML replies)."""
    return "\n".join(run.text for run in _runs(markup))


def _runs(markup: str) -> list[_Run]:
    parser = _Positions(markup)
    parser.feed(markup)
    parser.close()
    return parser.runs


def _visible_chars(markup: str) -> list[tuple[str, int, int]]:
    """(character, source start, source end) of every visible non-space character."""
    chars = []
    for run in _runs(markup):
        if len(run.text) == run.end - run.start:
            chars += [(c, run.start + i, run.start + i + 1) for i, c in enumerate(run.text) if not c.isspace()]
        else:  # an entity
            chars += [(c, run.start, run.end) for c in run.text if not c.isspace()]
    return chars


def _find_chars(chars: list[tuple[str, int, int]], wanted: str, start: int = 0, last: bool = False) -> int | None:
    """Index in `chars` where the non-space characters of `wanted` occur contiguously."""
    needle = "".join(c for c in wanted.replace("\xa0", " ") if not c.isspace())
    hay = "".join(c for c, _, _ in chars)
    found = hay.rfind(needle, start) if last else hay.find(needle, start)
    return None if found < 0 or not needle else found


def _html_lines(lines: str) -> str:
    """The admin's lines as a composer writes them, with the blank line every client leaves above the quote."""
    return "<br>".join(htmllib.escape(line, quote=False) for line in lines.split("\n")) + "<br><br>"


def plant_html(markup: str, reply: str, lines: str) -> str | None:
    """`markup` with its visible reply replaced by `lines` (an empty reply: the lines go first in <body>)."""
    chars = _visible_chars(markup)
    if not reply.strip():
        body = re.search(r"<body[^>]*>", markup, re.IGNORECASE)
        at = body.end() if body else 0
        return markup[:at] + "<div>" + _html_lines(lines) + "</div>" + markup[at:]
    index = _find_chars(chars, reply)
    if index is None:
        return None
    count = sum(1 for c in reply if not c.isspace())
    start, end = chars[index][1], chars[index + count - 1][2]
    return markup[:start] + _html_lines(lines) + markup[end:]


def quote_html(markup: str, reply: str, anchor: str | None, line: str) -> str | None:
    """`markup` with `line` put into the quoted part, before the anchor (the quoted body)."""
    chars = _visible_chars(markup)
    after = 0
    if reply.strip():
        index = _find_chars(chars, reply)
        if index is None:
            return None
        after = index + sum(1 for c in reply if not c.isspace())
    if anchor is None:
        if after >= len(chars):
            return None
        position = len(chars) - 1
        while position > after and chars[position - 1][2] >= chars[position][1] - 1:
            position -= 1  # the start of the last text run
    else:
        found = [i for alt in anchor.split("|") if (i := _find_chars(chars, alt, after, last=True)) is not None]
        if not found:
            return None
        position = max(found)
    at = chars[position][1]
    return markup[:at] + htmllib.escape(line, quote=False) + "<br>" + markup[at:]
