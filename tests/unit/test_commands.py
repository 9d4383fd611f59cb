"""Tests for mailbot.commands: admin keyword replies, review codes and secret redaction."""

from __future__ import annotations

import email
import re
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage

import pytest

from mailbot.cases.commands import (
    REVIEW_CODE_RE,
    AdminCommand,
    find_review_codes,
    parse_command,
)
from mailbot.cases.replies import new_text
from mailbot.domain.redaction import redact_secrets
from mailbot.intake.redact import redact_raw_message
from tests.support.paths import REPLIES

FIXTURES = REPLIES
CASE_TAG = "[LPSE-BYS-2026-00042]"
# Secrets that appear in the fixtures: admin Password: lines and the bot's proposal in the quote.
SECRETS = ("Lpse2026Bys", "Tmp#2026=bys", "Rc!2026-Bys", "Kp7wQx3mTz9R")


def _readme_rows() -> list[tuple[str, str | None]]:
    rows = []
    for line in (FIXTURES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].endswith(".eml"):
            rows.append((cells[0], None if cells[4] == "-" else cells[4]))
    return rows


def _load(name: str) -> tuple[EmailMessage, str, str | None]:
    msg = email.message_from_bytes((FIXTURES / name).read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return msg, plain.get_content() if plain else "", html.get_content() if html else None


ROWS = _readme_rows()


# --- the fixture set -------------------------------------------------------------------------


def test_readme_lists_every_fixture_and_enough_of_them() -> None:
    files = {path.name for path in FIXTURES.glob("*.eml")}
    assert files == {name for name, _ in ROWS}
    assert len(files) >= 16


@pytest.mark.parametrize(("name", "expected"), ROWS)
def test_fixture_decision_matches_readme(name: str, expected: str | None) -> None:
    """An admin's real-looking reply is parsed to the decision the README table promises."""
    _, text, html = _load(name)
    command = parse_command(text, html)
    assert command.action == expected
    assert (command.error is None) == (expected is not None)


@pytest.mark.parametrize(("name", "expected"), ROWS)
def test_fixture_html_part_alone_gives_same_decision(name: str, expected: str | None) -> None:
    """Clients that send only HTML must be read the same way as their text part."""
    _, text, html = _load(name)
    if html is None:
        pytest.skip("no HTML part")
    from_html = parse_command("", html)
    assert from_html.action == expected
    if text:
        assert from_html == parse_command(text, None)


@pytest.mark.parametrize(("name", "_expected"), ROWS)
def test_fixture_subject_carries_case_tag_and_review_code(name: str, _expected: str | None) -> None:
    msg, text, html = _load(name)
    subject = str(msg["Subject"])
    assert CASE_TAG in subject
    codes = find_review_codes(subject, text or html or "")
    assert codes and REVIEW_CODE_RE.search(subject).group(0) == codes[0]


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("gmail_en_reject.eml", {"argument": "The appointment letter (SK) expired in March 2025.\n"
                                 "Please ask the PPK for the current SK."}),
        ("gmail_id_setuju_options_base64.eml", {
            "password": "Lpse2026Bys", "user_id": "budi.ppk", "send_to_sender": True,
            "note": "PPK belum ada di registri, sudah dikonfirmasi lewat telepon."}),
        ("outlook_desktop_en_approve_password.eml", {"password": "Tmp#2026=bys", "user_id": None}),
        ("outlook_id_lengkapi.eml", {"argument": "SK pengangkatan PPK yang sudah ditandatangani dan distempel."}),
        ("outlook_id_windows1252_tolak.eml", {"argument": "SK yang dilampirkan adalah SK tahun anggaran 2024 "
                                              "\u2013 mohon PPK mengirim SK tahun 2026."}),
        ("owa_en_html_only_reject.eml", {"argument": "NIP in the request letter (19710311 200604 1 004) "
                                         "does not match the registry."}),
        ("apple_mail_en_approve_note.eml", {"note": "Verified by phone with the PPK this morning.",
                                            "password": None}),
        ("thunderbird_en_incomplete.eml", {"argument": "The request letter is not signed by the PPK;\n"
                                           "please ask for a signed scan (PDF)."}),
        ("zimbra_id_tolak.eml", {"argument": "surat permohonan tidak ditandatangani PPK\n"
                                 "dan tidak mencantumkan nomor surat."}),
        ("zimbra_en_setuju_send_to_sender.eml", {"send_to_sender": True}),
        ("html_only_webmail_approve_base64.eml", {"user_id": "budi.ppk", "password": "Rc!2026-Bys"}),
        ("yahoo_en_incomplete.eml", {"argument": "the SK attached is for a different satker.\n"
                                     "Please request the SK for Dinas PUPR."}),
        ("trap_top_posted_tolak_above_setuju.eml", {
            "argument": "SK yang dilampirkan atas nama PPK lain, mohon abaikan balasan saya sebelumnya."}),
        ("gmail_id_setuju.eml", {"argument": "", "password": None, "send_to_sender": False}),
    ],
)
def test_fixture_arguments_and_options(name: str, fields: dict[str, object]) -> None:
    _, text, html = _load(name)
    command = parse_command(text, html)
    for field, value in fields.items():
        assert getattr(command, field) == value, field


