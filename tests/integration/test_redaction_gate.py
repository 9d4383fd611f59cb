"""The redaction gate reads From as routing does: whatever From layout routing could take for an
admin's mail, the typed password is cut from the stored copy; a password split over HTML tags too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bot import Bot, submit
from tests.support.mails import ADMIN, admin_reply

TYPED = "Gerbang7Sandi2026"
FROM = f"From: Admin <{ADMIN}>".encode()


def stored_bytes(bot: Bot) -> bytes:
    """Everything the bot keeps on disk: the database file(s) and the blob store."""
    return b"".join(p.read_bytes() for p in Path(bot.workdir).rglob("*") if p.is_file())


def _padding(size: int) -> bytes:
    line = b"X-Padding: " + b"p" * 60 + b"\n"
    return line * (size // len(line) + 1)


LAYOUTS = {
    "space before colon": lambda raw: raw.replace(FROM, f"From : Admin <{ADMIN}>".encode()),
    "at sign in display name": lambda raw: raw.replace(FROM, f"From: Admin @ LPSE <{ADMIN}>".encode()),
    "header block over 64 KiB": lambda raw: _padding(70_000) + raw,
    "two addresses": lambda raw: raw.replace(FROM, f"From: Admin <{ADMIN}>, Tamu <tamu@example.org>".encode()),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_typed_password_cut_whatever_the_from_layout(any_bot: Bot, layout: str) -> None:
    """Scenario: the admin's SETUJU with a typed Password: line arrives with an unusual From layout;
    whatever routing makes of it, the typed password is nowhere on disk afterwards."""
    review = submit(any_bot)
    raw = LAYOUTS[layout](admin_reply(review, f"SETUJU\nPassword: {TYPED}\n"))
    assert TYPED.encode() in raw
    any_bot.append(raw)
    any_bot.poll()
    assert TYPED.encode() not in stored_bytes(any_bot)


def test_password_split_over_html_tags_is_cut(any_bot: Bot) -> None:
    """Scenario: the admin's HTML reply writes `Password: <span>Pecah9</span><span>Sandi</span>`; no
    piece of it is stored."""
    review = submit(any_bot)
    any_bot.append(admin_reply(review, "SETUJU\nPassword: Pecah9Sandi2\n",
                               "<div>SETUJU</div><div>Password: <span>Pecah9</span><span>Sandi2</span></div>"))
    any_bot.poll()
    stored = stored_bytes(any_bot)
    assert b"Pecah9" not in stored and b"Sandi2" not in stored
