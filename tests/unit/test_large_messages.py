"""Large messages are parsed with few copies: base64 runs are set aside before parsing and decoded
straight from the raw bytes, with the same result as the plain parse; outgoing base64 is written into
one buffer. (The partial FETCH and the streamed DATA, on real servers: integration/test_large_messages.py;
the set-aside parse over the whole corpus: slow/test_corpus_parse.py.)"""

from __future__ import annotations

import base64
import os
import tracemalloc

import pytest

from mailbot.intake import parse
from mailbot.outgoing import compose
from tests.support.documents import scan_pdf
from tests.support.mails import big_request
from tests.support.parsing import both_ways
from tests.support.paths import FIXTURES


def test_set_aside_parse_equals_plain_parse_on_fixtures() -> None:
    files = sorted(FIXTURES.rglob("*.eml"))
    assert files
    used = 0
    for path in files:
        plain, aside, was_used = both_ways(path.read_bytes())
        assert aside == plain, path.name
        used += was_used
    assert used >= 5  # the comparison really ran through the set-aside path


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
def test_set_aside_edge_cases_parse_like_the_plain_parser(case: str) -> None:
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
    plain, aside, used = both_ways(raw)
    assert aside == plain
    assert not isinstance(plain, str) and plain["attachments"] or plain["text"]
    if case in ("lf", "crlf", "two-runs", "single-part", "nested-rfc822", "7bit-text-run", "trailing-garbage"):
        assert used


def test_parsing_a_large_attachment_holds_about_one_decoded_copy() -> None:
    """A 6 MiB scan: the parser's extra memory is the decoded attachment plus a little, not ~8x the mail."""
    scan = scan_pdf(6 * 2**20)
    raw = big_request(scan)
    tracemalloc.start()
    try:
        mail = parse.parse_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.payload for a in mail.attachments][2] == scan
    assert peak < len(scan) + 2 * 2**20, f"parse peaked at {peak / 2**20:.1f} MiB for a {len(raw) / 2**20:.1f} MiB mail"


# -- outgoing: base64 written into one buffer -----------------------------------------

def test_base64_lines_match_the_stdlib_encoding() -> None:
    for size in (0, 1, 56, 57, 58, 114, 1000, 65537):
        data = os.urandom(size)
        assert bytes(compose._base64_lines(data, b"H:\r\n")) == b"H:\r\n" + _b64(data)
