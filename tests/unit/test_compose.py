"""Outgoing MIME: stable signed Message-IDs, SPEC §4 headers, and no header injection."""

from __future__ import annotations

import email
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage

import pytest

from mailbot.outgoing.compose import (
    AUTO_GENERATED,
    Outgoing,
    OutgoingAttachment,
    build_message,
    case_from_message_ids,
    make_message_id,
)
from mailbot.outgoing.render import TEMPLATES, Rendered

SECRET = b"s3cret-key-for-tests"
DOMAIN = "mailbot.lpse.example.go.id"
CASE = "LPSE-BYS-2026-00042"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
FROM = "lpse@lpse.example.go.id"
EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "x-auto-response-suppress",
                    "x-mailbot-template", "x-mailbot-case", "mime-version", "content-type",
                    "in-reply-to", "references"}
INJECTIONS = ["x\r\nBcc: evil@attacker.example", "x\nBcc: evil@attacker.example",
              "x\rBcc: evil@attacker.example", "x\r\n\r\nBcc: evil@attacker.example",
              "x\r\n Bcc: evil@attacker.example", "x\x00\x0bBcc: evil@attacker.example"]


def out(template: str = "ack", *, subject: str = "Permohonan diterima", to: list[str] | None = None,
        case: str | None = CASE, **kw: object) -> Outgoing:
    return Outgoing(template, to or ["ppk@pu.example.go.id"], Rendered(subject, "Isi teks.", "<p>Isi</p>"),
                    case_number=case, **kw)  # type: ignore[arg-type]


def build(o: Outgoing, from_name: str = "LPSE Kabupaten") -> EmailMessage:
    return build_message(o, from_address=FROM, from_name=from_name,
                         message_id=make_message_id(SECRET, "k1", o.case_number, DOMAIN), date=NOW)


def reparse(msg: EmailMessage) -> EmailMessage:
    """What a receiving mail client sees: the bytes on the wire, parsed by the stdlib."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# -- Message-IDs ---------------------------------------------------------------------------------
def test_message_id_is_stable_per_key_and_differs_per_key() -> None:
    """The same outbox row always gets the same Message-ID; another row gets another."""
    a = make_message_id(SECRET, "case1:ack", CASE, DOMAIN)
    assert a == make_message_id(SECRET, "case1:ack", CASE, DOMAIN)
    assert a != make_message_id(SECRET, "case1:incomplete", CASE, DOMAIN)
    assert a != make_message_id(b"another-secret", "case1:ack", CASE, DOMAIN)
    assert a.startswith(f"<mb.{CASE}.") and a.endswith(f"@{DOMAIN}>")
    assert "case1" not in a  # the key itself is not disclosed


def test_case_is_recovered_from_our_id_in_references_or_in_reply_to() -> None:
    """A PPK's reply threads back by our Message-ID wherever it sits among the references."""
    ours = make_message_id(SECRET, "k", CASE, DOMAIN)
    assert case_from_message_ids(SECRET, [ours]) == CASE
    assert case_from_message_ids(SECRET, ["<abc@mail.gmail.com>", "", ours, "<x@y>"]) == CASE
    # A mail client may hand over a whole References header as one string.
    assert case_from_message_ids(SECRET, [f"<abc@mail.gmail.com> {ours}"]) == CASE


def test_an_id_without_a_case_is_skipped() -> None:
    """Our case-less ID (e.g. a 'too large' notice) earlier in the thread does not hide the case's ID."""
    nocase = make_message_id(SECRET, "k0", None, DOMAIN)
    assert "NOCASE" in nocase
    assert case_from_message_ids(SECRET, [nocase]) is None
    assert case_from_message_ids(SECRET, [nocase, make_message_id(SECRET, "k", CASE, DOMAIN)]) == CASE


