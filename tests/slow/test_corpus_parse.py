"""Every third-party corpus message parses or raises ParseError (the same with its base64 set aside as
without), and the sisimai bounces classify as bounces."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.domain.mail import ParsedMail
from mailbot.intake.classify import automatic_reason, bounced_message_ids, is_bounce
from mailbot.intake.parse import ParseError, parse_message
from tests.support.parsing import both_ways
from tests.support.paths import CORPUS, corpus_files

SISIMAI = CORPUS / "sisimai-set-of-emails" / "maildir"
OWN = ["lpse@lpse.example.go.id"]
OWN_DOMAIN = "mailbot.lpse.example.go.id"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")


def parse_or_none(path: Path) -> ParsedMail | None:
    try:
        return parse_message(path.read_bytes())
    except ParseError:
        return None


def sisimai(prefixes: tuple[str, ...]) -> list[ParsedMail]:
    """Parsed sisimai maildir messages (bsd/ and dos/ copies) whose file name starts with a prefix."""
    files = [p for p in sorted(SISIMAI.glob("*/*.eml")) if p.parent.name in ("bsd", "dos")
             and p.name.startswith(prefixes)]
    return [m for m in map(parse_or_none, files) if m is not None]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_parses_or_raises_parse_error(path: Path) -> None:
    try:
        mail = parse_message(path.read_bytes())
    except ParseError as exc:
        assert str(exc)  # a reason the quarantine can show
        return
    assert isinstance(mail, ParsedMail)
    assert all(a.filename and "/" not in a.filename and "\\" not in a.filename for a in mail.attachments)
    assert mail.date is None or mail.date.utcoffset() is not None
    automatic_reason(mail, OWN, OWN_DOMAIN)  # the classifier must not crash on any of them either


def test_corpus_non_messages_raise_parse_error_with_a_reason() -> None:
    outlook = CORPUS / "spamscope-mail-parser" / "mail_outlook_1"
    sizes = sorted((CORPUS / "sisimai-set-of-emails" / "mailbox").glob("size-*"))

    with pytest.raises(ParseError, match="Outlook"):
        parse_message(outlook.read_bytes())
    for path in sizes:
        with pytest.raises(ParseError, match="empty"):
            parse_message(path.read_bytes())


def test_sisimai_bounces_are_classified_as_bounces() -> None:
    # lhost-* (bounces made by an MTA), rhost-* (reason from the remote host), rfc3464-* (DSNs):
    # 684 files. A dozen are not recognisable from headers alone (Amazon SNS JSON notifications,
    # mailing-list admin replies, a Japanese carrier's notice), hence "a large majority".
    bounces = sisimai(("lhost-", "rhost-", "rfc3464-"))
    classified = [m for m in bounces if is_bounce(m)]

    assert len(bounces) >= 680
    assert len(classified) >= 0.95 * len(bounces)
    assert all((automatic_reason(m, OWN, OWN_DOMAIN) or "").startswith("bounce:") for m in classified)
    # The original Message-ID is what ties a bounce to its case.
    assert sum(bool(bounced_message_ids(m)) for m in classified) >= 0.75 * len(classified)


def test_sisimai_auto_replies_feedback_reports_and_plain_mail() -> None:
    vacations = sisimai(("rfc3834-",))
    complaints = sisimai(("arf-",))
    plain = [m for m in map(parse_or_none, sorted((SISIMAI / "not").glob("is-not-bounce-*"))) if m]

    assert vacations and all((automatic_reason(m, OWN, OWN_DOMAIN) or "").startswith("auto-reply:")
                             and not is_bounce(m) for m in vacations)
    assert sum(not is_bounce(m) for m in complaints) >= 0.8 * len(complaints)
    assert plain and all(automatic_reason(m, OWN, OWN_DOMAIN) is None for m in plain)


@pytest.mark.skipif(not corpus_files(), reason="corpus not found")
def test_set_aside_parse_equals_plain_parse_on_corpus() -> None:
    """1 000 real-world messages (bounces, nested message/rfc822, 8-bit text, broken base64)."""
    used = 0
    for path in corpus_files():
        plain, aside, was_used = both_ways(path.read_bytes())
        assert aside == plain, str(path)
        used += was_used
    assert used >= 100
