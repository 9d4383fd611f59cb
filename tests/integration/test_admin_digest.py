"""The admin digest: one mail per admin on working mornings while cases wait for review."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.support.bot import Bot
from tests.support.mails import ADMIN, ADMIN_B, PPK_A, PPK_B, reply_email
from tests.support.review import (
    body,
    review_for,
    submit_case,
)

WIB = ZoneInfo("Asia/Jakarta")


# -- admin digest ---------------------------------------------------------------------------------------
def test_admin_digest_on_working_mornings(two_admins: Bot) -> None:
    """Scenario: a case waiting since yesterday → one digest per admin at 08:05, overdue marked; not twice, not
    on Saturday."""
    tue = datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
    old = submit_case(two_admins, PPK_A, now=tue)
    fresh = submit_case(two_admins, PPK_B, now=datetime(2026, 11, 25, 7, 30, tzinfo=WIB))  # before office hours
    assert two_admins.sent("admin_digest") == []
    two_admins.poll(datetime(2026, 11, 25, 7, 59, tzinfo=WIB))
    assert two_admins.sent("admin_digest") == []  # not before admin_digest_time
    two_admins.poll(datetime(2026, 11, 25, 8, 5, tzinfo=WIB))
    digests = two_admins.sent("admin_digest")
    assert sorted(r for m in digests for r in m.rcpt_tos) == sorted([ADMIN, ADMIN_B])
    assert all(len(m.rcpt_tos) == 1 for m in digests)
    text = body(digests[0])
    old_line = next(line for line in text.splitlines() if old.number in line)
    fresh_line = next(line for line in text.splitlines() if fresh.number in line)
    assert "MELEWATI SLA" in old_line
    assert "MELEWATI SLA" not in fresh_line
    assert "1 di antaranya melewati" in text
    assert "(1 melewati SLA)" in digests[0].header("Subject")
    two_admins.poll(datetime(2026, 11, 25, 11, 0, tzinfo=WIB))
    assert len(two_admins.sent("admin_digest")) == 2
    two_admins.poll(datetime(2026, 11, 28, 9, 0, tzinfo=WIB))  # Saturday
    assert len(two_admins.sent("admin_digest")) == 2
    two_admins.poll(datetime(2026, 11, 30, 8, 30, tzinfo=WIB))  # Monday: still waiting → a new digest
    assert len(two_admins.sent("admin_digest")) == 4


def test_no_digest_when_nothing_waits(any_bot: Bot) -> None:
    """Scenario: the only case was decided yesterday → no digest the next working morning."""
    case = submit_case(any_bot, now=datetime(2026, 11, 24, 10, 0, tzinfo=WIB))
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "TOLAK SK tidak sah"))
    any_bot.poll(datetime(2026, 11, 24, 10, 30, tzinfo=WIB))
    any_bot.poll(datetime(2026, 11, 25, 8, 30, tzinfo=WIB))
    assert any_bot.sent("admin_digest") == []
