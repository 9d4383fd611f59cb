"""SOP step 9 (case archive export) and the monthly SOP compliance report (SPEC §6)."""

from __future__ import annotations

import base64
import csv
import dataclasses
import email
import email.policy
import hashlib
import io
import json
import os
import re
import secrets
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.admin.archive import ArchiveError, CaseNotFound, export_case
from mailbot.admin.hardcopy import register_hardcopy
from mailbot.admin.registry import import_csv
from mailbot.admin.report import build_report, write_report
from mailbot.app import App, build_app
from mailbot.cases.decisions import CliCommand, decide_from_cli
from mailbot.cases.delivery import flush_outbox
from mailbot.cases.timers import run_timers
from mailbot.config import load_settings
from mailbot.domain.results import PollResult
from mailbot.store.models import Case, Document, Event, Outbox
from tests.support.bot import Bot
from tests.support.config import write_config
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_A, PPK_B, reply_email, request_email
from tests.support.servers import FaultySmtp

NAME, NIP, EMAIL, USER_ID = PPK_A[0], PPK_A[1], PPK_A[2], PPK_A[3]
WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=WIB)


# -- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def app(tmp_path: Path, smtp_server: FaultySmtp, monkeypatch: pytest.MonkeyPatch) -> App:
    """SQLite app (no IMAP needed) whose outbox flushes to the real loopback SMTP server."""
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "unused")
    monkeypatch.setenv("MAILBOT_SECRET", secrets.token_hex(16))
    cfg = write_config(tmp_path, "127.0.0.1", 9, "lpse", smtp_server.host, smtp_server.port,
                       f"sqlite:///{tmp_path / 'mailbot.db'}")
    a = build_app(load_settings(cfg))
    reg = tmp_path / "registry.csv"
    reg.write_text("nama,nip,email,user_id,satker\n" + "\n".join(",".join(p) for p in (PPK_A, PPK_B)) + "\n")
    import_csv(a, reg)
    yield a
    a.engine.dispose()


def pdfs(tmp_path: Path, name: str = NAME, nip: str = NIP, *, complete: bool = True) -> list[Path]:
    d = tmp_path / f"in-{secrets.token_hex(4)}"
    d.mkdir()
    letter = d / "Surat Permohonan.pdf"
    letter.write_bytes(sample_request_letter(name, nip))
    files = [letter]
    if complete:
        sk = d / "SK PPK.pdf"
        sk.write_bytes(sample_sk(name, nip))
        files.append(sk)
    return files


def hardcopy(app: App, tmp_path: Path, now: datetime, *, ppk: tuple[str, ...] = PPK_A,
             request_type: str = "reset_password", complete: bool = True, name: str | None = None,
             email: str | None = None) -> str:
    return register_hardcopy(app, name=name or ppk[0], nip=ppk[1], email=email or ppk[2], request_type=request_type,
                             files=pdfs(tmp_path, ppk[0], ppk[1], complete=complete), user="petugas", now=now)


def flush(app: App, now: datetime) -> PollResult:
    result = PollResult()
    flush_outbox(app, now, result)
    return result


def status(app: App, number: str) -> str:
    with app.factory() as s:
        return s.scalar(select(Case.status).where(Case.number == number))


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {n: zf.read(n) for n in zf.namelist()}


def verify_manifest(members: dict[str, bytes]) -> dict:  # type: ignore[type-arg]
    """The manifest lists every other member exactly once with its true SHA-256 and size."""
    [manifest_name] = [n for n in members if n.endswith("/manifest.json")]
    manifest = json.loads(members[manifest_name])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(members) - {manifest_name}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest(), name
        assert entry["size"] == len(members[name])
    return manifest


def assert_secret_absent(members: dict[str, bytes], secret: str) -> None:
    """Neither the plain value nor any base64 / quoted-printable rendering of it in any member."""
    needle = secret.encode()
    for name, data in members.items():
        assert needle not in data, name
        flat = data.replace(b"\r\n", b"").replace(b"\n", b"").replace(b"=\r\n", b"")
        for chunk in re.findall(rb"[A-Za-z0-9+/=]{16,}", flat):
            try:
                decoded = base64.b64decode(chunk + b"=" * (-len(chunk) % 4))
            except ValueError:
                continue
            assert needle not in decoded, f"{name}: base64-encoded secret"


def events_of(app: App, number: str) -> list[str]:
    with app.factory() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        return [e.kind for e in s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id))]


