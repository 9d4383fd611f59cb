"""A PPK's email becomes one case with its documents on real IMAP/SMTP servers, exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailbot.admin.views import case_detail
from mailbot.store.models import Case, Document, InboundMessage
from tests.support.bot import Bot
from tests.support.documents import make_png, sample_request_letter, sample_sk
from tests.support.mails import PPK_A, complete_request, request_email

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]


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
                             [("KTP.png", make_png())], in_reply_to=ack.header("Message-ID")))
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
    from tests.support.servers import imap_flags

    any_bot.append(complete_request())
    any_bot.poll()
    flags = imap_flags(any_bot.imap, any_bot.folder(any_bot.app.settings.imap.processed_folder))
    assert len(flags) == 1
    assert all("\\Seen" not in f and "\\Deleted" not in f for f in flags.values())


# -- exactly once by Message-ID; what a hostile request gets back ------------------------------------
def test_same_message_id_delivered_twice_is_one_case(any_bot: Bot) -> None:
    """Scenario: the PPK's request reaches the mailbox twice (two aliases), headers differ by one line."""
    raw = complete_request()
    any_bot.append(b"Delivered-To: lpse@lpse-demo.go.id\r\n" + raw)
    any_bot.append(b"Delivered-To: helpdesk@lpse-demo.go.id\r\n" + raw)
    any_bot.poll()
    assert count(any_bot, Case) == 1
    assert len(any_bot.sent("ack")) == 1


def test_encoded_word_in_message_id_cannot_inject_headers(any_bot: Bot) -> None:
    """Scenario: a request whose Message-ID hides '=0D=0A' in an encoded word; the ack the bot sends back
    must carry no header the attacker wrote."""
    import re

    evil = b"<=?utf-8?q?x=0D=0AX-Injected:_yes=0D=0A?=@example.org>"
    raw = re.sub(rb"(?m)^Message-ID: <[^>]*>", b"Message-ID: " + evil, complete_request(), count=1)
    assert evil in raw
    any_bot.append(raw)
    any_bot.poll()
    [to_ppk] = [m for m in any_bot.smtp.messages if m.rcpt_tos == [EMAIL]]  # the ack
    head = to_ppk.data.split(b"\r\n\r\n", 1)[0]
    assert b"\nX-Injected:" not in head
    assert to_ppk.header("X-Mailbot-Template") == "ack"  # today the injected lines even end the header block


def test_stranger_quoting_a_nip_does_not_learn_whose_it_is(any_bot: Bot) -> None:
    """Scenario: a stranger sends a request quoting Budi's NIP with a display name full of prose and a
    link; the reply greets neither with Budi's registry name nor with the stranger's prose, while the
    admin's review email does show the registry match."""
    any_bot.append(request_email("stranger@example.org", "Buka www.evil-lpse.example segera",
                                 "Permohonan reset password", f"NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("SK.pdf", sample_sk(NAME, NIP))]))
    any_bot.poll()
    [ack] = any_bot.sent("ack")
    body = ack.message.get_body(("plain",)).get_content()
    assert NAME not in body and "evil-lpse" not in body
    assert "Yth. Bapak/Ibu Buka segera," in body
    [review] = any_bot.sent("review_request")
    assert NAME in review.message.get_body(("plain",)).get_content()


# -- a From header without <...> (as in the third-party corpus) -------------------------------------
@pytest.mark.parametrize(("from_header", "address"), [
    ("Big Bug bb@bug.com", "bb@bug.com"),                                   # mikel-mail mix_caps_content_type.eml
    ("tim@powerupdev.com concierge@powerupdev.com", "tim@powerupdev.com"),  # mikel-mail raw_email_multiple_from.eml
])
def test_request_with_malformed_from_is_answered_at_the_address_it_contains(
        any_bot: Bot, from_header: str, address: str) -> None:
    """Scenario: a request whose From header lacks the <...> brackets (as in the corpus) gets its reply."""
    raw = (f"From: {from_header}\r\nTo: lpse@lpse-demo.go.id\r\nSubject: Permohonan reset password SPSE\r\n"
           f"Date: Mon, 22 Oct 2007 23:45:23 +0000\r\nMessage-ID: <malformed-from@example.com>\r\n\r\n"
           f"Dengan hormat, mohon reset password akun SPSE saya.\r\n").encode()
    any_bot.append(raw)
    assert any_bot.poll().errors == []
    with any_bot.app.factory() as s:
        senders = list(s.scalars(select(Case.sender)))
    assert senders == [address]
    replies = [m for m in any_bot.sent() if m.header("X-Mailbot-Template") in ("ack", "incomplete")]
    assert [m.rcpt_tos for m in replies] == [[address]]