@pytest.mark.parametrize(("name", "_expected"), ROWS)
def test_fixture_redaction_removes_every_secret_and_keeps_headers(name: str, _expected: str | None) -> None:
    raw = (FIXTURES / name).read_bytes()
    redacted = redact_raw_message(raw)
    separator = b"\r\n\r\n" if b"\r\n" in raw else b"\n\n"
    assert redacted.split(separator, 1)[0] == raw.split(separator, 1)[0]
    msg = email.message_from_bytes(redacted, policy=policy.default)
    bodies = [part.get_content() for part in msg.walk() if part.get_content_maintype() == "text"]
    assert bodies and all(secret not in body for secret in SECRETS for body in bodies)
    assert any("[DISUNTING]" in body for body in bodies)
    assert not any(part.defects for part in msg.walk())
    # The stored copy still parses to the same decision; only the secret is gone.
    _, text, html = _load(name)
    plain = msg.get_body(preferencelist=("plain",))
    rich = msg.get_body(preferencelist=("html",))
    again = parse_command(plain.get_content() if plain else "", rich.get_content() if rich else None)
    assert again.action == parse_command(text, html).action


# --- new_text: quotes and signatures ---------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "SETUJU\n\nOn Tue, Nov 24, 2026 at 10:05 AM Bot <bot@example.go.id> wrote:\n> TOLAK x\n",
        "SETUJU\n\nOn Tue, Nov 24, 2026 at 10:05 AM LPSE Mailbot <\nbot@example.go.id> wrote:\n\n> TOLAK x\n",
        "SETUJU\n\nPada Sel, 24 Nov 2026 pukul 10.05 Bot <bot@example.go.id> menulis:\n> TOLAK x\n",
        "SETUJU\n\nLe mar. 24 nov. 2026 à 10:05, Bot <bot@example.go.id> a écrit :\n> TOLAK x\n",
        "SETUJU\n\nOn 24 Nov 2026, at 10:00, X <x@example.go.id> wrote:\n\nTOLAK x\n",
        "SETUJU\n\nFrom: Bot <bot@example.go.id>\nSent: Tuesday, November 24, 2026 10:05 AM\nTo: a\nSubject: b\n\nTOLAK x",
        "SETUJU\n\nDari: Bot <bot@example.go.id>\nDikirim: Selasa, 24 November 2026 10.05\nKepada: a\nSubjek: b\nTOLAK x",
        "SETUJU\n-----Original Message-----\nTOLAK x",
        "SETUJU\n-----Pesan Asli-----\nTOLAK x",
        "SETUJU\n----- Pesan Asli -----\nDari: Bot\nKepada: a\nTOLAK x",
        "SETUJU\n----- Original Message -----\nFrom: Bot\nTo: a\nTOLAK x",
        "SETUJU\n________________________________\nFrom: Bot\nTOLAK x",
        "SETUJU\n\n-- \nAdmin LPSE\nTOLAK x",
        "SETUJU\n\nSent from my iPhone\n\nTOLAK x",
        "SETUJU\n\nDikirim dari ponsel Samsung Galaxy saya\nTOLAK x",
        "> TOLAK x\n>> LENGKAPI y\nSETUJU",
    ],
)
def test_new_text_drops_quotes_and_signatures(reply: str) -> None:
    assert new_text(reply) == "SETUJU"