# -- archive -----------------------------------------------------------------------------------
def test_archive_after_setuju_is_complete_verifiable_and_has_no_password(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: email request → SETUJU by email → credentials sent → the archive holds it all, but no password."""
    letter, sk = sample_request_letter(NAME, NIP), sample_sk(NAME, NIP)
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password SPSE", f"Mohon reset. NIP. {NIP}",
                                 [("Surat Permohonan.pdf", letter), ("SK PPK.pdf", sk)]))
    any_bot.poll()
    [review] = any_bot.sent("review_request")
    proposed = re.search(r"Password sementara yang diusulkan: (\S+)",
                         review.message.get_body(("plain",)).get_content()).group(1)
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    password = re.search(r"Password sementara: (\S+)", creds.message.get_body(("plain",)).get_content()).group(1)
    assert password == proposed
    with any_bot.app.factory() as s:
        case = s.scalars(select(Case)).one()
    assert case.status == "COMPLETED" and case.archived_at is None

    dest = tmp_path / "out" / f"{case.number}.zip"
    now = datetime.now(timezone.utc)
    assert export_case(any_bot.app, case.number, dest, now=now) == dest
    members = read_zip(dest)
    manifest = verify_manifest(members)
    assert manifest["case"]["number"] == case.number and manifest["case"]["status"] == "COMPLETED"
    root = case.number
    assert all(PurePosixPath(n).parts[0] == root for n in members)

    inbound = sorted(n for n in members if "/emails/inbound/" in n)
    outbound = sorted(n for n in members if "/emails/outbound/" in n)
    assert len(inbound) == 2  # the request and the admin's reply
    templates = [members[n].split(b"X-Mailbot-Template: ", 1)[1].split(b"\r\n", 1)[0].decode() for n in outbound]
    assert {"ack", "review_request", "credentials", "admin_confirmation"} <= set(templates)
    assert members[f"{root}/documents/Surat Permohonan.pdf"] == letter
    assert members[f"{root}/documents/SK PPK.pdf"] == sk
    events = json.loads(members[f"{root}/audit/events.json"])
    assert [e["kind"] for e in events][-1] == "archived"
    assert "COMPLETED" in members[f"{root}/audit/events.txt"].decode()
    assert {f["code"] for f in json.loads(members[f"{root}/findings.json"])}
    assert {r["step"] for r in json.loads(members[f"{root}/sla.json"])} >= {"step5_validity", "step8_notify"}

    assert_secret_absent(members, password)
    assert b"admin.agency" in members[inbound[1]]  # the reply itself is archived (redacted at intake)
    with any_bot.app.factory() as s:
        archived = s.scalar(select(Case).where(Case.number == case.number))
    assert archived.archived_at == now
    assert events_of(any_bot.app, case.number)[-1] == "archived"


def test_unsent_password_mail_is_archived_headers_only(app: App, tmp_path: Path) -> None:
    """Scenario: a walk-in case waits for review, its review_request (with the proposed password) not yet sent:
    exporting it keeps only that mail's headers, and the open case is not marked archived."""
    number = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0))
    with app.factory() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        password = case.proposed_password
        pending = s.scalars(select(Outbox).where(Outbox.case_id == case.id, Outbox.template == "review_request")).all()
    assert password and pending and all(o.status == "pending" and password.encode() in o.raw for o in pending)

    dest = export_case(app, number, tmp_path / "a.zip", now=wib(2026, 3, 3, 9, 5))
    members = read_zip(dest)
    verify_manifest(members)
    assert_secret_absent(members, password)
    [review_eml] = [n for n in members if n.endswith("-review_request.eml")]
    kept = email.message_from_bytes(members[review_eml], policy=email.policy.default)
    assert number in str(kept["Subject"]) and kept["X-Mailbot-Template"] == "review_request"  # headers kept
    assert not kept.is_multipart() and "memuat kata sandi" in kept.get_content()  # body and attachments gone
    assert len([n for n in members if "/documents/" in n]) == 2
    with app.factory() as s:
        assert s.scalar(select(Case.archived_at).where(Case.number == number)) is None
    assert events_of(app, number)[-1] == "archive_exported"
    assert status(app, number) == "AWAITING_REVIEW"