def test_tampered_ids_are_rejected() -> None:
    """A forged tag (other case, altered signature or nonce) or another secret never yields a case."""
    ours = make_message_id(SECRET, "k", CASE, DOMAIN)
    _, case, nonce, sig = ours[1:].split("@")[0].split(".")
    other_case = ours.replace(CASE, "LPSE-BYS-2026-00001")
    flipped_sig = ours.replace(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    flipped_nonce = ours.replace(nonce, nonce[:-1] + ("0" if nonce[-1] != "0" else "1"))
    assert case == CASE
    for forged in (other_case, flipped_sig, flipped_nonce):
        assert case_from_message_ids(SECRET, [forged]) is None, forged
    assert case_from_message_ids(b"another-secret", [ours]) is None


@pytest.mark.parametrize("mid", ["<abc@mail.gmail.com>", "<mb.LPSE-BYS-2026-00042@evil.example>",
                                 "<mb.LPSE-BYS-2026-00042.0123456789ab.0123456789abcdef@evil.example>",
                                 "", "not an id"])
def test_foreign_ids_are_rejected(mid: str) -> None:
    """Other people's Message-IDs, including ones imitating our format, give no case."""
    assert case_from_message_ids(SECRET, [mid]) is None


# -- headers -------------------------------------------------------------------------------------
def test_spec_headers() -> None:
    """An ack carries the SPEC §4 headers, threads to the request, and has the case in the subject."""
    msg = reparse(build(out(in_reply_to="<req@pu.example.go.id>",
                            references=["<old@pu.example.go.id>", "<req@pu.example.go.id>"])))
    assert msg["X-Mailbot-Template"] == "ack"
    assert msg["X-Mailbot-Case"] == CASE
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Subject"] == f"[{CASE}] Permohonan diterima"
    assert msg["In-Reply-To"] == "<req@pu.example.go.id>"
    assert msg["References"].split() == ["<old@pu.example.go.id>", "<req@pu.example.go.id>"]
    assert msg["Message-ID"] == make_message_id(SECRET, "k1", CASE, DOMAIN)
    assert msg["From"].addresses[0].addr_spec == FROM
    assert msg["From"].addresses[0].display_name == "LPSE Kabupaten"
    assert [a.addr_spec for a in msg["To"].addresses] == ["ppk@pu.example.go.id"]
    assert msg.get_body(("plain",)).get_content().strip() == "Isi teks."
    assert msg.get_body(("html",)).get_content().strip() == "<p>Isi</p>"


GENERATED = ["reminder_documents", "admin_digest", "review_request", "delivery_failure"]
REPLIES = ["ack", "incomplete", "credentials", "rejected", "admin_confirmation", "admin_command_error",
           "too_large", "auto_reply_limit"]


@pytest.mark.parametrize("template", GENERATED + REPLIES)
def test_auto_submitted_by_template(template: str) -> None:
    """Reminders, digests, review requests and failure alerts are auto-generated; answers auto-replied."""
    msg = reparse(build(out(template)))
    assert msg["Auto-Submitted"] == ("auto-generated" if template in GENERATED else "auto-replied")
    assert msg["X-Mailbot-Template"] == template


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_is_marked_automatic(template: str) -> None:
    """No template goes out without Auto-Submitted (so no auto-responder ever answers us)."""
    msg = reparse(build(out(template)))
    assert msg["Auto-Submitted"] in ("auto-generated", "auto-replied")
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert (msg["Auto-Submitted"] == "auto-generated") == (template in AUTO_GENERATED)


def test_case_prefix_appears_once() -> None:
    """A subject that already carries '[case]' (e.g. 'Re: [case] …') is not prefixed again."""
    for subject in (f"[{CASE}] Permohonan diterima", f"Re: [{CASE}] Permohonan diterima"):
        msg = reparse(build(out(subject=subject)))
        assert msg["Subject"] == subject
        assert msg["Subject"].count(f"[{CASE}]") == 1


def test_mail_without_a_case_has_no_case_header_or_prefix() -> None:
    """A notice that concerns no case (e.g. too_large) has neither X-Mailbot-Case nor a [..] prefix."""
    msg = reparse(build(out("too_large", subject="Email terlalu besar", case=None)))
    assert "X-Mailbot-Case" not in msg
    assert msg["Subject"] == "Email terlalu besar"
    assert "In-Reply-To" not in msg and "References" not in msg


def test_references_keep_the_last_ten() -> None:
    """A long thread keeps only the ten most recent references (and skips empty ones)."""
    refs = [f"<r{i}@x.example>" for i in range(15)] + [""]
    msg = reparse(build(out(references=refs)))
    assert msg["References"].split() == refs[5:15]


def test_attachment_is_carried() -> None:
    """A review_request carries the PPK's PDF under its file name."""
    pdf = b"%PDF-1.4 test"
    msg = reparse(build(out("review_request", attachments=[OutgoingAttachment("SK PPK.pdf", "application/pdf", pdf)])))
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "SK PPK.pdf"
    assert att.get_content_type() == "application/pdf"
    assert att.get_content() == pdf


# -- header injection ----------------------------------------------------------------------------
@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("field", ["subject", "from_name", "recipient", "in_reply_to", "references"])
def test_no_header_injection(field: str, payload: str) -> None:
    """CR/LF or control characters in any caller-supplied value never produce an extra header."""
    kw: dict[str, object] = {}
    from_name = "LPSE Kabupaten"
    if field == "subject":
        kw["subject"] = payload
    elif field == "from_name":
        from_name = payload
    elif field == "recipient":
        kw["to"] = ["ppk@pu.example.go.id" + payload.removeprefix("x")]
    elif field == "in_reply_to":
        kw["in_reply_to"] = "<req@pu.example.go.id>" + payload.removeprefix("x")
    else:
        kw["references"] = ["<req@pu.example.go.id>" + payload.removeprefix("x")]
    raw = build(out(**kw), from_name=from_name).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    parsed = reparse(build(out(**kw), from_name=from_name))

    assert "Bcc" not in parsed
    assert {k.lower() for k in parsed.keys()} <= EXPECTED_HEADERS
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\r\n"))
    assert b"\x00" not in raw and b"\x0b" not in head
    assert not [d for d in parsed.defects if "header" in type(d).__name__.lower()]
    for address in list(parsed["To"].addresses) + list(parsed["From"].addresses):
        assert "attacker" not in address.addr_spec


def test_long_non_ascii_subject_and_name_are_encoded_and_folded() -> None:
    """A long Indonesian subject with non-ASCII dashes/letters is RFC 2047 encoded, folded, and reads back intact."""
    subject = ("Permohonan reset kata sandi — Ibu Siti Aminah (Dinas Pekerjaan Umum dan Penataan Ruang) " * 2
               + "ñ").strip()
    name = "Layanan Pengadaan Secara Elektronik — Kabupaten Contoh"
    msg = build(out("reminder_documents", subject=subject), from_name=name)
    raw = msg.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]

    assert head.isascii()
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))  # RFC 5322 hard limit
    # The text headers are folded at 78 (a Message-ID is one token and may be longer).
    lines = head.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject:"))
    subject_lines = [lines[start]] + [line for line in lines[start + 1:start + 10] if line.startswith(b" ")]
    assert len(subject_lines) > 1
    assert all(len(line) <= 78 for line in subject_lines + lines[:2])
    assert b"=?utf-8?" in head.lower()
    parsed = reparse(msg)
    assert parsed["Subject"] == f"[{CASE}] {subject}"
    assert parsed["From"].addresses[0].display_name == name


