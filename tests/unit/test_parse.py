"""Tests for mailbot.parse on own-made messages: encodings, names, bodies, fallbacks and limits."""

from __future__ import annotations

import email
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.domain.mail import ParsedMail
from mailbot.domain.text import normalize_message_id, sanitize_filename
from mailbot.intake.parse import ParseError, html_to_text, parse_message
from tests.support.paths import FIXTURES

MAIL = FIXTURES / "mail"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def simple(headers: str, body: str = "Isi pesan.\n") -> bytes:
    """A message from literal header lines (LF line ends) and a body."""
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


def request_with(*attachments: tuple[bytes, str, str, str]) -> bytes:
    """A PPK request built with EmailMessage; attachments as (data, maintype, subtype, filename)."""
    msg = EmailMessage()
    msg["From"] = "Budi Santoso <budi@pu.example.go.id>"
    msg["To"] = "lpse@lpse.example.go.id"
    msg["Subject"] = "Permohonan reset password"
    msg["Message-ID"] = "<req-1@pu.example.go.id>"
    msg.set_content("Dengan hormat, terlampir dokumen.\n")
    for data, maintype, subtype, filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


# --------------------------------------------------------------------------- own-made fixtures

def test_utf8_request_decodes_subject_sender_and_rfc2231_names() -> None:
    mail = parse_message(fixture("ppk_request_utf8.eml"))

    assert mail.subject == "Permohonan Reset Password – Dinas PU"
    assert mail.from_addr == "budi.santoso@pu.example.go.id"
    assert mail.from_name == "Budi Santoso – PPK"
    assert mail.to == ["lpse@lpse.example.go.id"]
    assert mail.cc == ["sekretariat@pu.example.go.id"]
    assert mail.return_path == "budi.santoso@pu.example.go.id"
    assert mail.message_id == "<CAF=req-0001@mail.example.com>"
    assert mail.date == datetime(2025, 1, 6, 2, 15, tzinfo=timezone.utc)
    assert mail.content_type == "multipart/mixed"
    names = [a.filename for a in mail.attachments]
    assert names == ["SK Pengangkatan PPK – Dinas PU.pdf", "Surat Permohonan Reset Password Dinas PU.pdf"]
    assert all(a.content_type == "application/pdf" and a.payload.startswith(b"%PDF") for a in mail.attachments)
    assert not any(a.inline for a in mail.attachments)


def test_utf8_request_body_prefers_plain_text_and_keeps_html() -> None:
    mail = parse_message(fixture("ppk_request_utf8.eml"))

    assert "saya mohon reset password SPSE – terlampir surat permohonan" in mail.text
    assert "\r" not in mail.text
    assert mail.html is not None and "<b>reset password</b>" in mail.html


def test_latin1_request_decodes_rfc2047_and_rfc2231_in_iso_8859_1() -> None:
    mail = parse_message(fixture("ppk_request_latin1.eml"))

    assert mail.subject == "Permohonan Informasi User ID « Dinas Kesehatan »"
    assert mail.from_name == "André Prévost"
    assert mail.text.strip().endswith("«André»")
    # The second file name exists only as an RFC 2047 word in Content-Type name= (Outlook style).
    assert [a.filename for a in mail.attachments] == ["Surat Permohonan «User ID».pdf",
                                                      "SK Pengangkatan PPK André.pdf"]


def test_emailmessage_non_ascii_attachment_name_round_trips() -> None:
    raw = request_with((PDF, "application", "pdf", "SK Pengangkatan PPK – Dinas PU.pdf"))

    mail = parse_message(raw)

    assert [a.filename for a in mail.attachments] == ["SK Pengangkatan PPK – Dinas PU.pdf"]
    assert mail.attachments[0].payload == PDF


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\System32\\evil.pdf", "evil.pdf"),
    ("/absolute/path/surat.pdf", "surat.pdf"),
    ("..", "lampiran.pdf"),
])
def test_path_traversal_names_are_reduced_to_a_base_name(name: str, expected: str) -> None:
    mail = parse_message(request_with((PDF, "application", "pdf", name)))

    assert mail.attachments[0].filename == expected


