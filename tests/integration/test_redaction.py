"""An admin's typed password reaches the PPK and nothing else: not the stored raw copy (plain or HTML
part), not the database when the mail is no decision at all."""

from __future__ import annotations

from pathlib import Path

from mailbot.store.models import Case, InboundMessage
from tests.support.bot import Bot, submit
from tests.support.mails import ADMIN, admin_reply, request_email


def stored_bytes(bot: Bot) -> bytes:
    """Everything the bot keeps on disk: the database file(s) and the blob store."""
    return b"".join(p.read_bytes() for p in Path(bot.workdir).rglob("*") if p.is_file())


def test_password_in_html_part_of_admin_reply_is_not_stored(any_bot: Bot) -> None:
    """Scenario: the admin (Outlook, bold label) replies SETUJU with a Password: line; after delivery the
    typed password is nowhere on disk."""
    review = submit(any_bot)
    typed = "Sandi9Baru2026x"
    any_bot.append(admin_reply(review, f"SETUJU\nPassword: {typed}\n",
                               f"<html><body><div>SETUJU</div><div><b>Password</b>: {typed}</div></body></html>"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert typed in creds.message.get_body(("plain",)).get_content()
    assert any_bot.all(Case)[0].status == "COMPLETED"
    assert typed.encode() not in stored_bytes(any_bot)


def test_bold_password_label_from_gmail_overrides_proposal(any_bot: Bot) -> None:
    """Scenario: the admin bolds the label in Gmail (text/plain '*Password*: X'); X is what the PPK gets."""
    review = submit(any_bot)
    typed = "Sandi9Baru2026x"
    any_bot.append(admin_reply(review, f"SETUJU\n*Password*: {typed}\n",
                               f"<div>SETUJU</div><div><b>Password</b>: {typed}</div>"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert typed in creds.message.get_body(("plain",)).get_content()


def test_admin_password_not_kept_when_mail_is_not_a_decision(any_bot: Bot) -> None:
    """Scenario: the admin writes a fresh mail (no code, no thread) 'SETUJU / Password: X'; X must not
    stay in the database."""
    typed = "Sandi9Baru2026x"
    any_bot.append(request_email(ADMIN, "Admin", "Persetujuan reset password", f"SETUJU\nPassword: {typed}"))
    any_bot.poll()
    assert [r.secret for r in any_bot.all(InboundMessage)] == [None]
    assert typed.encode() not in stored_bytes(any_bot)