def test_hostile_attachment_names_stay_inside_the_archive(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: attachments named with ../, backslashes, absolute paths and duplicates → safe, distinct members."""
    sk = sample_sk(NAME, NIP)
    names = ["../../../etc/cron.d/evil.pdf", "..\\..\\Windows\\boot.pdf", "/abs/SK PPK.pdf", "SK PPK.pdf",
             "sk ppk.pdf", "..", "Surat Permohonan.pdf"]
    atts = [(n, sk) for n in names[:-1]] + [(names[-1], sample_request_letter(NAME, NIP))]
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password", f"NIP. {NIP}", atts))
    any_bot.poll()
    with any_bot.app.factory() as s:
        case = s.scalars(select(Case)).one()
        ndocs = len(case.documents)
    assert ndocs == len(names)
    dest = export_case(any_bot.app, case.number, tmp_path / "x.zip")
    members = read_zip(dest)
    verify_manifest(members)
    docs = [n for n in members if "/documents/" in n]
    assert len(docs) == len(names)
    assert len({n.lower() for n in docs}) == len(docs)
    for n in members:
        p = PurePosixPath(n)
        assert not p.is_absolute() and ".." not in p.parts and "\\" not in n and p.parts[0] == case.number
    for n in docs:
        assert PurePosixPath(n).parent.name == "documents"
    out = tmp_path / "extract"
    with zipfile.ZipFile(dest) as zf:
        zf.extractall(out)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    assert {PurePosixPath(n).name for n in docs} >= {"SK PPK.pdf", "SK PPK (2).pdf", "Surat Permohonan.pdf"}


def test_stored_names_with_paths_are_sanitised_on_export(app: App, tmp_path: Path) -> None:
    """Scenario: a document row from an older version kept a path in its name → still one safe member each."""
    number = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0))
    with app.factory() as s, s.begin():
        docs = s.scalars(select(Document).join(Case).where(Case.number == number)).all()
        docs[0].filename = "../../x/../../passwd.pdf"
        docs[1].filename = "C:\\temp\\..\\passwd.pdf"
    members = read_zip(export_case(app, number, tmp_path / "a.zip"))
    docs_in_zip = sorted(PurePosixPath(n).name for n in members if "/documents/" in n)
    assert docs_in_zip == ["passwd (2).pdf", "passwd.pdf"]
    assert all(".." not in PurePosixPath(n).parts and "\\" not in n for n in members)


def test_existing_destination_is_refused_unless_forced(app: App, tmp_path: Path) -> None:
    """Scenario: exporting onto an existing file fails and leaves it; force replaces it atomically."""
    number = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0))
    decide_from_cli(app, number, CliCommand.make("reject", "SK bukan atas nama pemohon"), "admin",
                    wib(2026, 3, 3, 9, 10))
    out = tmp_path / "arsip"
    out.mkdir()
    dest = out / "case.zip"
    dest.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="already exists"):
        export_case(app, number, dest)
    assert dest.read_bytes() == b"precious"
    assert "archived" not in events_of(app, number)
    export_case(app, number, dest, force=True, now=wib(2026, 3, 4, 8, 0))
    verify_manifest(read_zip(dest))
    assert sorted(p.name for p in out.iterdir()) == ["case.zip"]  # no temp file left behind
    with app.factory() as s:
        c = s.scalar(select(Case).where(Case.number == number))
    assert c.status == "REJECTED" and c.archived_at == wib(2026, 3, 4, 8, 0)
    assert events_of(app, number).count("archived") == 1


def test_unknown_case_and_missing_blob_write_nothing(app: App, tmp_path: Path) -> None:
    """Scenario: an unknown case number, or a document whose stored file is gone → error, no zip, no event."""
    with pytest.raises(CaseNotFound, match="not found"):
        export_case(app, "LPSE-DEMO-2026-99999", tmp_path / "n.zip")
    number = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0))
    with app.factory() as s:
        sha = s.scalars(select(Document.sha256).join(Case).where(Case.number == number)).first()
    app.store.path(sha).unlink()
    with pytest.raises(ArchiveError, match="missing"):
        export_case(app, number, tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists() and not (tmp_path / "n.zip").exists()
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert "archive_exported" not in events_of(app, number)


# -- report ------------------------------------------------------------------------------------
def march_cases(app: App, bot: Bot, tmp_path: Path) -> dict[str, str]:
    """A known month: three walk-ins and two emails in March 2026, one walk-in from February decided in March."""
    n: dict[str, str] = {}
    # February case, decided on Monday 2 March: its validity step ends in March.
    n["feb"] = hardcopy(app, tmp_path, wib(2026, 2, 27, 15, 0), ppk=PPK_B)
    flush(app, wib(2026, 2, 27, 15, 1))
    decide_from_cli(app, n["feb"], CliCommand.make("reject", "bukan PPK"), "admin", wib(2026, 3, 2, 8, 30))
    flush(app, wib(2026, 3, 2, 8, 33))  # step 7: the rejection accepted by SMTP 3 minutes later
    # A: approved at +30 working minutes, credentials accepted 2 minutes later → COMPLETED.
    n["a"] = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0))
    flush(app, wib(2026, 3, 3, 9, 1))
    decide_from_cli(app, n["a"], CliCommand.make("approve"), "admin", wib(2026, 3, 3, 9, 30))
    flush(app, wib(2026, 3, 3, 9, 32))
    # B: user ID request, rejected after 10 minutes.
    n["b"] = hardcopy(app, tmp_path, wib(2026, 3, 3, 10, 0), request_type="user_id_info")
    decide_from_cli(app, n["b"], CliCommand.make("reject", "SK kedaluwarsa"), "admin", wib(2026, 3, 3, 10, 10))
    flush(app, wib(2026, 3, 3, 10, 14))
    # C: an email with the letter only → awaiting documents → reminders → expired. (A walk-in is complete by
    # the admin's word: it never waits for documents.)
    b_name, b_nip, b_email = PPK_B[0], PPK_B[1], PPK_B[2]
    bot.append(request_email(b_email, b_name, "Permohonan reset password dan informasi user ID", f"NIP. {b_nip}",
                             [("Surat Permohonan.pdf", sample_request_letter(b_name, b_nip))]))
    bot.poll(wib(2026, 3, 4, 9, 0))
    with app.factory() as s:
        n["c"] = s.scalar(select(Case.number).where(Case.sender == b_email, Case.channel == "email"))
    day = wib(2026, 3, 4, 9, 0)
    while status(app, n["c"]) != "EXPIRED":
        day += timedelta(days=1)
        assert day < wib(2026, 3, 31), "case C never expired"
        run_timers(app, day, PollResult())
    # D: still waiting for review.
    n["d"] = hardcopy(app, tmp_path, wib(2026, 3, 5, 9, 0))
    # E: an email request, waiting for review.
    bot.append(request_email(EMAIL, NAME, "Permohonan informasi user ID", f"Mohon info user ID. NIP. {NIP}",
                             [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                              ("SK PPK.pdf", sample_sk(NAME, NIP))]))
    bot.poll(wib(2026, 3, 6, 9, 0))
    # After the month (April, WIB): must not count.
    n["apr"] = hardcopy(app, tmp_path, wib(2026, 4, 1, 0, 30))
    return n


def test_monthly_report_numbers_on_a_known_month(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: a March with approved, rejected, expired and open cases → the counts and step times add up."""
    app = any_bot.app
    march_cases(app, any_bot, tmp_path)
    r = build_report(app, "2026-03")
    assert r.month == "2026-03" and r.month_label == "Maret 2026"
    assert r.total == 5
    assert r.outcomes == {"approved": 1, "rejected": 1, "expired": 1, "open": 2}
    assert {k: v for k, v in r.by_status.items() if v} == {"COMPLETED": 1, "REJECTED": 1, "EXPIRED": 1,
                                                             "AWAITING_REVIEW": 2}
    assert {k: v for k, v in r.by_channel.items() if v} == {"hardcopy": 3, "email": 2}
    assert r.by_request_type["reset_password"] == 2 and r.by_request_type["user_id_info"] == 2
    assert r.by_request_type["both"] == 1
    steps = {st.step: st for st in r.steps}
    # Validity (standard 15): February case Fri 15:00-16:00 + Mon 08:00-08:30 = 90 min, A 30, B 10.
    v = steps["step5_validity"]
    assert (v.count, v.median_minutes, v.max_minutes, v.within_standard) == (3, 30.0, 90.0, 1)
    assert v.share_within == pytest.approx(1 / 3) and v.standard_minutes == 15
    n8 = steps["step8_notify"]
    assert (n8.count, n8.median_minutes, n8.max_minutes, n8.within_standard) == (1, 2.0, 2.0, 1)
    assert steps["step2_completeness"].count == 4  # A, B, D, E (the February one ended in February)
    assert steps["step3_request_documents"].count == 1
    # Step 6 happens inside SPSE: counted from the approvals, said to be unmeasurable, never "Jumlah 0".
    s6 = steps["step6_reset"]
    assert (s6.count, s6.measurable, s6.median_minutes) == (1, False, None) and "SPSE" in s6.note
    # Step 7: each rejection until its `rejected` mail was accepted (February case 3 min, B 4 min).
    s7 = steps["step7_rejection"]
    assert (s7.count, s7.timed, s7.median_minutes, s7.max_minutes, s7.within_standard) == (2, 2, 3.5, 4.0, 2)
    assert all(st.count for st in r.steps), [st.step for st in r.steps if not st.count]
    assert [c.status for c in r.cases] == ["COMPLETED", "REJECTED", "EXPIRED", "AWAITING_REVIEW",
                                           "AWAITING_REVIEW"]

    paths = write_report(r, tmp_path / "laporan", ["html", "csv"])
    assert sorted(p.name for p in paths) == ["laporan-2026-03-langkah-sop.csv", "laporan-2026-03-perkara.csv",
                                             "laporan-2026-03-ringkasan.csv", "laporan-2026-03.html"]
    summary = list(csv.reader(io.StringIO((tmp_path / "laporan" / "laporan-2026-03-ringkasan.csv")
                                          .read_text("utf-8-sig")), delimiter=";"))
    assert ["hasil", "expired", "1"] in summary and ["total", "total", "5"] in summary
    steps_csv = list(csv.DictReader(io.StringIO((tmp_path / "laporan" / "laporan-2026-03-langkah-sop.csv")
                                                .read_text("utf-8-sig")), delimiter=";"))
    row = next(x for x in steps_csv if x["langkah"] == "step5_validity")
    assert (row["jumlah"], row["median_menit_kerja"], row["maks_menit_kerja"], row["persen_dalam_standar"]) == \
        ("3", "30,00", "90,00", "33,3")  # the decimal comma of an Indonesian Excel
    assert {x["langkah"]: x["jumlah"] for x in steps_csv}["step6_reset"] == "1"
    html = (tmp_path / "laporan" / "laporan-2026-03.html").read_text()
    assert "Maret 2026" in html and "Langkah 5" in html and "1 dari 3 (33,3%)" in html

    feb = build_report(app, "2026-02")
    assert feb.total == 1 and feb.outcomes["rejected"] == 1
    assert {st.step: st.count for st in feb.steps}["step5_validity"] == 0
    assert build_report(app, "2026-04").total == 1


def test_month_boundaries_follow_the_office_time_zone(app: App, tmp_path: Path) -> None:
    """Scenario: a case at 00:30 WIB on 1 January (still 31 December in UTC) belongs to January."""
    number = hardcopy(app, tmp_path, wib(2027, 1, 1, 0, 30))
    last = hardcopy(app, tmp_path, wib(2026, 12, 31, 23, 50))
    assert [c.number for c in build_report(app, "2027-01").cases] == [number]
    assert [c.number for c in build_report(app, "2026-12").cases] == [last]


def test_html_and_csv_neutralise_a_malicious_sender(app: App, tmp_path: Path) -> None:
    """Scenario: a walk-in typed as <script> with a formula-like name → escaped in HTML, inert in CSV."""
    evil_name = '=HYPERLINK("http://evil.example","x")<script>alert(1)</script>'
    evil_mail = 'a"><img src=x onerror=alert(2)>@evil.example'
    hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0), name=evil_name, email=evil_mail)
    r = build_report(app, "2026-03")
    # Intake keeps only a plain display name (cases._plain_name); the report must still be safe with
    # any text, so put the raw value back in the report row to exercise the writers.
    assert "<" not in r.cases[0].sender_name and "<script>" in r.cases[0].subject
    r.cases[0] = dataclasses.replace(r.cases[0], sender_name=evil_name)
    [html_path, *_] = write_report(r, tmp_path / "out", ["html", "csv"])
    html = html_path.read_text()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    cases = list(csv.DictReader(io.StringIO((tmp_path / "out" / "laporan-2026-03-perkara.csv")
                                            .read_text("utf-8-sig")), delimiter=";"))
    assert cases[0]["nama_pengirim"] == "'" + evil_name  # a spreadsheet shows text, runs no formula
    assert cases[0]["perihal"].startswith("Permohonan hardcopy =HYPERLINK")


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-3", "03-2026", "maret", "", "2026-03-01"])
def test_bad_month_is_refused_clearly(app: App, month: str) -> None:
    """Scenario: the operator mistypes the month → ValueError that shows the expected form."""
    with pytest.raises(ValueError, match="YYYY-MM"):
        build_report(app, month)