def test_new_text_keeps_text_after_a_bottom_posted_quote() -> None:
    reply = "Pada 24/11/2026 10.05, Bot menulis:\n> SETUJU\n> TOLAK x\n\nLENGKAPI SK terbaru\n"
    assert new_text(reply) == "LENGKAPI SK terbaru"


def test_new_text_prefers_plain_text_over_html() -> None:
    assert new_text("TOLAK dari teks", "<p>SETUJU</p>") == "TOLAK dari teks"
    assert new_text("  \n", "<p>SETUJU</p>") == "SETUJU"


@pytest.mark.parametrize(
    "html",
    [
        '<div dir="ltr">SETUJU</div><div class="gmail_quote"><div>On x wrote:</div>TOLAK a</div>',
        "<div>SETUJU</div><blockquote>TOLAK a</blockquote>",
        '<p>SETUJU</p><div id="divRplyFwdMsg"><b>From:</b> Bot</div><p>TOLAK a</p>',
        '<p>SETUJU</p><div id="x_divRplyFwdMsg">TOLAK a</div>',
        '<p>SETUJU</p><div class="moz-cite-prefix">On x wrote:</div><p>TOLAK a</p>',
        '<p>SETUJU</p><div class="ydp1yahoo_quoted">TOLAK a</div>',
        '<p>SETUJU</p><div id="OutlookMessageHeader">TOLAK a</div>',
        '<p>SETUJU</p><hr><div><b>From:</b> Bot<br><b>Sent:</b> Tue</div><p>TOLAK a</p>',
        '<p>SETUJU</p><hr id="zwchr"><div><b>Dari: </b>Bot<br><b>Kepada: </b>a</div><p>TOLAK a</p>',
        "<html><head><style>p {color: red}</style><title>x</title></head><body><p>SETUJU</p></body></html>",
    ],
)
def test_html_quote_markers_are_cut(html: str) -> None:
    assert new_text("", html) == "SETUJU"


def test_decorative_hr_is_not_a_quote_and_gmail_lines_do_not_gain_blank_lines() -> None:
    html = "<div>TOLAK alasan satu</div><div>alasan dua</div><hr><div>Password: Abc123def</div>"
    assert new_text("", html) == "TOLAK alasan satu\nalasan dua\n\nPassword: Abc123def"
    assert parse_command("", html).password == "Abc123def"
    assert new_text("", "<div>a<br></div><div>b</div><div><br></div><div>c</div>") == "a\nb\n\nc"


def test_html_entities_and_nbsp_become_plain_text() -> None:
    assert new_text("", "<p>TOLAK&nbsp;NIP &amp; nama&nbsp;tidak sesuai</p>") == "TOLAK NIP & nama tidak sesuai"


# --- parse_command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply", ["SETUJU", "setuju", "Setuju.", "SETUJU!!", "approve", "APPROVE.", "**SETUJU**", "\ufeffSETUJU",
              "\n\n  Setuju  \n", "\u00a0SETUJU\u00a0", "Setuju\u3002", "SETUJU\uff01"],
)
def test_approve_keyword_alone_on_its_line(reply: str) -> None:
    assert parse_command(reply) == AdminCommand("approve", "", None, None, None, False, None)


@pytest.mark.parametrize(
    "reply",
    [
        "OK, saya cek dulu",
        "Setuju kalau datanya benar",
        "setuju. silakan diproses",
        "Setuju?",
        "Approved!! go ahead",
        "Approved",
        "Disetujui",
        "Selamat pagi,\nSETUJU",
        "Password: Abc123\nSETUJU",
        "SETUJUI",
        "Tolakan ini tidak benar",
        "",
        "   \n\n",
        "> SETUJU",
        "-- \nSETUJU",
    ],
)
def test_anything_else_is_not_a_decision(reply: str) -> None:
    command = parse_command(reply)
    assert command.action is None
    assert command.error and "SETUJU" in command.error


