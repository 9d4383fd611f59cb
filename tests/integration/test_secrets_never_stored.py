"""A password the bot sent is never kept from the mail that quotes it: a PPK's thank-you quoting the
credentials mail is stored and archived without it, recognised by its keyed hash after the password
itself is erased; the archive refuses a stored copy that still holds one."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import update

from mailbot.admin.archive import ArchiveError, export_case
from mailbot.demo.servers import ReceivedMail
from mailbot.domain.redaction import secret_digest
from mailbot.store.models import Case, InboundMessage, IssuedSecret
from tests.support.bot import Bot, submit
from tests.support.mails import PPK_A, admin_reply


def stored_bytes(bot: Bot) -> bytes:
    """Everything the bot keeps on disk: the database file(s) and the blob store."""
    return b"".join(p.read_bytes() for p in Path(bot.workdir).rglob("*") if p.is_file() and p.suffix != ".zip")


def issued_password(creds: ReceivedMail) -> str:
    line = next(x for x in creds.message.get_body(("plain",)).get_content().splitlines() if "Password sementara:" in x)
    return line.split(":", 1)[1].strip()


def thank_you(creds: ReceivedMail, password: str) -> bytes:
    """The PPK's thank-you as Thunderbird writes it: both parts quote the credentials mail, and the new
    text names the password without any label."""
    orig = creds.message
    plain = orig.get_body(("plain",)).get_content()
    html = orig.get_body(("html",)).get_content()
    msg = EmailMessage()
    msg["From"] = f"{PPK_A[0]} <{PPK_A[2]}>"
    msg["To"] = str(orig["From"])
    msg["Subject"] = "Re: " + str(orig["Subject"])
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=PPK_A[2].split("@")[1])
    msg["In-Reply-To"] = str(orig["Message-ID"])
    msg["References"] = str(orig["Message-ID"])
    quoted = "\n".join("> " + line for line in plain.splitlines())
    msg.set_content(f"Terima kasih, sudah bisa login dengan {password}.\n\nPada {orig['Date']}, LPSE menulis:\n"
                    f"{quoted}\n")
    msg.add_alternative(f"<p>Terima kasih, sudah bisa login dengan <b>{password}</b>.</p>"
                        f"<blockquote type=\"cite\">{html}</blockquote>", subtype="html")
    return msg.as_bytes()


def approve_and_thank(bot: Bot) -> str:
    review = submit(bot)
    bot.append(admin_reply(review, "SETUJU\n"))
    bot.poll()
    [creds] = bot.sent("credentials")
    password = issued_password(creds)
    assert bot.all(Case)[0].status == "COMPLETED" and bot.all(Case)[0].proposed_password is None
    bot.append(thank_you(creds, password))
    bot.poll()
    assert len(bot.all(InboundMessage)) == 3
    return password


def test_ppk_thank_you_quoting_credentials_keeps_no_password(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: the PPK thanks the office, quoting the credentials mail (text and HTML) and typing the
    password; nothing stored and nothing in `archive export` holds it, only its keyed hash is kept."""
    password = approve_and_thank(any_bot)
    [issued] = any_bot.all(IssuedSecret)
    assert issued.digest == secret_digest(any_bot.app.secret, password)
    assert password.encode() not in stored_bytes(any_bot)
    number = any_bot.all(Case)[0].number
    path = export_case(any_bot.app, number, tmp_path / "arsip.zip")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert any("/emails/inbound/" in n for n in names[3:])
        for name in names:
            assert password.encode() not in zf.read(name), name


def test_archive_refuses_a_stored_copy_holding_an_issued_password(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: a copy stored before redaction knew the password (an older mailbot) still holds it; the
    archive recognises it by its keyed hash and writes nothing."""
    password = approve_and_thank(any_bot)
    app = any_bot.app
    [row] = [r for r in any_bot.all(InboundMessage) if r.from_addr == PPK_A[2] and r.case_id is not None][-1:]
    old = app.store.get(row.raw_blob).replace(b"[DISUNTING]", password.encode())
    with app.factory.begin() as s:
        s.execute(update(InboundMessage).where(InboundMessage.id == row.id).values(raw_blob=app.store.put(old)))
    with pytest.raises(ArchiveError, match="password"):
        export_case(app, any_bot.all(Case)[0].number, tmp_path / "arsip.zip")
    assert not (tmp_path / "arsip.zip").exists()
