"""Reading the keyword (SETUJU / TOLAK / LENGKAPI), its options and the review codes of an admin reply."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbot.cases.quotes import cut_inline_attribution, looks_like_quote_header
from mailbot.cases.replies import new_text
from mailbot.domain.redaction import redact_secrets

__all__ = [
    "REVIEW_CODE_RE",
    "AdminCommand",
    "new_text",
    "parse_command",
    "find_review_codes",
    "starts_with_keyword",
]


# The lookarounds keep a code from matching inside a longer token (e.g. "XRV-...").
REVIEW_CODE_RE: re.Pattern[str] = re.compile(
    r"(?<![A-Za-z0-9])RV-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}(?![A-Za-z0-9])",
    re.IGNORECASE,
)




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


# "SETUJU", "setuju.", "**APPROVE**!", "Setuju。" — only sentence punctuation (ASCII or full-width "."
# and "!") may follow; not "SETUJU?" or "SETUJU？" (a question is no decision), nor emoji or other marks.
_APPROVE_RE = re.compile(r"^[*_]*(?:setuju|approve)[*_]*(?:[ \t]*[.!\u3002\uff01\uff0e])*[*_]*[ \t]*$",
                         re.IGNORECASE)


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


def _own_block(lines: list[str], start: int) -> list[str]:
    """The admin's own lines after the keyword line: up to the first line that looks like a quote header
    or a separator, recognised or not (options and reasons are never read from a quote)."""
    for index in range(start, len(lines)):
        if cut_inline_attribution(lines[index])[1]:
            return lines[start : index + 1]  # "… On … wrote:": the line's own part is the admin's
        if looks_like_quote_header(lines, index):
            return lines[start:index]
    return lines[start:]


def _argument_lines(lines: list[str]) -> list[str]:
    """The continuation of a reason/note: until a blank line, an option line or a glued attribution."""
    taken: list[str] = []
    for line in lines:
        if not line.strip() or _OPTION_RE.match(line):
            break
        line, glued = cut_inline_attribution(line.strip())
        taken.append(line)
        if glued:
            break
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
    rest, glued = cut_inline_attribution(re.sub(r"^[\s:.,;\-\u2013\u2014]+", "", match["rest"]).strip())
    following = [] if glued else _argument_lines(_own_block(lines, first_index + 1))
    parts = ([rest] if rest else []) + following
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
    options, error = _collect_options(_own_block(lines, first_index + 1))
    if error:
        return _error(error)
    notes = [value for value in options.get("note", []) if value]
    send = options.get("send_to_sender", [])
    return AdminCommand(
        action=decided[0],
        argument=decided[1],
        password=next(iter(options.get("password", [])), None),
        user_id=next(iter(options.get("user_id", [])), None),
        note="\n".join(notes) or None,
        send_to_sender=bool(send) and all(_YES_RE.match(value) for value in send),
        error=None,
    )


_KEYWORD_START_RE = re.compile(r"^[*_]*(?:setuju|approve|tolak|reject|lengkapi|incomplete)(?!\w)", re.IGNORECASE)


def starts_with_keyword(text: str, html: str | None = None) -> bool:
    """True when the first line of the new text begins with a decision keyword (valid or not): such mail
    from an admin address is an attempted decision, never a request."""
    first = next((line.strip() for line in new_text(text, html).split("\n") if line.strip()), "")
    return bool(_KEYWORD_START_RE.match(first))


def find_review_codes(subject: str, text: str) -> list[str]:
    """All review codes in the subject and the whole body, uppercased, in order, de-duplicated."""
    codes: list[str] = []
    for source in (subject or "", text or ""):
        for match in REVIEW_CODE_RE.finditer(source):
            code = match.group(0).upper()
            if code not in codes:
                codes.append(code)
    return codes
