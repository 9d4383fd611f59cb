"""Admin-reply handling over the third-party corpus: redaction and command parsing never crash."""

from __future__ import annotations

import email
from email import policy

import pytest

from mailbot.cases.commands import find_review_codes, parse_command
from mailbot.intake.redact import redact_raw_message
from tests.support.paths import CORPUS


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")
def test_redact_raw_message_on_the_real_corpus() -> None:
    """Third-party mail (bounces, MIME torture) never crashes redaction and keeps its headers."""
    checked = 0
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.name == "README.md":
            continue
        raw = path.read_bytes()
        redacted = redact_raw_message(raw)
        assert isinstance(redacted, bytes), path
        if redacted != raw:
            head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            assert redacted.startswith(head), path
        checked += 1
    assert checked > 100


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")
def test_parse_command_on_the_real_corpus_never_raises() -> None:
    for path in sorted(CORPUS.rglob("*.eml"))[:300]:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        try:
            plain = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
            text = plain.get_content() if plain else ""
            markup = html.get_content() if html else None
        except (LookupError, ValueError, KeyError, AttributeError):
            continue  # undecodable third-party mail: the caller's problem, not ours
        command = parse_command(text, markup)
        find_review_codes(str(msg.get("Subject", "")), text)
        assert command.action is None or command.error is None
