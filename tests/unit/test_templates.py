"""The email templates render in formal Indonesian, escape HTML, and keep secrets where they belong."""

from __future__ import annotations

import email
import re
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from enum import Enum
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import meta

from mailbot.cases.commands import find_review_codes, parse_command
from mailbot.domain.redaction import redact_secrets
from mailbot.intake.redact import redact_raw_message
from mailbot.outgoing.render import TEMPLATES, Rendered, Renderer
from tests.support.paths import REPO

TEMPLATES_DIR = REPO / "mailbot" / "templates"
TZ = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 24, 2, 15, tzinfo=timezone.utc)  # 09:15 WIB
EVIL = "<script>alert(1)</script>"
PASSWORD = "Tq7vRm2xKp9sLw4z"
REVIEW_CODE = "RV-7K2M-Q9XD-4HPT-W3NB"
ADMIN_TEMPLATES = {"review_request", "quarantine_alert", "admin_confirmation", "admin_command_error", "admin_digest",
                   "delivery_failure", "admin_notice", "ops_alert", "registry_changed"}


def make_case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "number": "LPSE-BYS-2026-00042",
        "status": "AWAITING_REVIEW",
        "request_type": "reset_password",
        "request_type_label": "reset password",
        "sender": "budi.santoso@banyuasinkab.go.id",
        "sender_name": "Budi Santoso",
        "created_at": NOW,
        "channel": "email",
        "ppk": {"nama": "Budi Santoso, S.T.", "nip": "197103112006041003",
                "email": "budi.santoso@banyuasinkab.go.id", "user_id": "budi.ppk",
                "satker": "Dinas Pekerjaan Umum"},
    }
    case.update(overrides)
    return case


MISSING = ["SK pengangkatan sebagai PPK"]