def test_html_only_body_is_converted_to_text() -> None:
    mail = parse_message(fixture("html_only.eml"))

    assert mail.html is not None and "<script>" in mail.html
    assert "alert" not in mail.text and "color" not in mail.text and "judul" not in mail.text
    assert "Saya lupa password & mohon bantuannya." in mail.text
    assert "Nama: Siti Aminah" in mail.text.splitlines()
    assert mail.text.splitlines()[-2:] == ["Salam,", "Siti"]


def test_eight_bit_headers_decode_as_utf8_then_latin1() -> None:
    mail = parse_message(fixture("eight_bit_headers.eml"))

    assert mail.subject == "Perubahan password – Dinas Pemuda dan Olahraga"  # raw UTF-8 bytes
    assert mail.from_name == "Dra. Sri Wähyuni"  # raw ISO-8859-1 byte
    assert mail.header("From") == "Dra. Sri Wähyuni <sri@dispora.example.go.id>"


def test_unknown_charset_x_unknown_falls_back_to_utf8() -> None:
    mail = parse_message(fixture("eight_bit_headers.eml"))

    assert mail.text == "Mohon perubahan password untuk akun saya – terima kasih.\n"


def test_invalid_charset_with_latin1_bytes_falls_back_to_latin1_and_notes_it() -> None:
    raw = (b"From: a@example.go.id\nSubject: x\nContent-Type: text/plain; charset=bogus-42\n"
           b"Content-Transfer-Encoding: 8bit\n\nTerima kasih, Andr\xe9.\n")

    mail = parse_message(raw)

    assert mail.text == "Terima kasih, André.\n"
    assert any("bogus-42" in defect for defect in mail.defects)


def test_mbox_from_line_is_stripped_and_only_first_message_parsed() -> None:
    mail = parse_message(fixture("two_messages.mbox"))

    assert mail.message_id == "<mbox-1@pu.example.go.id>"
    assert mail.subject == "Pesan pertama"
    assert "kedua" not in mail.text
    assert any("mbox" in defect for defect in mail.defects)


def test_obsolete_from_header_with_space_before_colon_is_not_an_mbox_line() -> None:
    mail = parse_message(b"From  : Budi <budi@example.go.id>\r\nSubject  : Halo\r\n\r\nIsi.\r\n")

    assert mail.from_addr == "budi@example.go.id"
    assert mail.subject == "Halo"


def test_utf8_bom_is_stripped() -> None:
    mail = parse_message(fixture("bom.eml"))

    assert mail.from_addr == "budi@pu.example.go.id"
    assert mail.subject == "Dengan BOM"
    assert "\ufeff" not in "".join(mail.headers)


# --------------------------------------------------------------------------- missing and odd headers

def test_missing_message_id_and_garbage_message_id_give_none() -> None:
    assert parse_message(simple("From: a@example.go.id\nSubject: x")).message_id is None
    assert parse_message(simple("From: a@example.go.id\nMessage-ID: not an id")).message_id is None


def test_missing_from_gives_empty_sender() -> None:
    mail = parse_message(simple("To: lpse@lpse.example.go.id\nSubject: Tanpa pengirim"))

    assert (mail.from_addr, mail.from_name) == ("", "")
    assert mail.to == ["lpse@lpse.example.go.id"]


def test_mailer_daemon_without_domain_and_undisclosed_recipients() -> None:
    mail = parse_message(simple("From: MAILER-DAEMON (Mail Delivery System)\n"
                                "To: unlisted-recipients:; (no To-header on input)\nSubject: x"))

    assert mail.from_addr == "mailer-daemon"
    assert mail.to == []


