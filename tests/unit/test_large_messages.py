"""Issue 6: large messages are handled with few copies — set-aside parsing, chunked FETCH, streamed DATA.

The pure tests compare the optimised paths with the plain ones byte for byte; the integration tests run
a request with a large scan through real IMAP (Dovecot / pymap) and SMTP (aiosmtpd) servers with the
thresholds lowered, so every optimised path is exercised on small data."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from mailbot.demo import samplepdf
from mailbot.demo.servers import EmbeddedSmtp
from mailbot.demo.world import request_email
from mailbot.intake import mailbox, parse
from mailbot.intake.fetch import open_mailbox
from mailbot.outgoing import compose
from mailbot.outgoing import smtp as outbox
from mailbot.outgoing.smtp import (
    PermanentFailure,
    SmtpParams,
    SmtpSender,
    TemporaryFailure,
)
from mailbot.store.models import Case, InboundMessage
from tests.conftest import PPK_A, Bot
from tests.test_corpus_parse import corpus_files

NAME, NIP, EMAIL = PPK_A[0], PPK_A[1], PPK_A[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _as_dict(raw: bytes) -> dict | str:
    try:
        return dataclasses.asdict(parse.parse_message(raw))
    except parse.ParseError as exc:
        return f"ParseError: {exc}"


def _both_ways(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[dict | str, dict | str, bool]:
    """(plain parse, parse with every base64 run of >= 64 characters set aside, whether any was)."""
    monkeypatch.setattr(parse, "SPOOL_MIN_RUN", 10**12)
    plain = _as_dict(raw)
    monkeypatch.setattr(parse, "SPOOL_MIN_RUN", 64)
    used = parse._set_aside(raw)[1] is not None
    return plain, _as_dict(raw), used


def _scan(size: int) -> bytes:
    """A PDF that stands for a scan: a text layer plus `size` bytes of incompressible image data."""
    return samplepdf.sample_sk(NAME, NIP) + b"\n%" + os.urandom(size)


def _big_request(scan: bytes, body_extra: str = "") -> bytes:
    return request_email(EMAIL, NAME, "Permohonan reset password SPSE",
                         f"Dengan hormat, mohon reset password. NIP. {NIP}{body_extra}",
                         [("Surat Permohonan.pdf", samplepdf.sample_request_letter(NAME, NIP)),
                          ("SK PPK.pdf", samplepdf.sample_sk(NAME, NIP)),
                          ("Scan lampiran.pdf", scan)])


# -- set-aside parsing: same result as the plain parse ----------------------------------------------

def test_set_aside_parse_equals_plain_parse_on_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(FIXTURES.rglob("*.eml"))
    assert files
    used = 0
    for path in files:
        plain, aside, was_used = _both_ways(path.read_bytes(), monkeypatch)
        assert aside == plain, path.name
        used += was_used
    assert used >= 5  # the comparison really ran through the set-aside path


@pytest.mark.skipif(not corpus_files(), reason="corpus not found")
def test_set_aside_parse_equals_plain_parse_on_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 000 real-world messages (bounces, nested message/rfc822, 8-bit text, broken base64)."""
    used = 0
    for path in corpus_files():
        plain, aside, was_used = _both_ways(path.read_bytes(), monkeypatch)
        assert aside == plain, str(path)
        used += was_used
    assert used >= 100


def _mime(parts: list[tuple[str, dict[str, str], bytes]]) -> bytes:
    """A multipart/mixed message from (content type, extra headers, already encoded body) parts."""
    out = [b"From: A <a@example.go.id>\r\nTo: b@example.go.id\r\nSubject: x\r\nMessage-ID: <m@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\npreamble\r\n"]
    for ctype, headers, body in parts:
        head = f"Content-Type: {ctype}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        out.append(b"--BB\r\n" + head.encode() + b"\r\n" + body + b"\r\n")
    out.append(b"--BB--\r\n")
    return b"".join(out)


def _b64(data: bytes, nl: bytes = b"\r\n") -> bytes:
    return base64.encodebytes(data).replace(b"\n", nl)


@pytest.mark.parametrize("case", ["lf", "crlf", "bad-length", "padding-inside", "7bit-text-run",
                                  "trailing-garbage", "nested-rfc822", "two-runs", "single-part"])
