"""Fetched messages are committed a batch at a time; duplicates and failures behave as one by one."""

from __future__ import annotations

from sqlalchemy import event

from mailbot.store.models import Case, InboundMessage
from tests.support.bot import Bot
from tests.support.mails import complete_request


def test_copies_in_one_batch_and_across_batches_are_duplicates(any_bot: Bot) -> None:
    """Scenario: the same request delivered three times (two in one fetch batch, one in a later poll):
    one case, one ack, and each copy is recorded as a duplicate of the first, with its number."""
    raw = complete_request()
    other = complete_request("Permohonan kedua")
    any_bot.append(raw)
    any_bot.append(other)
    any_bot.append(raw)  # byte-identical copy in the same batch
    first = any_bot.poll()
    assert (first.fetched, first.duplicates) == (3, 1)
    any_bot.append(raw.replace(b"\r\n", b"\n"))  # same Message-ID and sender, other line endings
    second = any_bot.poll()
    assert (second.fetched, second.duplicates) == (1, 1)
    rows = any_bot.all(InboundMessage)
    assert [r.status for r in rows] == ["processed", "processed", "duplicate", "duplicate"]
    assert rows[2].reason == rows[3].reason == f"same message as #{rows[0].id}"
    assert [r.uid for r in rows] == sorted(r.uid for r in rows)
    assert len(any_bot.sent("ack")) == len(any_bot.all(Case))  # copies make no case and no mail
    assert any_bot.uids("INBOX") == []


def test_a_failing_batch_is_stored_one_by_one(any_bot: Bot) -> None:
    """If storing the batch together fails, nothing of it is half-committed and every message is
    still stored (the one-by-one path) and processed; a message that cannot be stored even alone is
    kept as a quarantined placeholder with its bytes, and the sync point passes it."""
    batches = []

    def picky(session, flush_context, instances):  # type: ignore[no-untyped-def]
        """The database refuses a flush of several new messages, and the POISON message's row
        (not its quarantined placeholder)."""
        new = [o for o in session.new if isinstance(o, InboundMessage)]
        if len(new) > 1:
            batches.append(len(new))
            raise RuntimeError("database refused the batch")
        if new and new[0].status != "quarantined" and b"POISON" in any_bot.app.store.get(new[0].raw_blob):
            raise RuntimeError("database refused this row")

    event.listen(any_bot.app.factory, "before_flush", picky)
    for i in range(3):
        any_bot.append(complete_request(f"Permohonan {i}" if i != 1 else "POISON"))
    result = any_bot.poll()
    assert batches == [3]
    assert (result.fetched, result.processed) == (3, 2)
    rows = any_bot.all(InboundMessage)
    assert sorted(r.uid for r in rows) == [1, 2, 3]
    [bad] = [r for r in rows if r.status == "quarantined"]
    assert (bad.kind, bad.reason) == ("unstorable", "could not be stored: RuntimeError")
    assert b"POISON" in any_bot.app.store.get(bad.raw_blob)
    assert any_bot.uids("INBOX") == []