def test_null_return_path_is_empty_string_and_absent_is_none() -> None:
    assert parse_message(simple("Return-Path: <>\nFrom: a@example.go.id")).return_path == ""
    assert parse_message(simple("From: a@example.go.id")).return_path is None


def test_threading_headers_are_normalised_in_order() -> None:
    raw = simple("From: a@example.go.id\nMessage-ID:  < abc@x.example >\n"
                 "In-Reply-To: <p1@lpse.example.go.id> (Budi's message)\n"
                 "References: <r1@a.example>\n <r2@b.example>\t<r3@c.example>")

    mail = parse_message(raw)

    assert mail.message_id == "<abc@x.example>"
    assert mail.in_reply_to == ["<p1@lpse.example.go.id>"]
    assert mail.references == ["<r1@a.example>", "<r2@b.example>", "<r3@c.example>"]


def test_dates_are_aware_utc_and_bad_dates_are_none_with_a_note() -> None:
    unknown_zone = parse_message(simple("From: a@b.example\nDate: Mon, 6 Jan 2025 09:00:00 -0000"))
    bad = parse_message(simple("From: a@b.example\nDate: kemarin sore"))

    assert unknown_zone.date == datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
    assert bad.date is None
    assert any("Date" in defect for defect in bad.defects)


def test_headers_keep_all_occurrences_and_lookup_is_case_insensitive() -> None:
    mail = parse_message(simple("From: a@b.example\nReceived: one\nReceived: two\n"
                                "X-Catatan: =?utf-8?q?Pengajuan_=E2=80=93_ulang?="))

    assert mail.headers["received"] == ["one", "two"]
    assert mail.header("RECEIVED") == "one"
    assert mail.header("x-catatan") == "Pengajuan – ulang"
    assert mail.header("x-absent") is None


def test_subject_whitespace_is_collapsed_and_split_utf8_words_join() -> None:
    # "–" (3 bytes) split across two encoded words, as some mailers do.
    mail = parse_message(simple("From: a@b.example\nSubject: =?UTF-8?B?UmVzZXQg4oA=?=\n"
                                " =?UTF-8?B?kw==?=   password"))

    assert mail.subject == "Reset – password"


# --------------------------------------------------------------------------- MIME structures

def test_attached_message_becomes_subject_eml_with_raw_bytes() -> None:
    inner = EmailMessage()
    inner["From"] = "x@example.go.id"
    inner["Subject"] = "Surat asli: permohonan"
    inner.set_content("asli\n")
    outer = EmailMessage()
    outer["From"] = "a@example.go.id"
    outer.set_content("terusan\n")
    outer.add_attachment(inner)  # message/rfc822 without a file name

    mail = parse_message(outer.as_bytes())

    (attached,) = mail.attachments
    assert attached.filename == "Surat asli permohonan.eml"
    assert attached.content_type == "message/rfc822"
    assert email.message_from_bytes(attached.payload)["Subject"] == "Surat asli: permohonan"
    assert mail.text == "terusan\n"


def test_tnef_part_without_name_is_winmail_dat() -> None:
    raw = (b"From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
           b"--b\nContent-Type: text/plain\n\nisi\n--b\nContent-Type: application/ms-tnef\n"
           b"Content-Transfer-Encoding: base64\n\neJ8+IgAA\n--b--\n")

    mail = parse_message(raw)

    assert [(a.filename, a.content_type) for a in mail.attachments] == [("winmail.dat", "application/ms-tnef")]
    assert mail.attachments[0].payload.startswith(b"\x78\x9f\x3e\x22")


def test_signed_mail_yields_body_and_attachments_without_the_signature() -> None:
    raw = (b"From: a@b.example\nMIME-Version: 1.0\n"
           b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s\n\n'
           b"--s\nContent-Type: multipart/mixed; boundary=m\n\n"
           b"--m\nContent-Type: text/plain\n\nisi bertanda tangan\n"
           b"--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=sk.pdf\n"
           b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--m--\n"
           b"--s\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
           b"Content-Disposition: attachment; filename=smime.p7s\n\nAAAA\n--s--\n")

    mail = parse_message(raw)

    assert mail.text.strip() == "isi bertanda tangan"
    assert [a.filename for a in mail.attachments] == ["sk.pdf"]
    assert mail.attachments[0].payload == b"%PDF-1.4\n"


