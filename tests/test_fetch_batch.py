"""Issue 6: fetched messages are committed a batch at a time; duplicates and failures behave as one by one."""

from __future__ import annotations

import pytest

from mailbot import runner
from mailbot.models import Case, InboundMessage
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
    still stored (the one-by-one path) and processed."""
    calls = []

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(args[3]))
        raise RuntimeError("database refused the batch")

    monkeypatch.setattr(runner, "_store_rows", broken)
    for i in range(3):
        any_bot.append(complete_request(f"Permohonan {i}"))
    result = any_bot.poll()
    assert calls == [3]
    assert (result.fetched, result.processed) == (3, 3)
    assert sorted(r.uid for r in any_bot.all(InboundMessage)) == [1, 2, 3]