@pytest.mark.parametrize(
    ("reply", "action", "argument"),
    [
        ("TOLAK SK sudah tidak berlaku", "reject", "SK sudah tidak berlaku"),
        ("tolak: SK sudah tidak berlaku", "reject", "SK sudah tidak berlaku"),
        ("Tolak, NIP salah.", "reject", "NIP salah."),
        ("REJECT wrong NIP", "reject", "wrong NIP"),
        ("TOLAK NIP salah\nnama juga salah\n\nterima kasih", "reject", "NIP salah\nnama juga salah"),
        ("TOLAK\nNIP salah", "reject", "NIP salah"),
        ("TOLAK NIP salah\nCatatan: sudah ditelepon\nlain", "reject", "NIP salah"),
        ("LENGKAPI SK pengangkatan", "request_docs", "SK pengangkatan"),
        ("lengkapi - surat permohonan bertanda tangan", "request_docs", "surat permohonan bertanda tangan"),
        ("INCOMPLETE signed request letter", "request_docs", "signed request letter"),
        ("Incomplete: signed letter\nand the SK", "request_docs", "signed letter\nand the SK"),
    ],
)
def test_reject_and_request_docs_take_their_argument(reply: str, action: str, argument: str) -> None:
    command = parse_command(reply)
    assert (command.action, command.argument, command.error) == (action, argument, None)


@pytest.mark.parametrize(
    ("reply", "word"),
    [("TOLAK", "TOLAK"), ("tolak.", "TOLAK"), ("REJECT:", "TOLAK"), ("TOLAK\n\nNIP salah", "TOLAK"),
     ("LENGKAPI", "LENGKAPI"), ("Incomplete -", "LENGKAPI"), ("LENGKAPI\nCatatan: x", "LENGKAPI")],
)
def test_reason_and_note_are_required(reply: str, word: str) -> None:
    command = parse_command(reply)
    assert command.action is None
    assert command.error and command.error.startswith(f"Kata kunci {word} harus disertai")


def test_option_lines_are_read_anywhere_in_the_new_text() -> None:
    reply = (
        "SETUJU\n\nTerima kasih.\nPassword:  Xy7-Abc9Qw2z \nuser id: budi.ppk\nCatatan: dicek via telepon\n"
        "Note: kedua\nKirim ke pengirim: Ya\n\n> Password: Kp7wQx3mTz9R\n"
    )
    command = parse_command(reply)
    assert command == AdminCommand(
        "approve", "", "Xy7-Abc9Qw2z", "budi.ppk", "dicek via telepon\nkedua", True, None
    )


@pytest.mark.parametrize("value", ["tidak", "no", "", "ya kalau perlu"])
def test_send_to_sender_needs_an_explicit_yes(value: str) -> None:
    assert parse_command(f"SETUJU\nKirim ke pengirim: {value}").send_to_sender is False


def test_options_in_the_quote_are_ignored() -> None:
    command = parse_command("SETUJU\n\n> Password: Zz9\n> Kirim ke pengirim: ya\n> User ID: orang.lain")
    assert (command.password, command.user_id, command.send_to_sender) == (None, None, False)


@pytest.mark.parametrize("reply", ["SETUJU\nPassword:", "SETUJU\nPassword: a\nPassword: b", "SETUJU\nUser ID:  "])
def test_ambiguous_or_empty_credentials_are_not_guessed(reply: str) -> None:
    command = parse_command(reply)
    assert command.action is None and command.error and ("Password" in command.error or "User ID" in command.error)


def test_error_never_echoes_a_password() -> None:
    command = parse_command("Password: Rahasia123\nSETUJU")
    assert command.error and "Rahasia123" not in command.error


# --- review codes ----------------------------------------------------------------------------


def test_find_review_codes_subject_first_uppercased_deduplicated() -> None:
    subject = "Re: [LPSE-BYS-2026-00042] Tinjauan — kode rv-7kq2-m9xh-4tj3-wp8n"
    body = (
        "SETUJU\n> Kode tinjauan: RV-7KQ2-M9XH-4TJ3-WP8N\n> lama: RV-AAAA-BBBB-CCCC-DDD1.\n"
        "XRV-ZZZZ-ZZZZ-ZZZZ-ZZZZ RV-ZZZZ-ZZZZ-ZZZZ-ZZZZZ RV-12-34"
    )
    assert find_review_codes(subject, body) == ["RV-7KQ2-M9XH-4TJ3-WP8N", "RV-AAAA-BBBB-CCCC-DDD1"]
    assert find_review_codes("", "") == []