@pytest.mark.parametrize("content_type", [
    'multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e',
    'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m',
])
def test_encrypted_mail_yields_no_attachments_and_an_encrypted_note(content_type: str) -> None:
    body = (b"--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--e\n"
            b"Content-Type: application/octet-stream; name=encrypted.asc\n\n-----BEGIN PGP MESSAGE-----\n--e--\n")
    raw = f"From: a@b.example\nMIME-Version: 1.0\nContent-Type: {content_type}\n\n".encode() + body

    mail = parse_message(raw)

    assert mail.attachments == []
    assert any(defect.startswith("encrypted") for defect in mail.defects)


def test_inline_image_with_content_id_is_an_inline_attachment() -> None:
    raw = (b"From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=r\n\n"
           b"--r\nContent-Type: text/html\n\n<p>scan: <img src=cid:img1@x></p>\n"
           b"--r\nContent-Type: image/png\nContent-ID: <img1@x>\nContent-Transfer-Encoding: base64\n\n"
           b"iVBORw0KGgo=\n--r--\n")

    mail = parse_message(raw)

    (image,) = mail.attachments
    assert (image.filename, image.content_id, image.inline) == ("lampiran.png", "<img1@x>", True)
    assert mail.text == "scan:"


def test_mail_parser_failure_on_broken_boundary_falls_back_to_stdlib() -> None:
    # No closing boundary (so no epilogue) and an inner boundary that never occurs:
    # mail-parser 4.8 raises AttributeError on this shape (seen in SendGrid bounces).
    raw = (b"From: a@b.example\nSubject: rusak\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\nisi\n"
           b"--outer\nContent-Type: multipart/alternative; boundary=never\n\nteks tanpa batas\n")

    mail = parse_message(raw)

    assert mail.subject == "rusak"
    assert mail.text.startswith("isi")
    assert any("mail-parser failed" in defect for defect in mail.defects)


def test_stdlib_failure_falls_back_to_a_bare_split(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("simulated parser bug")

    monkeypatch.setattr(email, "message_from_bytes", broken)  # used by mail-parser and by our fallback

    mail = parse_message(simple("From: Budi <budi@example.go.id>\nSubject: Tetap terbaca\n"
                                "Content-Type: multipart/mixed; boundary=x", "isi\n"))

    assert (mail.from_addr, mail.subject) == ("budi@example.go.id", "Tetap terbaca")
    assert "isi" in mail.text
    assert any("bare header/body split" in defect for defect in mail.defects)


# --------------------------------------------------------------------------- rejections and limits

@pytest.mark.parametrize("raw", [b"", b"\n", b"a\r\n", b"\xef\xbb\xbf"])
def test_empty_and_tiny_inputs_raise_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_message(raw)


def test_outlook_msg_file_raises_a_clear_parse_error() -> None:
    with pytest.raises(ParseError, match=r"Outlook \.msg"):
        parse_message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)


def test_text_without_any_header_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="no RFC 822 header"):
        parse_message(b"Lorem ipsum dolor sit amet,\nconsectetur adipisicing elit.\n")


def test_more_attachments_than_the_limit_raise() -> None:
    raw = request_with(*[(PDF, "application", "pdf", f"f{i}.pdf") for i in range(4)])

    assert len(parse_message(raw, max_attachments=4).attachments) == 4
    with pytest.raises(ParseError, match="max_attachments=3"):
        parse_message(raw, max_attachments=3)