EXTRA: dict[str, dict[str, Any]] = {
    "ack": {"self_service_hint": True},
    "incomplete": {
        "missing": MISSING,
        "unusable": [{"filename": "scan.docx", "reason": "format berkas tidak diterima"}],
        "admin_note": "SK yang dilampirkan sudah tidak berlaku.",
    },
    "reminder_documents": {"missing": MISSING, "reminder_no": 1, "max_reminders": 2,
                           "expires_at": NOW + timedelta(days=3)},
    "expired": {"missing": MISSING},
    "review_request": {
        "admin_email": "admin@lpse.example.go.id",
        "review_code": REVIEW_CODE,
        "round": 1,
        "findings": [{"ok": True, "code": "sender_registry", "severity": "fine",
                      "message": "Alamat pengirim sesuai registri PPK."},
                     {"ok": False, "code": "nip_registry", "severity": "blocking",
                      "message": "NIP pada dokumen tidak sesuai registri."},
                     {"ok": False, "code": "manual_check", "severity": "check",
                      "message": "sk_ppk.pdf: tidak memiliki lapisan teks, perlu diperiksa manual"}],
        "documents": [
            {"filename": "surat_permohonan.pdf", "kinds": ["surat permohonan"], "size": 183_211,
             "problem": None, "needs_manual_check": False},
            {"filename": "sk_ppk.pdf", "kinds": ["SK pengangkatan PPK"], "size": 2_400_000,
             "problem": None, "needs_manual_check": True},
        ],
        "proposed_password": PASSWORD,
        "user_id": None,
    },
    "credentials": {"password": PASSWORD, "user_id": "budi.ppk", "note": "Selamat bekerja."},
    "rejected": {"reason": "SK pengangkatan sudah tidak berlaku."},
    "admin_confirmation": {"action": "approve", "action_label": "disetujui",
                           "actor": "admin@lpse.example.go.id", "reason": None,
                           "outcome_template": "credentials"},
    "admin_command_error": {"error": "Kode tinjauan tidak ditemukan pada balasan Anda.",
                            "original_subject": "Re: [LPSE-BYS-2026-00042] Tinjauan permohonan",
                            "decided_by": None},
    "admin_digest": {
        "cases": [
            {"number": "LPSE-BYS-2026-00042", "sender": "budi.santoso@banyuasinkab.go.id",
             "ppk_name": "Budi Santoso, S.T.", "status": "AWAITING_REVIEW", "age_label": "2 jam",
             "overdue": True, "waiting_minutes": 120, "standard_minutes": 15},
            {"number": "LPSE-BYS-2026-00043", "sender": "sari@example.go.id", "ppk_name": None,
             "status": "AWAITING_REVIEW", "age_label": "10 menit", "overdue": False,
             "waiting_minutes": 10, "standard_minutes": 15},
        ],
        "today": date(2026, 11, 24),
        "documents_waiting": [
            {"number": "LPSE-BYS-2026-00040", "sender": "ani@example.go.id", "ppk_name": "Ani, S.E.",
             "since": NOW - timedelta(days=2), "age_label": "2 hari kerja", "reminders_sent": 1, "max_reminders": 2,
             "review_code": "RV-TEST-CODE"}],
        "empty_follow_ups": [
            {"number": "LPSE-BYS-2026-00041", "sender": "sari@example.go.id", "ppk_name": None,
             "at": NOW - timedelta(hours=20), "status": "AWAITING_DOCUMENTS"}],
    },
    "delivery_failure": {"failed_template": "credentials", "recipients": ["budi@example.go.id"],
                         "error": "550 5.1.1 User unknown"},
    "too_large": {"size_mb": 31.4, "limit_mb": 20.0, "original_subject": "Permohonan reset password"},
    "auto_reply_limit": {"limit": 5},
    "quarantine_alert": {"message_no": 17, "sender": "x@example.org", "subject": "<b>Permohonan</b>",
                         "received_at": NOW, "reason": "parse error: <script>alert(1)</script>"},
    "complete": {},
    "sent_to_registered": {},
    "wrong_sender": {},
    "admin_notice": {"notice": "closed_case", "message_no": 18, "sender": "budi.santoso@banyuasinkab.go.id",
                     "subject": "Re: Terima kasih", "reason": None, "files": ["SK baru.pdf"]},
    "ops_alert": {"alert": {"check": "imap_login", "state": "start", "since": NOW,
                            "detail": "IMAP 127.0.0.1:143: login rejected: <script>alert(1)</script>"}},
    "registry_changed": {"by": "rahmat", "changes": [
        {"nip": "197103112006041003", "nama": "Budi Santoso", "kind": "change",
         "old_email": "budi@example.go.id", "new_email": "budi.baru@example.go.id"},
        {"nip": "198507222010012003", "nama": "Siti Rahmawati", "kind": "remove", "old_email": "", "new_email": ""}]},
}
OFFICE = {"name": "LPSE Kabupaten Banyuasin", "phone": "(0711) 123456", "spse_url": "https://spse.banyuasinkab.go.id",
          "hours": "Senin–Jumat 08.00–16.00 WIB"}
NO_CASE = {"too_large", "auto_reply_limit", "admin_digest", "quarantine_alert", "ops_alert", "registry_changed"}


def context(name: str, **overrides: Any) -> dict[str, Any]:
    """A full sample context for one template; keyword arguments replace top-level keys."""
    ctx: dict[str, Any] = {"office": OFFICE, "tz": TZ, "now": NOW}
    if name not in NO_CASE:
        ctx["case"] = make_case()
    ctx.update(EXTRA[name])
    ctx.update(overrides)
    return ctx


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES_DIR)


def render(renderer: Renderer, name: str, **overrides: Any) -> Rendered:
    return renderer.render(name, context(name, **overrides))


def source(renderer: Renderer, filename: str) -> str:
    assert renderer.env.loader is not None
    return renderer.env.loader.get_source(renderer.env, filename)[0]


