"""The templates ship inside the package; an office's `templates_dir` overrides single files, the package
supplies the rest, and the report page renders through the same (one) Jinja environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mailbot
from mailbot.config import EXAMPLE_CONFIG, settings_from_dict
from mailbot.outgoing.render import REPORT_TEMPLATE, TEMPLATES, Renderer

PACKAGE_TEMPLATES = Path(mailbot.__file__).resolve().parent / "templates"
CONTEXT = {"office": {"name": "LPSE Uji"}, "reason": "<b>x</b>"}


def test_every_template_ships_inside_the_package() -> None:
    """Scenario: no office folder: every mail template and the report page come from the package."""
    renderer = Renderer()
    assert renderer.missing() == []
    for name in TEMPLATES:
        for ext in ("subject.txt", "txt", "html"):
            assert (PACKAGE_TEMPLATES / f"{name}.{ext}").is_file()
    assert (PACKAGE_TEMPLATES / REPORT_TEMPLATE).is_file()
    assert EXAMPLE_CONFIG.is_file() and EXAMPLE_CONFIG.parent == PACKAGE_TEMPLATES.parent


def test_an_office_file_replaces_the_packages_and_the_rest_falls_back(tmp_path: Path) -> None:
    """Scenario: the office overrides ack.subject.txt only: that file is the office's, ack.txt and
    every other template still come from the package, and nothing is reported missing."""
    (tmp_path / "ack.subject.txt").write_text("[{{ case.number }}] Kantor kami menerima permohonan Anda\n")
    renderer = Renderer(tmp_path)
    assert renderer.missing() == []
    assert renderer.overridden() == ["ack.subject.txt"]
    loader = renderer.env.loader
    assert loader is not None
    subject_source = loader.get_source(renderer.env, "ack.subject.txt")[0]
    text_source = loader.get_source(renderer.env, "ack.txt")[0]
    assert "Kantor kami" in subject_source
    assert text_source == (PACKAGE_TEMPLATES / "ack.txt").read_text(encoding="utf-8")


def test_an_office_base_layout_is_used_by_the_packages_templates(tmp_path: Path) -> None:
    """Scenario: an office replaces a shared piece (_footer.txt); the package's own templates include it."""
    original = (PACKAGE_TEMPLATES / "_footer.txt").read_text(encoding="utf-8")
    (tmp_path / "_footer.txt").write_text("KAKI SURAT KANTOR\n" + original)
    renderer = Renderer(tmp_path)
    source = renderer.env.loader.get_source(renderer.env, "_footer.txt")[0]  # type: ignore[union-attr]
    assert source.startswith("KAKI SURAT KANTOR")


def test_the_report_page_can_be_overridden_too(tmp_path: Path) -> None:
    """Scenario: report/report.html.j2 in the office folder is the page; it is autoescaped like mail HTML,
    keeps no final newline (as the report always did), and shares the mail filters."""
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.html.j2").write_text("<p>{{ r }} {{ when | wib }}</p>\n")
    from datetime import datetime, timezone

    page = Renderer(tmp_path).render_page(REPORT_TEMPLATE, {"r": "<script>", "when": datetime(2026, 3, 1, 2, 0,
                                                                                               tzinfo=timezone.utc)})
    assert page == "<p>&lt;script&gt; 01-03-2026 02:00 UTC</p>"


def test_text_parts_are_not_escaped_and_html_parts_are(tmp_path: Path) -> None:
    """Scenario: one environment, two kinds of output: .txt stays plain, .html is escaped."""
    for name, body in (("x.subject.txt", "{{ reason }}"), ("x.txt", "{{ reason }}\n"), ("x.html", "<p>{{ reason }}</p>")):
        (tmp_path / name).write_text(body)
    out = Renderer(tmp_path).render("x", CONTEXT)
    assert out.subject == "<b>x</b>" and out.text == "<b>x</b>\n" and out.html == "<p>&lt;b&gt;x&lt;/b&gt;</p>"


def test_templates_dir_defaults_to_the_package_and_resolves_against_the_config(tmp_path: Path) -> None:
    """Scenario: no templates_dir key: None (package only); a relative one is taken from the config's folder."""
    raw = {"imap": {"host": "h", "username": "u", "password_env": "P"},
           "smtp": {"host": "h", "from_address": "a@b.go.id"}, "admins": {"emails": ["x@b.go.id"]}}
    assert settings_from_dict(raw, tmp_path / "mailbot.toml").templates_dir is None
    raw["storage"] = {"templates_dir": "templates"}
    assert settings_from_dict(raw, tmp_path / "mailbot.toml").templates_dir == (tmp_path / "templates").resolve()


def test_building_a_renderer_loads_no_jinja() -> None:
    """Scenario: an App is built by every command; its renderer imports Jinja2 only on the first render."""
    code = ("import sys\nfrom mailbot.outgoing.render import Renderer\nr = Renderer()\n"
            "assert 'jinja2' not in sys.modules\nr.missing()\nassert 'jinja2' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("missing_dir", [True, False])
def test_check_reports_a_missing_office_folder(tmp_path: Path, missing_dir: bool,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: `mailbot check` with templates_dir naming a folder that is not there: exit 1, one line that
    names the key (mail would silently use the built-in texts otherwise); with the folder: no such line."""
    from mailbot.cli import main

    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SECRET", "y" * 32)
    if not missing_dir:
        (tmp_path / "tpl").mkdir()
        (tmp_path / "tpl" / "ack.txt").write_text("Terima kasih.\n")
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text("""
[imap]
host = "127.0.0.1"
port = 1
security = "none"
username = "lpse"
password_env = "MAILBOT_IMAP_PASSWORD"
[smtp]
host = "127.0.0.1"
port = 2
security = "none"
from_address = "lpse@uji.go.id"
[storage]
data_dir = "data"
templates_dir = "tpl"
[admins]
emails = ["admin@uji.go.id"]
""")
    rc = main(["--config", str(cfg), "check"])
    out = capsys.readouterr().out
    assert rc == 1  # IMAP and SMTP are closed ports either way
    if missing_dir:
        assert "storage.templates_dir" in out and "is not a folder" in out and "IMAP" not in out
    else:
        assert "templates: ok (1 of the office's own" in out and "IMAP 127.0.0.1:1: FAILED" in out