def nested(levels: int) -> bytes:
    head = b"From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b0\n\n"
    opening = b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1)
                       for i in range(levels))
    closing = b"".join(b"--b%d--\n" % i for i in reversed(range(levels + 1)))
    return head + opening + b"--b%d\nContent-Type: text/plain\n\ndalam\n" % levels + closing


def test_nesting_deeper_than_the_limit_raises() -> None:
    assert parse_message(nested(3), max_depth=4).text.strip() == "dalam"
    with pytest.raises(ParseError, match="max_depth=3"):
        parse_message(nested(3), max_depth=3)


def test_pathologically_deep_nesting_raises_parse_error_not_recursion_error() -> None:
    with pytest.raises(ParseError, match="max_depth"):
        parse_message(nested(3000))


def test_headers_bigger_than_the_limit_raise() -> None:
    raw = simple("From: a@b.example\n" + "".join(f"X-Pad-{i}: {'x' * 90}\n" for i in range(40)))

    assert parse_message(raw, max_header_bytes=8_000).from_addr == "a@b.example"
    with pytest.raises(ParseError, match="max_header_bytes=2000"):
        parse_message(raw, max_header_bytes=2_000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes_parse_or_raise_parse_error(raw: bytes) -> None:
    try:
        assert isinstance(parse_message(raw), ParsedMail)
    except ParseError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=1690), st.binary(min_size=1, max_size=8))
def test_mutated_request_parses_or_raises_parse_error(offset: int, junk: bytes) -> None:
    original = fixture("ppk_request_utf8.eml")
    raw = original[:offset] + junk + original[offset + len(junk):]
    try:
        assert isinstance(parse_message(raw), ParsedMail)
    except ParseError:
        pass


# --------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("name, expected", [
    ("SK Pengangkatan PPK – Dinas PU.pdf", "SK Pengangkatan PPK – Dinas PU.pdf"),
    ("surat\tper\x00moh\x07onan.pdf", "surat permohonan.pdf"),
    ('a<b>c:d"e|f?g*h.pdf', "abcdefgh.pdf"),
    ("...hidden.pdf", "hidden.pdf"),
    ("  banyak    spasi\t\n.pdf  ", "banyak spasi .pdf"),
    ("fdp\u202e.exe", "fdp.exe"),
    ("CON.pdf", "_CON.pdf"),
    ("=?utf-8?q?Surat_=E2=80=93_PPK.pdf?=", "Surat – PPK.pdf"),
    ("", "lampiran"),
    (".", "lampiran"),
    ("..", "lampiran"),
    ("///", "lampiran"),
])
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_sanitize_filename_caps_length_keeping_the_extension_and_uses_fallback() -> None:
    capped = sanitize_filename("x" * 300 + ".pdf")

    assert len(capped) == 150 and capped.endswith("xx.pdf")
    assert sanitize_filename("../", fallback="dokumen.pdf") == "dokumen.pdf"


def test_html_to_text_keeps_line_breaks_and_drops_scripts() -> None:
    html = ("<style>.a{}</style><div>Satu</div><p>Dua&nbsp;&amp; tiga</p>empat<br>lima"
            "<ul><li>enam</li></ul><blockquote>tujuh</blockquote><script>var x;</script>")

    assert html_to_text(html).splitlines() == ["Satu", "", "Dua & tiga", "empat", "lima", "",
                                               "enam", "", "tujuh"]


@pytest.mark.parametrize("value, expected", [
    ("<abc@example.com>", "<abc@example.com>"),
    ("  <abc@example.com> (comment)", "<abc@example.com>"),
    ("abc@example.com", "<abc@example.com>"),
    ("<abc\r\n @example.com>", "<abc@example.com>"),
    ("<[AB12=@microsoft.com]>", "<[AB12=@microsoft.com]>"),
    ("<no-at-sign>", None),
    ("garbage here", None),
    ("", None),
    (None, None),
])
def test_normalize_message_id(value: str | None, expected: str | None) -> None:
    assert normalize_message_id(value) == expected
