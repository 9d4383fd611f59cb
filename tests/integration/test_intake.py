"""Issue 2: a PPK's email becomes one case with its documents on real IMAP/SMTP servers, exactly once."""

from __future__ import annotations

from sqlalchemy import func, select

from mailbot.admin.views import case_detail
from mailbot.demo import samplepdf
from mailbot.demo.world import request_email
from mailbot.store.models import Case, Document, InboundMessage
from tests.conftest import PPK_A, Bot

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]


def complete_request(subject: str = "Permohonan reset password SPSE") -> bytes:
    return request_email(EMAIL, NAME, subject, f"Dengan hormat, mohon reset password. NIP. {NIP}",
                         [("Surat Permohonan.pdf", samplepdf.sample_request_letter(NAME, NIP)),
                          ("SK PPK.pdf", samplepdf.sample_sk(NAME, NIP))])


def count(bot: Bot, model) -> int:  # type: ignore[no-untyped-def]
    with bot.app.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def _request_becomes_one_case(bot: Bot) -> None:
    bot.append(complete_request())
    first = bot.poll()
    assert first.errors == []
    assert count(bot, Case) == 1
    acks = bot.sent("ack")
    assert [m.rcpt_tos for m in acks] == [[EMAIL]]
    ack = acks[0]
    with bot.app.factory() as s:
        case = s.scalars(select(Case)).one()
    assert ack.header("X-Mailbot-Case") == case.number
    assert f"[{case.number}]" in ack.header("Subject")
    assert ack.header("Auto-Submitted") == "auto-replied"
    assert ack.header("In-Reply-To")
    assert bot.uids("INBOX") == []
    assert len(bot.uids(bot.app.settings.imap.processed_folder)) == 1
    detail = case_detail(bot.app, case.number)
    assert detail is not None
    assert {d["filename"] for d in detail["documents"]} == {"Surat Permohonan.pdf", "SK PPK.pdf"}
    assert all(d["size"] > 0 and len(d["sha256"]) == 64 for d in detail["documents"])

    # A second poll does nothing: no case, no mail, nothing moved.
    sent_before = len(bot.smtp.messages)
    second = bot.poll()
    assert (second.fetched, second.processed, second.moved, second.sent) == (0, 0, 0, 0)
    assert count(bot, Case) == 1 and len(bot.smtp.messages) == sent_before

    # The PPK answers the ack with one more attachment: same case, one more document.
    bot.append(request_email(EMAIL, NAME, "Re: " + ack.header("Subject"), "Tambahan lampiran KTP.",
                             [("KTP.png", samplepdf.make_png())], in_reply_to=ack.header("Message-ID")))
    bot.poll()
    assert count(bot, Case) == 1
    with bot.app.factory() as s:
        docs = s.scalars(select(Document).where(Document.case_id == case.id)).all()
        kinds = {m.kind for m in s.scalars(select(InboundMessage))}
    assert len(docs) == 3 and "KTP.png" in {d.filename for d in docs}
    assert kinds == {"request", "followup"}
    assert len(bot.uids(bot.app.settings.imap.processed_folder)) == 2


def test_request_becomes_one_case_pymap_and_dovecot(bot: Bot) -> None:
    """Scenario: a complete request on pymap and on Dovecot (SQLite)."""
    _request_becomes_one_case(bot)


def test_request_becomes_one_case_sqlite_and_postgres(db_bot: Bot) -> None:
    """Scenario: a complete request on SQLite and on PostgreSQL."""
    _request_becomes_one_case(db_bot)


def _automatic(bot: Bot) -> None:
    autoreply = request_email("someone@example.org", "Someone", "Out of Office: Permohonan",
                              "Saya sedang cuti.", extra_headers={"Auto-Submitted": "auto-replied"})
    bounce = request_email("MAILER-DAEMON@mail.example.org", "Mail Delivery System",
                           "Undelivered Mail Returned to Sender", "This is the mail system.")
    listmail = request_email("news@list.example.org", "News", "Buletin pengadaan",
                             "Berita minggu ini", extra_headers={"List-Id": "<buletin.list.example.org>"})
    for raw in (autoreply, bounce, listmail):
        bot.append(raw)
    result = bot.poll()
    assert result.ignored == 3
    assert bot.smtp.messages == []
    assert count(bot, Case) == 0
    with bot.app.factory() as s:
        rows = s.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [r.status for r in rows] == ["ignored"] * 3
    assert rows[0].reason.startswith("auto-reply")
    assert rows[1].reason.startswith("bounce")
    assert rows[2].reason.startswith("list")
    assert bot.uids("INBOX") == []


def test_automatic_mail_gets_no_reply_and_no_case(bot: Bot) -> None:
    """Scenario: an auto-reply, a bounce and a list mail arrive; nobody is answered."""
    _automatic(bot)


def test_automatic_mail_sqlite_and_postgres(db_bot: Bot) -> None:
    _automatic(db_bot)


def test_seen_flag_untouched_and_nothing_deleted(any_bot: Bot) -> None:
    """Scenario: the bot reads mail without marking it \\Seen for the person who shares the mailbox."""
    from tests.servers import imap_flags

    any_bot.append(complete_request())
    any_bot.poll()
    flags = imap_flags(any_bot.imap, any_bot.folder(any_bot.app.settings.imap.processed_folder))
    assert len(flags) == 1
    assert all("\\Seen" not in f and "\\Deleted" not in f for f in flags.values())