def test_set_aside_edge_cases_parse_like_the_plain_parser(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(3000)
    att = {"Content-Transfer-Encoding": "base64", "Content-Disposition": 'attachment; filename="a.pdf"'}
    if case == "single-part":
        raw = (b"From: a@example.go.id\r\nSubject: x\r\nContent-Type: application/pdf\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(data))
    elif case == "nested-rfc822":
        inner = _mime([("application/pdf", att, _b64(data))])
        raw = _mime([("text/plain", {}, b"lihat lampiran"), ("message/rfc822", {}, inner)])
    else:
        body = {"lf": _b64(data, b"\n"), "crlf": _b64(data), "bad-length": _b64(data)[:-7],
                "padding-inside": _b64(data[:57]) + _b64(data[57:100]) + _b64(data[100:]),
                "7bit-text-run": _b64(data), "trailing-garbage": _b64(data) + b"-- ende --\r\n",
                "two-runs": _b64(data)}[case]
        ctype, headers = ("text/plain", {}) if case == "7bit-text-run" else ("application/pdf", att)
        parts = [("text/plain", {}, b"Dengan hormat"), (ctype, headers, body)]
        if case == "two-runs":
            parts.append(("image/png", att, _b64(os.urandom(2000), b"\n")))
        raw = _mime(parts)
        if case == "lf":
            raw = raw.replace(b"\r\n", b"\n")
    plain, aside, used = _both_ways(raw, monkeypatch)
    assert aside == plain
    assert not isinstance(plain, str) and plain["attachments"] or plain["text"]
    if case in ("lf", "crlf", "two-runs", "single-part", "nested-rfc822", "7bit-text-run", "trailing-garbage"):
        assert used


def test_parsing_a_large_attachment_holds_about_one_decoded_copy() -> None:
    """A 6 MiB scan: the parser's extra memory is the decoded attachment plus a little, not ~8x the mail."""
    scan = _scan(6 * 2**20)
    raw = _big_request(scan)
    tracemalloc.start()
    try:
        mail = parse.parse_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.payload for a in mail.attachments][2] == scan
    assert peak < len(scan) + 2 * 2**20, f"parse peaked at {peak / 2**20:.1f} MiB for a {len(raw) / 2**20:.1f} MiB mail"


# -- outgoing: base64 written into one buffer, DATA streamed -----------------------------------------

def test_base64_lines_match_the_stdlib_encoding() -> None:
    for size in (0, 1, 56, 57, 58, 114, 1000, 65537):
        data = os.urandom(size)
        assert bytes(compose._base64_lines(data, b"H:\r\n")) == b"H:\r\n" + _b64(data)


def _streamed_roundtrip(smtp: EmbeddedSmtp, raw: bytes, monkeypatch: pytest.MonkeyPatch) -> bytes:
    host, port = smtp.start()
    monkeypatch.setattr(outbox, "STREAM_ABOVE", 0)
    monkeypatch.setattr(outbox, "_STREAM_CHUNK", 7)  # chunk borders fall inside lines and before dots
    sender = SmtpSender(SmtpParams(host, port, "none", None, None, timeout=5.0))
    try:
        sender.send("bot@lpse.example.go.id", ["ppk@example.go.id"], raw)
    finally:
        sender.close()
    return smtp.messages[-1].data


@pytest.mark.parametrize("ending", [b"\r\n", b""])
def test_streamed_data_arrives_byte_for_byte(smtp_server: EmbeddedSmtp, ending: bytes,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Dot-stuffing across chunk borders: lines that are or start with "." arrive unchanged."""
    raw = (b"From: a@x\r\nSubject: titik\r\n\r\n.\r\n..\r\n.awal baris\r\ntengah . baris\r\n"
           b"\r\n.\r\nakhir." + ending)
    assert _streamed_roundtrip(smtp_server, raw, monkeypatch) == raw + (b"" if ending else b"\r\n")


@pytest.mark.parametrize("code,error", [("451 4.3.0 Coba lagi", TemporaryFailure),
                                        ("552 5.3.4 Terlalu besar", PermanentFailure)])
def test_streamed_data_refused_is_classified_like_sendmail(smtp_server: EmbeddedSmtp, code: str, error: type,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    smtp_server.fail_next(1, code)
    with pytest.raises(error, match=code[:3]):
        _streamed_roundtrip(smtp_server, b"From: a@x\r\n\r\nisi\r\n", monkeypatch)
    assert smtp_server.messages == []


# -- end to end through real servers -------------------------------------------------------------

def test_large_request_through_real_servers(any_bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: a request with a 700 KiB scan is fetched in partial FETCHes, parsed with its base64 set
    aside, and the review_request carrying it is sent as streamed DATA; every byte arrives intact."""
    monkeypatch.setattr(mailbox, "FETCH_CHUNK", 64 * 1024)
    monkeypatch.setattr(parse, "SPOOL_MIN_RUN", 4096)
    monkeypatch.setattr(outbox, "STREAM_ABOVE", 64 * 1024)
    monkeypatch.setattr(outbox, "_STREAM_CHUNK", 10_000)
    scan = _scan(700 * 1024)
    raw = _big_request(scan, "\r\n.\r\n.titik di awal baris")
    any_bot.append(raw)
    result = any_bot.poll()
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


def test_message_of_exactly_one_chunk_and_one_byte_more(any_bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk arithmetic: messages one byte under, exactly at and one byte over a chunk multiple arrive whole."""
    raw = _big_request(_scan(20_000))
    for extra in (b"", b"\r\n", b"\r\nX\r\n"):
        any_bot.append(raw + extra)
    with open_mailbox(any_bot.app) as mb:
        mb.select("INBOX")
        uids = mb.uids_after(0)
        plain = mb.fetch_raw(uids)
        size = len(plain[uids[1]])
        for chunk in (size - 1, size, size + 1, size // 2, size // 3 + 1):
            monkeypatch.setattr(mailbox, "FETCH_CHUNK", chunk)
            assert mb.fetch_raw(uids, mb.sizes(uids)) == plain, chunk