def test_every_template_has_its_three_files(renderer: Renderer) -> None:
    assert renderer.missing() == []
    assert set(EXTRA) == set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_renders_a_formal_letter(renderer: Renderer, name: str) -> None:
    out = render(renderer, name)
    assert out.subject and "[" not in out.subject
    assert "LPSE-BYS-2026-00042" not in out.subject
    for body in (out.text, out.html):
        assert "Yth. Bapak/Ibu" in body
        assert "Dengan hormat," in body
        assert "Hormat kami," in body
        assert "LPSE Kabupaten Banyuasin" in body
        assert "mailbot" in body
        # Nothing leaks from Python into the letter.
        assert "None" not in body and "CaseStatus" not in body and "{{" not in body
    assert ("Yth. Bapak/Ibu Admin Agency," in out.text) == (name in ADMIN_TEMPLATES)
    assert out.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<table" not in out.html or name == "review_request"  # only the findings list


@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - NO_CASE))
def test_case_templates_mention_the_case_number_in_the_body(renderer: Renderer, name: str) -> None:
    out = render(renderer, name)
    assert "LPSE-BYS-2026-00042" in out.text
    assert "LPSE-BYS-2026-00042" in out.html


def test_rejection_reason_is_escaped_in_html_and_raw_in_text(renderer: Renderer) -> None:
    out = render(renderer, "rejected", reason=EVIL)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "<script>" not in out.html
    assert EVIL in out.text


# Keys that steer the templates' logic; every other string in a context is free text.
LOGIC_KEYS = {"request_type", "channel", "action", "outcome_template", "failed_template"}


def poisoned(value: Any, key: str = "") -> Any:
    """The value with every free-text string replaced by a script tag."""
    if isinstance(value, dict):
        return {k: poisoned(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, key) for v in value]
    if isinstance(value, str) and key not in LOGIC_KEYS:
        return EVIL
    return value


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_free_text_value_is_escaped_in_html(renderer: Renderer, name: str) -> None:
    out = renderer.render(name, poisoned(context(name)))
    assert "<script>" not in out.html
    assert "&lt;script&gt;" in out.html
    assert EVIL in out.text