def test_unknown_format_is_refused_before_writing(app: App, tmp_path: Path) -> None:
    """Scenario: --format docx → ValueError naming the formats; nothing written."""
    r = build_report(app, "2026-03")
    assert r.total == 0 and all(st.count == 0 for st in r.steps)
    with pytest.raises(ValueError, match="html, csv"):
        write_report(r, tmp_path / "out", ["html", "docx"])
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    [p] = write_report(r, tmp_path / "out", ["html"])
    assert "Tidak ada permohonan" in p.read_text()


def test_cli_archive_export_and_report(any_bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: the operator exports a closed case and this month's report from the terminal."""
    from mailbot.cli import main
    from tests.support.bot import submit

    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "TOLAK dokumen tidak sah"))
    any_bot.poll()
    with any_bot.app.factory() as s:
        case = s.scalars(select(Case)).one()
    cfg = str(any_bot.workdir / "mailbot.toml")
    dest = tmp_path / "arsip.zip"
    assert main(["--config", cfg, "archive", "export", case.number, str(dest)]) == 0
    assert zipfile.ZipFile(dest).testzip() is None
    assert main(["--config", cfg, "archive", "export", case.number, str(dest)]) == 2  # no silent overwrite
    assert main(["--config", cfg, "archive", "export", "NOPE-2026-00001", str(tmp_path / "x.zip")]) == 1
    month = case.created_at.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%Y-%m")
    capsys.readouterr()
    assert main(["--config", cfg, "report", "--month", month, "--format", "html,csv", "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out.split()
    assert any(p.endswith(".html") for p in written) and any(p.endswith(".csv") for p in written)
    assert main(["--config", cfg, "report", "--month", "2026-13"]) == 2
    comma = tmp_path / "comma"
    assert main(["--config", cfg, "report", "--month", month, "--format", "csv", "--csv-dialect", "comma",
                 "--out", str(comma)]) == 0
    assert (comma / f"laporan-{month}-ringkasan.csv").read_bytes().startswith(b"\xef\xbb\xbfdimensi,nilai,jumlah\r\n")
    assert (tmp_path / f"laporan-{month}-ringkasan.csv").read_bytes().startswith(b"\xef\xbb\xbfdimensi;nilai;jumlah\r\n")
    assert main(["--config", cfg, "report", "--month", month, "--csv-dialect", "tab"]) == 2


# -- report: issue 14 point 5 --------------------------------------------------------------------------
def test_handling_outside_office_hours_shows_calendar_time_beside_zero_working_minutes(app: App,
                                                                                       tmp_path: Path) -> None:
    """Scenario: a walk-in on Saturday 7 March 10:00, rejected at 10:20, the mail accepted at 10:25 → 0 working
    minutes (no office hours) but 20 and 5 calendar minutes, side by side in the page and the CSV."""
    number = hardcopy(app, tmp_path, wib(2026, 3, 7, 10, 0))
    decide_from_cli(app, number, CliCommand.make("reject", "SK tidak sah"), "petugas", wib(2026, 3, 7, 10, 20))
    flush(app, wib(2026, 3, 7, 10, 25))
    r = build_report(app, "2026-03")
    steps = {st.step: st for st in r.steps}
    assert (steps["step5_validity"].median_minutes, steps["step5_validity"].median_calendar) == (0.0, 20.0)
    assert (steps["step7_rejection"].median_minutes, steps["step7_rejection"].median_calendar) == (0.0, 5.0)
    [html_path, *csvs] = write_report(r, tmp_path / "out", ["html", "csv"])
    html = html_path.read_text()
    assert "20 mnt" in html and "5 mnt" in html and "Menit kerja" in html and "kalender" in html
    rows = {x["langkah"]: x for x in csv.DictReader(io.StringIO(
        (tmp_path / "out" / "laporan-2026-03-langkah-sop.csv").read_text("utf-8-sig")), delimiter=";")}
    assert (rows["step5_validity"]["median_menit_kerja"], rows["step5_validity"]["median_menit_kalender"]) == \
        ("0,00", "20,00")


def test_automatic_mail_and_spam_are_not_counted_as_requests(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: in March an out-of-office reply, a mailing-list mail and a bounce-like mail arrive beside
    one real request → the report counts one request and lists the three as not counted."""
    now = wib(2026, 3, 10, 9, 0)
    any_bot.append(request_email(EMAIL, NAME, "Permohonan reset password", f"Mohon reset. NIP. {NIP}",
                                 [("Surat Permohonan.pdf", sample_request_letter(NAME, NIP)),
                                  ("SK PPK.pdf", sample_sk(NAME, NIP))]))
    any_bot.append(request_email("cuti@instansi.go.id", "Cuti", "Out of office: reset password", "Saya cuti.",
                                 extra_headers={"Auto-Submitted": "auto-replied"}))
    any_bot.append(request_email("promo@spam.example", "Promo", "Reset password gratis!!", "Klik di sini",
                                 [("promo.pdf", sample_request_letter("Promo", NIP))],
                                 extra_headers={"List-Id": "<promo.spam.example>", "Precedence": "bulk"}))
    any_bot.append(request_email("mailer-daemon@mx.example", "Mail Delivery System", "Undelivered Mail",
                                 "Delivery failed"))
    any_bot.poll(now)
    r = build_report(any_bot.app, "2026-03")
    assert r.total == 1 and sum(r.outcomes.values()) == 1
    assert r.excluded["ignored"] == 3
    assert r.per_day[9] == (10, 1) and sum(n for _, n in r.per_day) == 1 and len(r.per_day) == 31
    [html_path] = write_report(r, tmp_path / "out", ["html"])
    assert "tidak termasuk 3 email yang bukan permohonan" in html_path.read_text()


def test_period_line_names_the_first_and_last_day(app: App) -> None:
    """Scenario: the reports of February 2028 (a leap year) and December 2026 → the period's real last day."""
    assert build_report(app, "2028-02").period_line == "Periode: 1 Februari 2028 s.d. 29 Februari 2028 (waktu Asia/Jakarta)"
    assert build_report(app, "2026-12").period_line.startswith("Periode: 1 Desember 2026 s.d. 31 Desember 2026")


def test_csv_dialects_bytes(app: App, tmp_path: Path) -> None:
    """Scenario: the default CSV opens as columns in an Indonesian Excel (BOM, ';', decimal comma); `comma`
    writes ',' and a decimal point; both parse back with the csv module's excel dialect."""
    number = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0))
    decide_from_cli(app, number, CliCommand.make("reject", "SK; tidak sah, kedaluwarsa"), "petugas",
                    wib(2026, 3, 3, 9, 7))
    r = build_report(app, "2026-03")
    write_report(r, tmp_path / "id", ["csv"])
    data = (tmp_path / "id" / "laporan-2026-03-langkah-sop.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbflangkah;keterangan;standar_menit;jumlah;")
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), dialect="excel", delimiter=";"))
    assert len({len(row) for row in rows}) == 1 and len(rows[0]) == 12
    validity = next(row for row in rows if row[0] == "step5_validity")
    assert validity[5] == "7,00"
    write_report(r, tmp_path / "en", ["csv"], csv_dialect="comma")
    data = (tmp_path / "en" / "laporan-2026-03-langkah-sop.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbflangkah,keterangan,standar_menit,jumlah,")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), dialect="excel"))
    assert len({len(row) for row in rows}) == 1
    assert next(row for row in rows if row[0] == "step5_validity")[5] == "7.00"
    with pytest.raises(ValueError, match="semicolon"):
        write_report(r, tmp_path / "x", ["csv"], csv_dialect="tab")


