"""The admin's side of a case on a running bot: a case submitted for review, the review mail each admin
got, what was decided or refused, and the settings for authenticated admin mail."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select

from mailbot.demo.servers import ReceivedMail
from mailbot.intake.parse import parse_message
from mailbot.store.models import Case, Event, InboundMessage
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_A, request_email


def submit_case(bot: Bot, sender: tuple[str, ...] = PPK_A, subject: str = "Permohonan reset password SPSE",
                now: datetime | None = None) -> Case:
    """The PPK mails a complete request; returns the case (now AWAITING_REVIEW)."""
    name, nip, addr = sender[0], sender[1], sender[2]
    bot.append(request_email(addr, name, subject, f"Dengan hormat, mohon {subject.lower()}. NIP. {nip}",
                             [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                              ("SK PPK.pdf", sample_sk(name, nip))]))
    bot.poll(now)
    with bot.app.factory() as s:
        case = s.scalars(select(Case).where(Case.sender == addr).order_by(Case.id.desc())).first()
    assert case is not None and case.status == "AWAITING_REVIEW", case and case.status
    return case


def review_for(bot: Bot, case: Case, admin: str = ADMIN) -> ReceivedMail:
    found = [m for m in bot.sent("review_request") if m.rcpt_tos == [admin] and case.number in m.header("Subject")]
    assert len(found) == 1, [m.header("Subject") for m in bot.sent("review_request")]
    return found[-1]


def get_case(bot: Bot, case: Case) -> Case:
    with bot.app.factory() as s:
        found = s.get(Case, case.id)
        assert found is not None
        return found


def refusals(bot: Bot) -> list[Event]:
    with bot.app.factory() as s:
        return list(s.scalars(select(Event).where(Event.kind == "decision_refused").order_by(Event.id)))


def body(mail: ReceivedMail) -> str:
    return mail.message.get_body(("plain",)).get_content()


def recipients(bot: Bot) -> set[str]:
    return {r for m in bot.smtp.messages for r in m.rcpt_tos}


def set_auth(bot: Bot, required: bool, trusted: tuple[str, ...] = ()) -> None:
    s = bot.app.settings
    bot.app.settings = dataclasses.replace(s, admins=dataclasses.replace(
        s.admins, require_authenticated_admin_mail=required, trusted_authserv_ids=trusted))


def assert_password_not_stored(bot: Bot, password: str) -> None:
    """The admin's typed password is nowhere on disk: not in any file, not in any decoded stored message."""
    for path in bot.workdir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    with bot.app.factory() as s:
        blobs = s.scalars(select(InboundMessage.raw_blob)).all()
    for blob in blobs:
        stored = parse_message(bot.app.store.get(blob))
        assert password not in (stored.text or "") + (stored.html or ""), blob
