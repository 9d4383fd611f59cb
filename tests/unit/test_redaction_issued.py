"""The redaction rules added for issue 12: the bot's own password lines, values split over HTML tags,
and passwords recognised by their keyed hash."""

from __future__ import annotations

import base64

from mailbot.domain.redaction import (
    REDACTED,
    _redact_html,
    contains_digest,
    redact_digests,
    redact_secrets,
    secret_digest,
)
from mailbot.intake.redact import redact_raw_message

KEY = b"k" * 32
PASSWORD = "Rahasia9Baru2026"


def is_issued(token: str) -> bool:
    return secret_digest(KEY, token) == secret_digest(KEY, PASSWORD)


def test_bot_only_cuts_the_bot_wording_and_nothing_else() -> None:
    text = "> Password sementara: Abc123XyZ\n> Password sementara yang diusulkan: Q1w2E3r4\nPassword: lupa"
    assert redact_secrets(text, bot_only=True) == (
        f"> Password sementara: {REDACTED}\n> Password sementara yang diusulkan: {REDACTED}\nPassword: lupa")


def test_html_value_split_over_inline_tags_is_cut_whole() -> None:
    out = _redact_html("<div>Password: <span>Pecah9</span><span>Sandi2</span></div><div>Catatan: ok</div>")
    assert "Pecah9" not in out and "Sandi2" not in out and "Catatan: ok" in out
    kept = _redact_html("<span>Password: X1</span> <span>User ID: budi</span>")
    assert "User ID: budi" in kept and "X1" not in kept


def test_issued_password_found_by_hash_anywhere() -> None:
    text = f"Terima kasih, sudah login dengan {PASSWORD}. (kata sandi:{PASSWORD})"
    out = redact_digests(text, is_issued)
    assert PASSWORD not in out and out.count(REDACTED) == 2 and out.startswith("Terima kasih")
    html = f"<p>login dengan <b>{PASSWORD}</b></p><code>{PASSWORD}</code>"
    assert PASSWORD not in redact_digests(html, is_issued, html=True)
    assert contains_digest(f"x {PASSWORD}, y", is_issued) and not contains_digest("nothing here", is_issued)


def test_raw_message_quoting_credentials_is_redacted_for_anyone() -> None:
    raw = (b"From: PPK <ppk@example.go.id>\nSubject: Re: akun\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: base64\n\n"
           + base64.encodebytes(f"Terima kasih\n> Password sementara: {PASSWORD}\n".encode()))
    out = redact_raw_message(raw, bot_only=True)
    assert PASSWORD.encode() not in base64.decodebytes(out.split(b"\n\n", 1)[1])
    assert redact_raw_message(b"From: a@b\n\nhalo, password: lupa\n", bot_only=True,
                              is_secret=is_issued) == b"From: a@b\n\nhalo, password: lupa\n"