def test_charts_are_inline_svg_without_scripts(app: App, tmp_path: Path) -> None:
    """Scenario: a month with cases → three inline SVG charts (per day, outcomes, steps vs standard), no script,
    no external reference, an A4 @page rule."""
    number = hardcopy(app, tmp_path, wib(2026, 3, 3, 9, 0), name="<script>alert(1)</script>")
    decide_from_cli(app, number, CliCommand.make("approve"), "petugas", wib(2026, 3, 3, 9, 20))
    [path] = write_report(build_report(app, "2026-03"), tmp_path / "out", ["html"])
    html = path.read_text()
    assert html.count("<svg ") == 3
    for title in ("Permohonan per hari", "Hasil permohonan", "Median waktu per langkah"):
        assert f"<title>{title}" in html
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert re.findall(r"\s(?:src|href)=", html) == []  # nothing to fetch: prints offline
    assert "@page { size: A4" in html and "Mengetahui," in html


def _require_chromium() -> None:
    from mailbot.admin.chromium import find_chromium

    if find_chromium() is None:
        if os.environ.get("MAILBOT_REQUIRE_CHROMIUM"):
            pytest.fail("headless Chromium is required here (MAILBOT_REQUIRE_CHROMIUM): apt-get install chromium")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def test_pdf_is_a4_with_the_period_line_and_nothing_outside_the_page(any_bot: Bot, tmp_path: Path) -> None:
    """Scenario: `mailbot report --format pdf` for the known March → a PDF of A4 pages whose text has the period
    line and the step table, and no character outside the page (no overflow)."""
    import pypdfium2

    from mailbot.cli import main

    _require_chromium()
    march_cases(any_bot.app, any_bot, tmp_path)
    out = tmp_path / "pdf"
    cfg = str(any_bot.workdir / "mailbot.toml")
    assert main(["--config", cfg, "report", "--month", "2026-03", "--format", "pdf,html", "--out", str(out)]) == 0
    pdf = pypdfium2.PdfDocument(out / "laporan-2026-03.pdf")
    try:
        assert len(pdf) >= 1
        text = ""
        for page in pdf:
            width, height = page.get_size()
            assert (round(width), round(height)) == (595, 842)  # A4 in points
            tp = page.get_textpage()
            for i in range(tp.count_chars()):
                left, bottom, right, top = tp.get_charbox(i)
                assert -0.5 <= left and right <= width + 0.5 and -0.5 <= bottom and top <= height + 0.5
            text += tp.get_text_range() + "\n"
    finally:
        pdf.close()
    flat = " ".join(text.split())
    assert "Periode: 1 Maret 2026 s.d. 31 Maret 2026" in flat
    assert "Langkah 6" in flat and "tidak terukur" in flat and "Mengetahui," in flat
    if os.environ.get("MAILBOT_WRITE_DOCS"):  # regenerate docs/report.png: this PDF's first page
        from tests.support.paths import REPO

        pdf = pypdfium2.PdfDocument(out / "laporan-2026-03.pdf")
        try:
            pdf[0].render(scale=1.4).to_pil().save(REPO / "docs" / "report.png", optimize=True)
            for i in range(len(pdf)):
                pdf[i].render(scale=1.0).to_pil().save(tmp_path / f"page{i + 1}.png")
        finally:
            pdf.close()
        print(f"pages in {tmp_path}")


