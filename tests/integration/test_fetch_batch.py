"""Issue 6: fetched messages are committed a batch at a time; duplicates and failures behave as one by one."""

from __future__ import annotations

import pytest

from mailbot.intake import fetch
from mailbot.store.models import Case, InboundMessage, Outbox
from tests.conftest import Bot
from tests.test_intake import complete_request


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


def test_a_failing_batch_is_stored_one_by_one(any_bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """If storing the batch together fails, nothing of it is half-committed and every message is
    still stored (the one-by-one path) and processed; a message that cannot be stored even alone is
    kept as a quarantined placeholder with its bytes, and the sync point passes it."""
    real = fetch._store_rows
    batches = []

    def picky(app, folder, uidvalidity, items, now, failure=""):  # type: ignore[no-untyped-def]
        if len(items) > 1:
            batches.append(len(items))
            raise RuntimeError("database refused the batch")
        if not failure and b"POISON" in items[0][1]:
            raise RuntimeError("database refused this row")
        return real(app, folder, uidvalidity, items, now, failure)

    monkeypatch.setattr(fetch, "_store_rows", picky)
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


# -- the outbox flush over several SMTP connections ---------------------------------------------------

def _requests_from_strangers(bot: Bot, n: int) -> None:
    from mailbot.demo.world import request_email

    for i in range(n):
        bot.append(request_email(f"pemohon{i}@contoh.go.id", f"Pemohon {i}", f"Permohonan reset {i}", "mohon"))


@pytest.mark.parametrize("connections", [1, 3])
def test_flush_uses_the_configured_number_of_connections(any_bot: Bot, connections: int) -> None:
    """A backlog's replies go out over `smtp.connections` connections, each mail exactly once."""
    from dataclasses import replace

    any_bot.app.settings = replace(any_bot.app.settings,
                                   smtp=replace(any_bot.app.settings.smtp, connections=connections))
    _requests_from_strangers(any_bot, 6)
    result = any_bot.poll()
    assert result.sent == 6 and result.retried == 0
    sent = any_bot.sent("incomplete")
    assert sorted(m.rcpt_tos[0] for m in sent) == sorted(f"pemohon{i}@contoh.go.id" for i in range(6))
    assert len({m.peer for m in sent}) == connections
    assert {o.status for o in any_bot.all(Outbox)} == {"sent"}


def test_flush_keeps_order_per_recipient_and_stops_at_an_unreachable_server(any_bot: Bot) -> None:
    """With the server down, one attempt is spent (not one per connection); later, each person's mail
    arrives in the order it was queued."""
    any_bot.smtp.set_down(True)
    _requests_from_strangers(any_bot, 3)
    _requests_from_strangers(any_bot, 3)  # a second request each: two mails per person
    first = any_bot.poll()
    assert (first.sent, first.retried) == (0, 1)
    any_bot.smtp.set_down(False)
    due = max(o.next_attempt_at for o in any_bot.all(Outbox))
    assert any_bot.poll(due).sent == 6
    ids = [o.message_id for o in sorted(any_bot.all(Outbox), key=lambda o: o.id)]
    arrived = [m.message["Message-ID"] for m in any_bot.sent()]
    for person in {m.rcpt_tos[0] for m in any_bot.sent()}:
        theirs = [m.message["Message-ID"] for m in any_bot.sent() if m.rcpt_tos[0] == person]
        assert len(theirs) == 2 and theirs == [i for i in ids if i in theirs]
    assert sorted(arrived) == sorted(ids)
