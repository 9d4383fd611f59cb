"""Large messages through real servers with few copies: partial FETCHes from Dovecot / pymap, DATA
streamed to aiosmtpd in chunks, with the thresholds lowered (parameters) so every optimised path is
exercised on small data. (The set-aside parsing on its own: unit/test_large_messages.py.)"""

from __future__ import annotations

import hashlib

import pytest

from mailbot.intake.fetch import open_mailbox
from mailbot.intake.mailbox import ImapMailbox
from mailbot.outgoing.smtp import (
    PermanentFailure,
    SmtpParams,
    SmtpSender,
    TemporaryFailure,
)
from mailbot.store.models import Case, InboundMessage
from tests.support.bot import Bot
from tests.support.documents import scan_pdf
from tests.support.mails import PPK_A, big_request
from tests.support.servers import FaultySmtp

EMAIL = PPK_A[2]


# -- outgoing: DATA streamed -----------------------------------------------------------------------

def _streamed_roundtrip(smtp: FaultySmtp, raw: bytes) -> bytes:
    host, port = smtp.start()
    # Every mail streamed, in 7-byte chunks: chunk borders fall inside lines and before dots.
    sender = SmtpSender(SmtpParams(host, port, "none", None, None, timeout=5.0), stream_above=0, stream_chunk=7)
    try:
        sender.send("bot@lpse.example.go.id", ["ppk@example.go.id"], raw)
    finally:
        sender.close()
    return smtp.messages[-1].data


@pytest.mark.parametrize("ending", [b"\r\n", b""])
def test_streamed_data_arrives_byte_for_byte(smtp_server: FaultySmtp, ending: bytes) -> None:
    """Dot-stuffing across chunk borders: lines that are or start with "." arrive unchanged."""
    raw = (b"From: a@x\r\nSubject: titik\r\n\r\n.\r\n..\r\n.awal baris\r\ntengah . baris\r\n"
           b"\r\n.\r\nakhir." + ending)
    assert _streamed_roundtrip(smtp_server, raw) == raw + (b"" if ending else b"\r\n")


@pytest.mark.parametrize("code,error", [("451 4.3.0 Coba lagi", TemporaryFailure),
                                        ("552 5.3.4 Terlalu besar", PermanentFailure)])
def test_streamed_data_refused_is_classified_like_sendmail(smtp_server: FaultySmtp, code: str, error: type) -> None:
    smtp_server.fail_next(1, code)
    with pytest.raises(error, match=code[:3]):
        _streamed_roundtrip(smtp_server, b"From: a@x\r\n\r\nisi\r\n")
    assert smtp_server.messages == []


# -- end to end through real servers -------------------------------------------------------------

def test_large_request_through_real_servers(any_bot: Bot) -> None:
    """Scenario: a request with a 700 KiB scan is fetched in partial FETCHes, parsed with its base64 set
    aside, and the review_request carrying it is sent as streamed DATA; every byte arrives intact."""
    scan = scan_pdf(700 * 1024)
    raw = big_request(scan, "\r\n.\r\n.titik di awal baris")
    any_bot.append(raw)
    result = any_bot.poll_pass(mailbox=ImapMailbox(open_mailbox(any_bot.app).params, fetch_chunk=64 * 1024),
                               sender=SmtpSender(any_bot.app.smtp_sender().params, stream_above=64 * 1024,
                                                 stream_chunk=10_000),
                               spool_min_run=4096)
    assert result.processed == 1 and result.quarantined == 0
    [row] = any_bot.all(InboundMessage)
    served = _fetch_whole(any_bot, any_bot.app.settings.imap.processed_folder)  # what the server holds (it may have normalised line ends)
    assert row.sha256 == hashlib.sha256(served).hexdigest() and row.size == len(served) > 700 * 1024
    assert any_bot.app.store.get(row.raw_blob) == served
    [case] = any_bot.all(Case)
    assert case.status == "AWAITING_REVIEW"
    [review] = any_bot.sent("review_request")
    files = {p.get_filename(): p.get_content() for p in review.message.iter_attachments()}
    assert files["Scan lampiran.pdf"] == scan
    assert len(review.data) > 64 * 1024  # it went through the streamed path
    [ack] = any_bot.sent("ack")
    assert ack.rcpt_tos == [EMAIL]


def _fetch_whole(bot: Bot, folder: str) -> bytes:
    """The one message in `folder`, fetched in one plain FETCH."""
    with open_mailbox(bot.app) as mb:
        mb.select(bot.folder(folder))
        [uid] = mb.uids_after(0)
        return mb.fetch_raw([uid])[uid]


def test_message_of_exactly_one_chunk_and_one_byte_more(any_bot: Bot) -> None:
    """Chunk arithmetic: messages one byte under, exactly at and one byte over a chunk multiple arrive whole."""
    raw = big_request(scan_pdf(20_000))
    for extra in (b"", b"\r\n", b"\r\nX\r\n"):
        any_bot.append(raw + extra)
    with open_mailbox(any_bot.app) as mb:
        mb.select("INBOX")
        uids = mb.uids_after(0)
        plain = mb.fetch_raw(uids)
        size = len(plain[uids[1]])
        for chunk in (size - 1, size, size + 1, size // 2, size // 3 + 1):
            with ImapMailbox(mb.params, fetch_chunk=chunk) as chunked:
                chunked.select("INBOX")
                assert chunked.fetch_raw(uids, chunked.sizes(uids)) == plain, chunk
