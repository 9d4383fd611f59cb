"""Harness for tests/unit/test_reply_corpus.py: the reply corpus of ../shared/replies, planted and read.

Every fixture is a reply from the test suite of a public reply-parsing project, stored with the visible
reply that project expects (see its README.md and manifest.json). Each one is turned into the mail an
admin would send: the fixture's own reply is replaced by the admin's lines (a keyword, a reason, a
sentence that is no decision), a trap is put into the quoted part the way that client quotes (a "> "
line in a text quote, the last line of an unmarked quote, a line inside the quoted HTML), the body is
wrapped into an RFC 822 message (text/plain, text/html, or the fixture's own .eml with its parts
rewritten), and the message goes through ``parse_message`` and ``parse_command(mail.text, mail.html)``
exactly as an admin reply does in ``cases.decisions``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from mailbot.cases.commands import AdminCommand, parse_command
from mailbot.intake.parse import parse_message
from tests.support.reply_planting import (
    plant_html,
    plant_text,
    quote_html,
    quote_text,
    text_of_html,
)

CORPUS = Path(
    os.environ.get("MAILBOT_REPLIES_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "replies"
)
REASON = "NIP tidak sesuai dengan SK"
NOT_A_DECISION = "Baik, saya periksa dulu datanya."
QUOTED_PASSWORD = "Quoted123"


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Fixture:
    """One stored reply: its body (text, HTML or a whole .eml) and the visible reply its project expects."""

    source: str
    id: str
    kind: str  # "text" | "html" | "eml"
    raw: bytes
    reply: str  # the expected visible reply, as text
    anchor: str | None  # HTML only: text of the quoted part, where the quoted body is


def load_corpus(root: Path) -> list[Fixture]:
    """Every fixture of every source, byte-identical copies counted once (in the first source by name)."""
    fixtures: list[Fixture] = []
    seen: set[str] = set()
    for manifest in sorted(root.glob("*/manifest.json")):
        source = manifest.parent
        for entry in json.loads(manifest.read_text(encoding="utf-8"))["fixtures"]:
            raw = (source / entry["file"]).read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            expected = (source / entry["expected"]).read_text(encoding="utf-8").replace("\r\n", "\n")
            if entry["expected_kind"] == "html":
                expected = text_of_html(expected)
            anchor = entry.get("quote_anchor") or None
            if entry.get("quote_part"):
                lines = [line for line in entry["quote_part"].splitlines() if line.strip()]
                anchor = lines[-1] if lines else None
            fixtures.append(Fixture(source.name, entry["id"], entry["kind"], raw, expected.strip(), anchor))
    return fixtures


# --------------------------------------------------------------------------- the admin's mail


def _headers(msg: EmailMessage) -> None:
    msg["From"] = "Admin LPSE <admin@lpse.example.go.id>"
    msg["To"] = "mailbot@lpse.example.go.id"
    msg["Subject"] = "Re: [LPSE-BYS-2026-00042] Tinjauan permohonan, kode RV-7KQ2-M9XH-4TJ3-WP8N"
    msg["Date"] = "Tue, 24 Nov 2026 10:05:00 +0700"
    msg["Message-ID"] = "<reply-1@lpse.example.go.id>"
    msg["In-Reply-To"] = "<review-1@lpse.example.go.id>"


def wrap(body: str, subtype: str) -> bytes:
    msg = EmailMessage()
    _headers(msg)
    msg.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


def read(raw: bytes) -> AdminCommand:
    """The admin's decision as the bot reads it (cases.decisions.handle_admin_reply)."""
    mail = parse_message(raw)
    return parse_command(mail.text or "", mail.html)


@dataclass(frozen=True)
class Mails:
    """The fixture's own mail and each planted variant (None where the fixture has no place for it)."""

    own: bytes
    keyword: bytes | None
    quoted_setuju: bytes | None
    quoted_password: bytes | None
    reason: bytes | None
    same_line: bool = False
    below_header: bool = False


def _text_variants(body: str, reply: str, rewrite: Callable[[str], bytes]) -> Mails:
    keyword = plant_text(body, reply, "SETUJU")
    reason = plant_text(body, reply, "TOLAK\n" + REASON)
    sentence = plant_text(body, reply, NOT_A_DECISION)
    quoted_setuju = quoted_password = None
    if sentence is not None:
        trap = quote_text(sentence.body, NOT_A_DECISION, "SETUJU")
        quoted_setuju = rewrite(trap) if trap is not None else None
    if keyword is not None:
        trap = quote_text(keyword.body, "SETUJU", "Password: " + QUOTED_PASSWORD)
        quoted_password = rewrite(trap) if trap is not None else None
    return Mails(
        own=rewrite(body),
        keyword=rewrite(keyword.body) if keyword else None,
        quoted_setuju=quoted_setuju,
        quoted_password=quoted_password,
        reason=rewrite(reason.body) if reason else None,
        same_line=bool(keyword and keyword.same_line),
        below_header=bool(keyword and keyword.below_header),
    )


def _html_variants(markup: str, reply: str, anchor: str | None, rewrite: Callable[[str], bytes]) -> Mails:
    def planted(lines: str, quoted: str | None = None) -> bytes | None:
        new = plant_html(markup, reply, lines)
        if new is not None and quoted is not None:
            new = quote_html(new, lines, anchor, quoted)
        return rewrite(new) if new is not None else None

    return Mails(
        own=rewrite(markup),
        keyword=planted("SETUJU"),
        quoted_setuju=planted(NOT_A_DECISION, "SETUJU"),
        quoted_password=planted("SETUJU", "Password: " + QUOTED_PASSWORD),
        reason=planted("TOLAK\n" + REASON),
    )


