"""A backlog uses a helper process for parsing and PDF text; the outcome never depends on it."""

from __future__ import annotations

import pytest

from mailbot.cases import documents as docs
from mailbot.intake.fetch import open_mailbox
from mailbot.intake.parse import parse_message
from mailbot.intake.prefetch import Limits, Prefetcher, prepare
from mailbot.store.models import Case, Document, InboundMessage, Outbox
from tests.support.bot import Bot, make_bot
from tests.support.documents import sample_request_letter
from tests.support.mails import PPK_B, complete_request, request_email
from tests.support.servers import fastest_imap

LIMITS = Limits(max_attachments=50, max_depth=10, max_header_bytes=256_000, max_attachment_bytes=10 * 2**20)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600  # an Outlook .msg file, not a message


def backlog() -> list[bytes]:
    """A mixed backlog: complete, incomplete, unreadable, a stranger's mail, and a second request."""
    name_b, nip_b, email_b = PPK_B[0], PPK_B[1], PPK_B[2]
    return [
        complete_request(),
        request_email(email_b, name_b, "Lupa user ID SPSE", f"Mohon info user ID. NIP. {nip_b}",
                      [("Surat Permohonan.pdf", sample_request_letter(name_b, nip_b))]),
        OLE,
        request_email("orang@contoh.com", "Orang Lain", "Halo", "Apa kabar?"),
        complete_request("Permohonan reset password SPSE (kirim ulang)"),
    ]


def stored_rows(bot: Bot) -> list[tuple[int, str, int]]:
    return [(r.id, str(bot.app.store.path(r.raw_blob)), r.size) for r in bot.all(InboundMessage)]


def outcome(bot: Bot) -> tuple:
    """What a user would notice: message statuses and reasons, case states, mail sent by template."""
    rows = [(r.status, r.kind, r.reason) for r in bot.all(InboundMessage)]
    cases = [(c.number, c.status, c.request_type) for c in bot.all(Case)]
    mail = sorted((o.template, tuple(o.recipients)) for o in bot.all(Outbox))
    return rows, cases, mail


def test_helper_prepares_exactly_what_the_main_process_would(bot: Bot) -> None:
    for raw in backlog():
        bot.append(raw)
    with open_mailbox(bot.app) as mb:
        from datetime import datetime, timezone

        from mailbot.domain.results import PollResult
        from mailbot.intake.fetch import fetch_new

        fetch_new(bot.app, mb, datetime.now(timezone.utc), PollResult())
    rows = stored_rows(bot)
    assert len(rows) == 5
    helper = Prefetcher(rows, LIMITS)
    try:
        assert helper.wait_ready(60)
        assert not helper.broken
        prepared = {row_id: helper.take(row_id) for row_id, _, _ in rows}
    finally:
        helper.close()
    assert helper.used == 5
    for row_id, path, _ in rows:
        got = prepared[row_id]
        assert got == prepare(path, LIMITS)  # the same function, run here
        raw = bot.app.store.get(next(r.raw_blob for r in bot.all(InboundMessage) if r.id == row_id))
        if raw.startswith(OLE[:8]):
            assert got is not None and got.mail is None and "Outlook" in (got.parse_error or "")
            continue
        assert got is not None and got.mail == parse_message(raw)
        pdfs = [a.payload for a in got.mail.attachments if docs.sniff_type(a.payload) == "pdf"]
        assert sorted(got.pdf_texts.values()) == sorted(docs.pdf_text(p) for p in pdfs)
        assert len(got.pdf_texts) == len(pdfs)


@pytest.fixture
def new_bot(tmp_path, request, smtp_server, monkeypatch):  # type: ignore[no-untyped-def]
    """Bots with their own data directory and SQLite database, on one IMAP account (each run moves its
    mail out of the INBOX before the next appends)."""
    imap = fastest_imap(request)
    bots: list[Bot] = []

    def new(name: str) -> Bot:
        (tmp_path / name).mkdir()
        b = make_bot(tmp_path / name, imap, smtp_server, f"sqlite:///{tmp_path / name / 'mailbot.db'}", monkeypatch)
        bots.append(b)
        return b

    yield new
    for b in bots:
        b.app.engine.dispose()


def _run(bot: Bot, monkeypatch: pytest.MonkeyPatch, *, helper: bool, kill: bool = False) -> int:
    original = Prefetcher.take

    def take(self: Prefetcher, row_id: int):  # type: ignore[no-untyped-def]
        if kill and self.proc is not None:
            self.proc.kill()  # the helper dies: the main process must carry on alone
            self.proc.wait()
        assert self.wait_ready(60)  # deterministic: use every answer the helper gives
        return original(self, row_id)

    monkeypatch.setattr(Prefetcher, "take", take)
    for raw in backlog():
        bot.append(raw)
    result = bot.poll_pass(prefetch_min=2 if helper else 10**6)
    assert result.processed + result.ignored + result.quarantined == 5
    # Attachments the helper staged were adopted by the cases' documents or removed: nothing is left.
    assert not bot.app.store.staging.exists() or not any(bot.app.store.staging.iterdir())
    assert all(bot.app.store.exists(d.sha256) for d in bot.all(Document))
    return result.prefetched


def test_backlog_with_helper_has_the_same_outcome_as_without(new_bot, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Scenario: the same mixed backlog processed with and without the helper process: same statuses,
    reasons, cases and mail; with the helper, every message the helper can take was prepared by it."""
    alone, helped = new_bot("alone"), new_bot("helped")
    assert _run(alone, monkeypatch, helper=False) == 0
    assert _run(helped, monkeypatch, helper=True) == 5
    assert outcome(helped) == outcome(alone)
    statuses = [r[0] for r in outcome(helped)[0]]
    assert statuses.count("quarantined") == 1 and statuses.count("processed") >= 3
    assert {t for t, _ in outcome(helped)[2]} >= {"ack", "review_request", "incomplete"}


def test_helper_that_dies_changes_nothing(new_bot, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    alone, broken = new_bot("alone"), new_bot("broken")
    _run(alone, monkeypatch, helper=False)
    _run(broken, monkeypatch, helper=True, kill=True)  # whatever it answered before it died is valid
    assert outcome(broken) == outcome(alone)