def test_review_code_regex_is_case_insensitive() -> None:
    assert REVIEW_CODE_RE.fullmatch("rv-7kq2-m9xh-4tj3-wp8n")
    assert REVIEW_CODE_RE.flags & re.IGNORECASE


# --- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Password: Abc123", "Password: [DISUNTING]"),
        ("password:Abc123", "password: [DISUNTING]"),
        ("Kata sandi: Rahasia 1", "Kata sandi: [DISUNTING]"),
        ("> Usulan password sementara: Kp7w", "> Usulan password sementara: [DISUNTING]"),
        ("SETUJU\r\nPassword: Abc\r\nok\r\n", "SETUJU\r\nPassword: [DISUNTING]\r\nok\r\n"),
        ("Password:\n  Abc123\nlain", "Password:\n  [DISUNTING]\nlain"),
        ("Password:\n\nSETUJU", "Password:\n\nSETUJU"),
        ("Reset password untuk PPK", "Reset password untuk PPK"),
        ("Jenis permohonan: reset password", "Jenis permohonan: reset password"),
    ],
)
def test_redact_secrets(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def _message(body: str, subtype: str = "plain", charset: str = "utf-8", cte: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Admin <admin@example.go.id>"
    msg["Subject"] = "Re: [LPSE-BYS-2026-00042] kode RV-7KQ2-M9XH-4TJ3-WP8N"
    msg.set_content(body, subtype=subtype, charset=charset, cte=cte)
    return msg.as_bytes()


@pytest.mark.parametrize(
    ("charset", "cte"), [("utf-8", "quoted-printable"), ("utf-8", "base64"), ("utf-8", "8bit"),
                         ("iso-8859-1", "quoted-printable"), ("utf-8", "7bit")],
)
def test_redact_raw_message_any_encoding(charset: str, cte: str) -> None:
    body = "SETUJU\nPassword: S3cret=Pw\u00e9d\nCatatan: Andi S\u00e9tiawan\n" if cte != "7bit" else \
        "SETUJU\nPassword: S3cret=Pw\n"
    raw = _message(body, charset=charset, cte=cte)
    redacted = redact_raw_message(raw)
    content = email.message_from_bytes(redacted, policy=policy.default).get_content()
    assert "S3cret" not in content and "Password: [DISUNTING]" in content
    assert redacted.split(b"\n\n", 1)[0] == raw.split(b"\n\n", 1)[0]


def test_redact_raw_message_html_part() -> None:
    raw = _message("<div>SETUJU</div><div><b>Password:</b>&nbsp;Abc&lt;9xyz</div><div>Catatan: ok</div>",
                   subtype="html", cte="base64")
    content = email.message_from_bytes(redact_raw_message(raw), policy=policy.default).get_content()
    assert "Abc" not in content and "9xyz" not in content
    assert "[DISUNTING]</div><div>Catatan: ok</div>" in content


def test_redact_raw_message_without_secret_is_byte_identical() -> None:
    raw = _message("SETUJU\n").replace(b"\n", b"\r\n")
    assert redact_raw_message(raw) == raw


def test_redact_raw_message_falls_back_to_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("cannot serialise")

    raw = _message("SETUJU\nPassword: Abc123\n", cte="base64")
    with monkeypatch.context() as patched:
        patched.setattr(BytesGenerator, "flatten", broken)  # the stdlib cannot write the redacted message
        redacted = redact_raw_message(raw)
    assert b"Abc123" not in redacted and b"QWJjMTIz" not in redacted
    msg = email.message_from_bytes(redacted, policy=policy.default)
    assert msg["Subject"] == "Re: [LPSE-BYS-2026-00042] kode RV-7KQ2-M9XH-4TJ3-WP8N"
    assert "tidak dapat disunting" in msg.get_content()


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe", b"Subject: x", b"no headers at all\n\nPassword: a",
                                 b"Content-Type: multipart/mixed\n\n--x\nPassword: a\n"])
def test_redact_raw_message_never_raises_on_junk(raw: bytes) -> None:
    assert isinstance(redact_raw_message(raw), bytes)