def _eml_variants(fixture: Fixture) -> Mails:
    """The .eml as it is, with its text part (and its HTML part, when there is one) planted."""
    original = message_from_bytes(fixture.raw, policy=policy.default)
    parts = {part.get_content_type(): part.get_content() for part in original.walk()
             if part.get_content_type() in ("text/plain", "text/html")}
    plain = parts["text/plain"].replace("\r\n", "\n")
    rich = parts.get("text/html")

    def rewrite(text: str, markup: str | None) -> bytes:
        msg = message_from_bytes(fixture.raw, policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                part.set_content(text, charset="utf-8", cte="quoted-printable")
            elif part.get_content_type() == "text/html" and markup is not None:
                part.set_content(markup, subtype="html", charset="utf-8", cte="quoted-printable")
        return msg.as_bytes()

    def variant(lines: str, quoted: str | None = None) -> bytes | None:
        planted = plant_text(plain, fixture.reply, lines)
        text = planted.body if planted else None
        if text is not None and quoted is not None:
            text = quote_text(text, lines, quoted)
        if text is None:
            return None
        markup = plant_html(rich, fixture.reply, lines) if rich is not None else None
        if markup is not None and quoted is not None:
            markup = quote_html(markup, lines, None, quoted)
        return rewrite(text, markup)

    keyword = plant_text(plain, fixture.reply, "SETUJU")
    return Mails(
        own=fixture.raw,
        keyword=variant("SETUJU"),
        quoted_setuju=variant(NOT_A_DECISION, "SETUJU"),
        quoted_password=variant("SETUJU", "Password: " + QUOTED_PASSWORD),
        reason=variant("TOLAK\n" + REASON),
        same_line=bool(keyword and keyword.same_line),
        below_header=bool(keyword and keyword.below_header),
    )


def mails(fixture: Fixture) -> Mails:
    if fixture.kind == "eml":
        return _eml_variants(fixture)
    body = fixture.raw.decode("utf-8").replace("\r\n", "\n")
    if fixture.kind == "html":
        return _html_variants(body, fixture.reply, fixture.anchor, lambda new: wrap(new, "html"))
    return _text_variants(body, fixture.reply, lambda new: wrap(new, "plain"))


# --------------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    """What the bot made of one fixture's variants: per check True (as expected), False, or None (n/a)."""

    fixture: Fixture
    exempt: str | None  # why a refused keyword is the safe reading here, or None
    keyword: bool | None = None  # SETUJU approved (refused, where exempt)
    quoted_setuju: bool | None = None  # a sentence above a quoted SETUJU: no decision
    quoted_password: bool | None = None  # SETUJU above a quoted "Password:": approved, password None
    reason: bool | None = None  # TOLAK + reason: rejected with exactly that reason (refused, where exempt)
    own: bool = True  # the fixture's own reply: no decision
    detail: dict[str, str] = field(default_factory=dict)


def evaluate(fixture: Fixture) -> Outcome:
    variants = mails(fixture)
    exempt = ("reply and attribution share one line" if variants.same_line else
              "reply below an unmarked quote header" if variants.below_header else None)
    outcome = Outcome(fixture, exempt)

    def check(name: str, raw: bytes | None, good: Callable[[AdminCommand], bool]) -> bool | None:
        if raw is None:
            return None
        command = read(raw)
        if good(command):
            return True
        outcome.detail[name] = (f"{command.action} argument={command.argument!r} password={command.password!r}"
                                f" error={(command.error or '')[:70]!r}")
        return False

    outcome.own = bool(check("own", variants.own, lambda c: c.action is None))
    outcome.keyword = check("keyword", variants.keyword,
                            lambda c: c.action is None if exempt else c.action == "approve")
    outcome.quoted_setuju = check("quoted_setuju", variants.quoted_setuju, lambda c: c.action is None)
    outcome.quoted_password = check(
        "quoted_password", variants.quoted_password,
        lambda c: c.password is None and (c.action is None if exempt else c.action == "approve"))
    outcome.reason = check(
        "reason", variants.reason,
        lambda c: (c.action, c.argument) == ((None, "") if variants.below_header else ("reject", REASON)))
    return outcome


def table(outcomes: list[Outcome]) -> str:
    """Per source: planted keyword recognised, refused as the safe reading (exempt), quoted SETUJU taken,
    quoted Password taken, TOLAK reason exact, own reply taken; "n/m" over the fixtures where each applies."""
    rows = [("source", "fixtures", "keyword recognised", "refused (safe)", "quoted SETUJU taken",
             "quoted Password taken", "TOLAK reason exact", "own reply taken")]
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.fixture.source, []).append(outcome)
    groups["total"] = outcomes

    def ratio(values: list[bool | None], wanted: bool) -> str:
        known = [value for value in values if value is not None]
        return f"{sum(1 for value in known if value is wanted)}/{len(known)}"

    for name, group in groups.items():
        plain = [o for o in group if not o.exempt]
        rows.append((
            name, str(len(group)),
            ratio([o.keyword for o in plain], True),
            str(sum(1 for o in group if o.exempt and o.keyword)),
            ratio([o.quoted_setuju for o in group], False),
            ratio([o.quoted_password for o in group], False),
            ratio([o.reason for o in group if o.exempt != "reply below an unmarked quote header"], True),
            ratio([o.own for o in group], False),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