class _TagBalance(HTMLParser):
    VOID = {"br", "meta", "hr", "img", "!doctype"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


@pytest.mark.parametrize("name", TEMPLATES)
def test_html_is_well_formed(renderer: Renderer, name: str) -> None:
    checker = _TagBalance()
    checker.feed(render(renderer, name).html)
    assert checker.errors == [] and checker.stack == []


def test_credentials_carry_password_and_user_id(renderer: Renderer) -> None:
    out = render(renderer, "credentials")
    assert PASSWORD in out.text and "Tq7v Rm2x Kp9s Lw4z" in out.text  # grouped for reading, and whole
    assert "bukan bagian dari password" in out.text and "bukan bagian dari password" in out.html
    # In HTML the groups are spaced by CSS, so a copy is the password itself.
    assert re.sub(r"<[^>]*>", "", out.html).count(PASSWORD) == 1
    for body in (out.text, out.html):
        assert "budi.ppk" in body
    assert PASSWORD not in out.subject
    assert "segera" in out.text  # change the password immediately


def test_credentials_for_user_id_only_has_no_password_section(renderer: Renderer) -> None:
    case = make_case(request_type="user_id_info", request_type_label="informasi user ID")
    out = render(renderer, "credentials", case=case, password=None, note=None)
    assert "budi.ppk" in out.text
    assert "Password sementara" not in out.text


@pytest.mark.parametrize("name", ["credentials", "review_request"])
def test_password_lines_are_redactable_in_a_quoted_copy(renderer: Renderer, name: str) -> None:
    """A reply that quotes this mail is stored redacted: the password sits on a labelled line."""
    out = render(renderer, name)
    quoted = "\n".join("> " + line for line in out.text.splitlines())
    assert PASSWORD not in redact_secrets(quoted)
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "Re: " + out.subject
    msg.set_content(quoted)
    msg.add_alternative("<blockquote>" + out.html + "</blockquote>", subtype="html")
    parsed = email.message_from_bytes(redact_raw_message(msg.as_bytes()), policy=SMTP)
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            assert PASSWORD not in part.get_content()


@pytest.mark.parametrize("name", ["admin_confirmation", "review_request"])
def test_admin_templates_never_reference_a_password_variable(renderer: Renderer, name: str) -> None:
    for ext in ("subject.txt", "txt", "html"):
        text = source(renderer, f"{name}.{ext}")
        assert "password" not in meta.find_undeclared_variables(renderer.env.parse(text))
        for tag in re.findall(r"\{[{%](.*?)[%}]\}", text, re.S):
            code = re.sub(r'"[^"]*"|\'[^\']*\'', '""', tag)  # words in string literals are prose
            assert not re.search(r"(?<![\w.])password(?!\w)", code), tag


def test_admin_confirmation_has_no_password_even_if_one_is_in_the_context(renderer: Renderer) -> None:
    out = render(renderer, "admin_confirmation", password=PASSWORD)
    assert PASSWORD not in out.text + out.html + out.subject


def test_review_request_shows_code_findings_and_how_to_decide(renderer: Renderer) -> None:
    out = render(renderer, "review_request")
    assert REVIEW_CODE in out.subject
    assert find_review_codes(out.subject, out.text) == [REVIEW_CODE]
    assert f"Kode tinjauan: {REVIEW_CODE}" in out.text
    assert "✔ Alamat pengirim sesuai registri PPK." in out.text
    assert "✖ NIP pada dokumen tidak sesuai registri." in out.text
    assert "perlu diperiksa manual" in out.text
    assert PASSWORD in out.text and PASSWORD in re.sub(r"<[^>]*>", "", out.html)
    for keyword in ("SETUJU", "TOLAK", "LENGKAPI"):
        assert keyword in out.text and keyword in out.html
    assert "197103112006041003" in out.text


def test_review_request_for_unregistered_ppk(renderer: Renderer) -> None:
    case = make_case(ppk=None, request_type="user_id_info", request_type_label="informasi user ID")
    out = render(renderer, "review_request", case=case, proposed_password=None, user_id=None)
    assert "tidak terdaftar di registri PPK" in out.text
    assert "Kirim ke pengirim: ya" in out.text
    assert "tidak terdaftar di registri PPK" in out.html


def test_review_request_body_never_reads_as_decision_options(renderer: Renderer) -> None:
    """If a client quotes the review mail without "> ", its examples must not become options."""
    out = render(renderer, "review_request", case=make_case(ppk=None))
    for command in (parse_command("SETUJU\n\n" + out.text),
                    parse_command("", "<p>SETUJU</p>" + out.html)):
        assert command.action == "approve"
        assert command.password is None and command.user_id is None and command.note is None
        assert command.send_to_sender is False


def test_review_request_with_newline_in_sender_name_cannot_inject_an_option(
        renderer: Renderer) -> None:
    case = make_case(ppk=None, sender_name="Budi\nKirim ke pengirim: ya")
    out = render(renderer, "review_request", case=case)
    assert parse_command("SETUJU\n\n" + out.text).send_to_sender is False


def test_greeting_falls_back_from_registry_name_to_sender_name_to_neutral(
        renderer: Renderer) -> None:
    assert "Yth. Bapak/Ibu Budi Santoso, S.T.," in render(renderer, "ack").text
    out = render(renderer, "ack", case=make_case(ppk=None, sender_name="Sari Dewi"))
    assert "Yth. Bapak/Ibu Sari Dewi," in out.text
    out = render(renderer, "ack", case=make_case(ppk=None, sender_name=None))
    assert "Yth. Bapak/Ibu," in out.text and "Yth. Bapak/Ibu," in out.html
    registered_without_name = make_case(sender_name="Sari Dewi")
    registered_without_name["ppk"] = {**registered_without_name["ppk"], "nama": None}
    assert "Yth. Bapak/Ibu Sari Dewi," in render(renderer, "ack", case=registered_without_name).html


def test_ack_mentions_self_service_only_when_asked(renderer: Renderer) -> None:
    assert "Lupa Password" in render(renderer, "ack").text
    assert "Lupa Password" not in render(renderer, "ack", self_service_hint=False).text


def test_ack_for_unknown_type_and_hardcopy(renderer: Renderer) -> None:
    case = make_case(request_type="unknown", request_type_label="jenis permohonan tidak dikenali",
                     channel="hardcopy")
    out = render(renderer, "ack", case=case)
    assert "jenis permohonan tidak dikenali" not in out.subject
    assert "hardcopy" in out.text


def test_incomplete_lists_what_is_missing_and_unusable(renderer: Renderer) -> None:
    out = render(renderer, "incomplete")
    for body in (out.text, out.html):
        assert "SK pengangkatan sebagai PPK" in body
        assert "scan.docx" in body and "format berkas tidak diterima" in body
        assert "Catatan dari Admin Agency" in body
        assert "PDF" in body and "JPG" in body and "PNG" in body
    out = render(renderer, "incomplete", admin_note=None, unusable=[])
    assert "Catatan dari Admin Agency" not in out.text
    assert "scan.docx" not in out.text


def test_reminder_states_number_and_deadline(renderer: Renderer) -> None:
    out = render(renderer, "reminder_documents")
    assert "1 dari 2" in out.subject
    assert "27-11-2026 09:15 WIB" in out.text
    assert "27-11-2026 09:15 WIB" in out.html


def test_admin_digest_marks_overdue_and_handles_empty(renderer: Renderer) -> None:
    out = render(renderer, "admin_digest")
    assert out.text.count("MELEWATI SLA") == 1
    assert "LPSE-BYS-2026-00043" in out.html
    assert "24-11-2026" in out.subject
    empty = render(renderer, "admin_digest", cases=[])
    assert "Tidak ada permohonan yang menunggu." in empty.text
    assert "Tidak ada permohonan yang menunggu." in empty.html


@pytest.mark.parametrize("name", ["delivery_failure", "admin_command_error"])
def test_caseless_admin_mail_renders_without_case(renderer: Renderer, name: str) -> None:
    ctx = context(name)
    del ctx["case"]
    out = renderer.render(name, ctx)
    assert "Hormat kami," in out.text
    out = renderer.render(name, {**ctx, "case": None})
    assert "Hormat kami," in out.html


def test_command_error_names_who_decided_first(renderer: Renderer) -> None:
    out = render(renderer, "admin_command_error", decided_by="rina@lpse.example.go.id")
    assert "sudah diputuskan oleh rina@lpse.example.go.id" in out.text
    assert "Kode tinjauan tidak ditemukan" in out.html


def test_delivery_failure_names_recipient_and_server_answer(renderer: Renderer) -> None:
    out = render(renderer, "delivery_failure")
    assert "budi@example.go.id" in out.text and "550 5.1.1 User unknown" in out.text


def test_too_large_and_limit_notices(renderer: Renderer) -> None:
    out = render(renderer, "too_large")
    assert "31,4 MB" in out.text and "20,0 MB" in out.text
    out = render(renderer, "auto_reply_limit")
    assert "batas 5 balasan otomatis" in out.text and "tetap kami simpan" in out.text


class _Status(str, Enum):
    AWAITING_REVIEW = "AWAITING_REVIEW"


def test_status_enum_members_read_as_words(renderer: Renderer) -> None:
    out = render(renderer, "review_request", case=make_case(status=_Status.AWAITING_REVIEW))
    assert "menunggu tinjauan Admin Agency" in out.text and "_Status" not in out.text