def test_pdf_without_chromium_is_one_line_naming_the_package(any_bot: Bot, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: no Chromium on the machine → exit 2, one line naming the Debian package; nothing written."""
    from mailbot.cli import main

    monkeypatch.setenv("MAILBOT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    capsys.readouterr()
    rc = main(["--config", str(any_bot.workdir / "mailbot.toml"), "report", "--month", "2026-03", "--format",
               "html,pdf", "--out", str(tmp_path / "out")])
    [line] = capsys.readouterr().err.splitlines()
    assert rc == 2 and "chromium" in line and "apt-get install" in line
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


# -- the decider is a person ------------------------------------------------------------------------------
@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A shell where the login is root and no sudo user is known."""
    import getpass

    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "root")
    return monkeypatch


def test_cli_decider_is_by_or_sudo_user_never_root(any_bot: Bot, tmp_path: Path, as_root: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: as root without --by, approve/reject/request-docs/case new are refused with one line asking
    for --by; SUDO_USER names the person; --by wins; the case and its audit trail name that person."""
    from mailbot.cli import main

    cfg = str(any_bot.workdir / "mailbot.toml")

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(["--config", cfg, *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    files = [str(p) for p in pdfs(tmp_path)]
    walk_in = ["case", "new", "--hardcopy", "--name", NAME, "--nip", NIP, "--email", EMAIL, *files]
    for argv in (walk_in, ["approve", "LPSE-DEMO-2026-00001"], ["reject", "LPSE-DEMO-2026-00001", "--reason", "x"],
                 ["request-docs", "LPSE-DEMO-2026-00001", "--note", "x"], ["approve", "X", "--by", "root"]):
        rc, _out, err = run(*argv)
        [line] = err.splitlines()
        assert rc == 2 and "--by" in line, argv
    with any_bot.app.factory() as s:
        assert s.scalars(select(Case)).all() == []

    as_root.setenv("SUDO_USER", "root")
    assert run(*walk_in)[0] == 2
    as_root.setenv("SUDO_USER", "siti")
    rc, out, _err = run(*walk_in)
    assert rc == 0
    number = out.split()[0]
    rc, _out, err = run("approve", number, "--by", "rahmat")
    assert rc == 0, err
    with any_bot.app.factory() as s:
        case = s.scalar(select(Case).where(Case.number == number))
        actors = [(e.kind, e.actor) for e in s.scalars(select(Event).where(Event.case_id == case.id))]
        assert case.decided_by == "rahmat"
    assert ("received", "cli:siti") in actors and ("approve", "cli:rahmat") in actors
    assert not any("root" in actor for _, actor in actors)
    [row] = build_report(any_bot.app, case.created_at.astimezone(WIB).strftime("%Y-%m")).cases
    assert row.decided_by == "rahmat"
