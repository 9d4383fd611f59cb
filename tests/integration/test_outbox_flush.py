"""The outbox flush over several SMTP connections: each mail exactly once, each person's in order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailbot.store.models import Outbox
from tests.support.bot import Bot
from tests.support.mails import request_email


def _requests_from_strangers(bot: Bot, n: int) -> None:
    for i in range(n):
        bot.append(request_email(f"pemohon{i}@contoh.go.id", f"Pemohon {i}", f"Permohonan reset {i}", "mohon"))


@pytest.mark.parametrize("connections", [1, 3])
def test_flush_uses_the_configured_number_of_connections(any_bot: Bot, connections: int) -> None:
    """A backlog's replies go out over `smtp.connections` connections, each mail exactly once."""
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