def test_overlong_subject_is_cut_not_rejected() -> None:
    """A rendered subject far beyond any sensible length is cut to a bounded single line."""
    msg = reparse(build(out(subject="sangat panjang " * 200)))
    assert msg["Subject"].startswith(f"[{CASE}] sangat panjang")
    assert len(msg["Subject"]) <= 250 + len(CASE) + 3


@pytest.mark.parametrize("text", ["Hal ab\udc80", "é\udcff", "\udce9t\udce9 — ñ"])
def test_undecodable_bytes_from_a_ppk_mail_do_not_crash(text: str) -> None:
    """Lone surrogates (8-bit bytes of a PPK's subject/name/body, surrogate-escaped) are sent as U+FFFD."""
    o = Outgoing("review_request", ["admin@lpse.example.go.id"], Rendered(text, f"Isi: {text}", f"<p>{text}</p>"),
                 case_number=CASE, attachments=[OutgoingAttachment(f"{text}.pdf", "application/pdf", b"%PDF-")])
    msg = reparse(build(o, from_name=text))
    expected = text.replace("\udc80", "\ufffd").replace("\udcff", "\ufffd").replace("\udce9", "\ufffd")
    assert msg["Subject"] == f"[{CASE}] {expected}"
    assert msg["From"].addresses[0].display_name == expected
    assert expected in msg.get_body(("plain",)).get_content()
    assert [a.get_filename() for a in msg.iter_attachments()] == [f"{expected}.pdf"]


@pytest.mark.parametrize("ctype", ["application/pdf\r\nBcc: evil@attacker.example", "multipart/mixed",
                                   "message/rfc822", "text/html; charset=x", "", "pdf"])
def test_attachment_content_type_from_a_stranger_is_not_trusted(ctype: str) -> None:
    """An odd or hostile Content-Type of a PPK's file becomes application/octet-stream, no extra header."""
    o = out("review_request", attachments=[OutgoingAttachment("a.pdf", ctype, b"%PDF-1.4")])
    msg = reparse(build(o))
    [att] = list(msg.iter_attachments())
    assert att.get_content_type() == "application/octet-stream"
    assert att.get_content() == b"%PDF-1.4"
    assert "Bcc" not in msg and all("Bcc" not in part for part in msg.walk())
