"""Issue 14: passwords people can type, findings by severity, the PPK's contact line and the new PPK mails."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from mailbot.cases.review import LOOK_ALIKES, PASSWORD_ALPHABET, generate_password
from mailbot.domain.findings import severity
from mailbot.outgoing.render import Renderer
from tests.unit.test_templates import ADMIN_TEMPLATES, OFFICE, context, make_case, render

PPK_TEMPLATES = ("ack", "incomplete", "credentials", "rejected", "reminder_documents", "expired", "too_large",
                 "auto_reply_limit", "complete", "sent_to_registered", "wrong_sender")


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", html))


def test_generated_passwords_are_spse_compatible_without_look_alikes() -> None:
    seen = {generate_password() for _ in range(3000)}
    assert len(seen) == 3000  # from `secrets`, never repeating
    assert set(PASSWORD_ALPHABET) == set(string.ascii_letters + string.digits) - set("0Oo1lI")
    for pw in seen:
        assert len(pw) >= 12 and pw.isascii() and pw.isalnum()
        assert not set(pw) & set(LOOK_ALIKES), pw
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
    assert len(generate_password(8)) == 12  # never shorter than SPSE's 12
    assert len(generate_password(16)) == 16


def test_review_request_groups_findings_by_severity_in_html_and_text(renderer: Renderer) -> None:
    findings = [{"ok": False, "code": "nip_registry", "severity": severity("nip_registry", False),
                 "message": "NIP di registri tidak ditemukan"},
                {"ok": False, "code": "manual_check", "severity": severity("manual_check", False),
                 "message": "scan.pdf: tidak memiliki lapisan teks"},
                {"ok": True, "code": "sender_registry", "severity": severity("sender_registry", True),
                 "message": "Alamat pengirim sesuai registri PPK"}]
    out = render(renderer, "review_request", findings=findings)
    text = out.text
    blocking, check, fine = (text.index(h) for h in ("✖ MENGHALANGI PERSETUJUAN (1)", "⚠ PERLU DICEK (1)",
                                                     "✔ SESUAI (1)"))
    assert blocking < text.index("✖ NIP di registri tidak ditemukan") < check
    assert check < text.index("⚠ scan.pdf: tidak memiliki lapisan teks") < fine
    assert fine < text.index("✔ Alamat pengirim sesuai registri PPK")
    assert "✖ scan.pdf" not in text  # a scan without text layer is no longer a red cross
    html = out.html
    for mark, colour, message in (("✖", "#b91c1c", "NIP di registri tidak ditemukan"),
                                  ("⚠", "#b45309", "scan.pdf: tidak memiliki lapisan teks"),
                                  ("✔", "#15803d", "Alamat pengirim sesuai registri PPK")):
        item = re.search(rf"color:{colour};[^>]*>{mark}</span>\s*{re.escape(message)}", html)
        assert item, (mark, message)
    assert "Menghalangi persetujuan (1)" in html and "Perlu dicek (1)" in html and "Sesuai (1)" in html
    # The one-line how-to comes before the findings; the full instructions after them.
    assert html.index("Cara memutuskan:") < html.index("Hasil pemeriksaan otomatis") < html.index("Petunjuk lengkap")


def test_review_request_without_findings_of_a_kind_shows_no_empty_group(renderer: Renderer) -> None:
    fine = [{"ok": True, "code": "nip_valid", "severity": "fine", "message": "NIP valid"}]
    out = render(renderer, "review_request", findings=fine)
    assert "MENGHALANGI" not in out.text and "PERLU DICEK" not in out.text and "✔ SESUAI (1)" in out.text
    assert "Menghalangi" not in out.html and "Perlu dicek" not in out.html


@pytest.mark.parametrize("name", PPK_TEMPLATES)
def test_every_ppk_mail_carries_the_contact_line_and_spse_address(renderer: Renderer, name: str) -> None:
    out = render(renderer, name)
    line = f"Kontak {OFFICE['name']}: telepon {OFFICE['phone']} ({OFFICE['hours']}). Alamat SPSE: {OFFICE['spse_url']}"
    assert line in out.text
    assert f"Kontak {OFFICE['name']}: telepon {OFFICE['phone']} ({OFFICE['hours']})" in visible(out.html)
    assert f'href="{OFFICE["spse_url"]}"' in out.html


@pytest.mark.parametrize("name", sorted(ADMIN_TEMPLATES))
def test_admin_mail_has_no_ppk_contact_line(renderer: Renderer, name: str) -> None:
    out = render(renderer, name)
    assert "Kontak " not in out.text and OFFICE["phone"] not in out.text


def test_contact_line_without_phone_or_hours_still_names_the_office(renderer: Renderer) -> None:
    out = render(renderer, "ack", office={"name": "LPSE Kabupaten Banyuasin", "phone": "", "spse_url": "",
                                          "hours": ""})
    assert "Kontak LPSE Kabupaten Banyuasin\n" in out.text and "Alamat SPSE" not in out.text


def test_incomplete_mentions_lupa_password_only_for_password_requests(renderer: Renderer) -> None:
    out = render(renderer, "incomplete", self_service_hint=True)
    assert '"Lupa Password"' in out.text and "<b>Lupa Password</b>" in out.html
    assert OFFICE["spse_url"] in out.text
    out = render(renderer, "incomplete", self_service_hint=False)
    assert "Lupa Password" not in out.text + out.html
    no_hint = context("incomplete")
    del no_hint["admin_note"]
    no_hint["admin_note"] = None  # an admin's LENGKAPI carries no hint: none is shown
    assert "Lupa Password" not in renderer.render("incomplete", no_hint).text


def test_credentials_group_the_password_and_say_the_spaces_are_not_part_of_it(renderer: Renderer) -> None:
    out = render(renderer, "credentials", password="Ab3dEf5hJk7m")
    assert "Password sementara: Ab3dEf5hJk7m\n" in out.text
    assert "Password sementara, dibaca per 4 karakter: Ab3d Ef5h Jk7m\n" in out.text
    assert "bukan bagian dari password" in out.text
    assert "Ab3dEf5hJk7m" in visible(out.html).replace(" ", "")


def test_complete_mail_says_the_file_is_being_checked(renderer: Renderer) -> None:
    out = render(renderer, "complete")
    assert "sedang diperiksa" in out.subject and "sedang diperiksa" in out.text and "sedang diperiksa" in out.html
    assert "LPSE-BYS-2026-00042" in out.text


def test_sent_to_registered_never_names_the_registered_address(renderer: Renderer) -> None:
    case = make_case(sender="budi.pribadi@gmail.com", ppk=None)
    out = render(renderer, "sent_to_registered", case=case, password="Ab3dEf5hJk7m", user_id="budi.ppk")
    body = out.subject + out.text + out.html
    assert "terdaftar pada registri PPK" in out.text
    assert "budi.santoso@banyuasinkab.go.id" not in body and "Ab3d" not in body and "budi.ppk" not in body


def test_wrong_sender_reply_says_where_replies_must_come_from_and_nothing_else(renderer: Renderer) -> None:
    out = render(renderer, "wrong_sender")
    assert "alamat email yang mengajukan permohonan" in out.text
    assert "LPSE-BYS-2026-00042" in out.text
    for secret in ("budi.santoso@banyuasinkab.go.id", "Budi Santoso", "197103112006041003"):
        assert secret not in out.subject + out.text + out.html
    assert "Yth. Bapak/Ibu," in out.text


def test_digest_lists_cases_waiting_for_documents_and_follow_ups_without_attachment(renderer: Renderer) -> None:
    out = render(renderer, "admin_digest")
    assert "Permohonan yang menunggu kelengkapan dokumen dari PPK (1)" in out.text and "LPSE-BYS-2026-00040" in out.text
    assert "pengingat 1 dari 2" in out.text
    assert "BALASAN PPK TANPA LAMPIRAN (1)" in out.text and "LPSE-BYS-2026-00041" in out.text
    assert "Permohonan yang menunggu kelengkapan dokumen dari PPK (<b>1</b>)" in out.html
    assert "Balasan PPK tanpa lampiran (1)" in out.html
    only_docs = render(renderer, "admin_digest", cases=[], empty_follow_ups=[])
    assert "Tidak ada permohonan yang menunggu." in only_docs.text and "LPSE-BYS-2026-00040" in only_docs.text
    assert "TANPA LAMPIRAN" not in only_docs.text


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    from tests.unit.test_templates import TEMPLATES_DIR

    return Renderer(TEMPLATES_DIR)


def test_office_contact_keys_are_read_and_checked(tmp_path: Path) -> None:
    from mailbot.config import EXAMPLE_CONFIG, ConfigError, load_settings
    from tests.support.config import write_config

    example = load_settings(EXAMPLE_CONFIG).office
    assert example.phone and example.spse_url.startswith("https://") and example.hours
    text = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2).read_text(encoding="utf-8")
    path = tmp_path / "office.toml"
    contact = 'phone = "(0711) 123456"\nspse_url = "https://spse.contoh.go.id"\nhours = "Senin–Jumat 08.00–16.00 WIB"\n'
    path.write_text(text.replace("[office]\n", "[office]\n" + contact, 1), encoding="utf-8")
    office = load_settings(path).office
    assert (office.phone, office.spse_url, office.hours) == (
        "(0711) 123456", "https://spse.contoh.go.id", "Senin–Jumat 08.00–16.00 WIB")
    path.write_text(text.replace("[office]\n", '[office]\nspse_url = "javascript:alert(1)"\n', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^office\.spse_url: .*https://spse\.contoh\.go\.id"):
        load_settings(path)
