"""Retention (UU PDP): `[storage] retention_days` after a case is closed, its mails and documents leave the
disk while the case, its events and SLA stay; real pymap/Dovecot and aiosmtpd, SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.admin.report import build_report
from mailbot.admin.retention import PURGED_BODY, purge
from mailbot.app import App, build_app
from mailbot.cases.decisions import CliCommand, decide_from_cli
from mailbot.cli import main
from mailbot.config import load_settings
from mailbot.domain.states import CaseStatus, InboundStatus
from mailbot.store.models import Case, Document, Event, InboundMessage, Outbox, SlaRecord
from tests.support.bot import Bot
from tests.support.documents import sample_sk
from tests.support.mails import PPK_A, PPK_B, complete_request, request_email

A_NAME, A_NIP = PPK_A[0], PPK_A[1]
B_NAME, B_NIP, B_EMAIL = PPK_B[0], PPK_B[1], PPK_B[2]
DAY = timedelta(days=1)


def with_retention(bot: Bot, days: int) -> App:
    """The bot's config with `[storage] retention_days = days`, as a new App."""
    cfg = bot.workdir / "mailbot.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('data_dir = "data"\n',
                                                           f'data_dir = "data"\nretention_days = {days}\n'),
                   encoding="utf-8")
    bot.app.engine.dispose()
    bot.app = build_app(load_settings(cfg))
    return bot.app


def snapshot(app: App) -> dict[str, object]:
    """What the database holds, as comparable values."""
    with app.factory() as s:
        return {
            "cases": [(c.number, c.status, c.closed_at, c.purged_at) for c in s.scalars(select(Case).order_by(Case.id))],
            "texts": [d.text for d in s.scalars(select(Document).order_by(Document.id))],
            "outbox": [o.raw for o in s.scalars(select(Outbox).order_by(Outbox.id))],
            "events": s.scalars(select(Event.kind).order_by(Event.id)).all(),
            "purged_msgs": s.scalars(select(InboundMessage.purged_at).order_by(InboundMessage.id)).all(),
        }


def blobs_of(app: App, number: str) -> set[str]:
    with app.factory() as s:
        case = s.scalars(select(Case).where(Case.number == number)).one()
        raws = set(s.scalars(select(InboundMessage.raw_blob).where(InboundMessage.case_id == case.id)))
        return raws | {d.sha256 for d in case.documents}


@pytest.fixture
def world(db_bot: Bot) -> tuple[Bot, datetime, str, str]:
    """Case A rejected (closed at t0), case B open with a document byte-identical to one of A's, and an
    ignored auto-reply; retention 30 days; SQLite and PostgreSQL. Returns (bot, t0, number A, number B)."""
    bot = db_bot
    app = with_retention(bot, 30)
    bot.append(complete_request())
    bot.append(request_email("someone@example.org", "Someone", "Out of Office: Permohonan", "Saya sedang cuti.",
                             extra_headers={"Auto-Submitted": "auto-replied"}))
    bot.poll()
    # B's request carries A's SK file, byte for byte (forwarded by the same office): a shared blob.
    shared = sample_sk(A_NAME, A_NIP)
    bot.append(request_email(B_EMAIL, B_NAME, "Permohonan informasi user ID SPSE", f"Mohon informasi. NIP. {B_NIP}",
                             [("SK lama.pdf", shared)]))
    bot.poll()
    with app.factory() as s:
        a, b = s.scalars(select(Case).order_by(Case.id)).all()
        number_a, number_b = a.number, b.number
    t0 = datetime.now(timezone.utc)
    decide_from_cli(app, number_a, CliCommand.make("reject", "SK tidak sah"), "admin", t0)
    bot.poll()  # the rejection mail goes out
    with app.factory() as s:
        assert s.scalars(select(Case.status).where(Case.number == number_a)).one() == CaseStatus.REJECTED
        assert s.scalars(select(Case.status).where(Case.number == number_b)).one() not in (
            CaseStatus.REJECTED, CaseStatus.COMPLETED, CaseStatus.EXPIRED)
        assert s.scalars(select(InboundMessage.status).where(InboundMessage.case_id.is_(None))).all() == [
            InboundStatus.IGNORED]
    return bot, t0, number_a, number_b


def test_purge_deletes_a_closed_cases_data_keeps_open_and_recent_and_is_idempotent(world) -> None:  # type: ignore[no-untyped-def]
    """Scenario: retention 30 days. At t0+10 d nothing goes; a dry run at t0+31 d lists case A and the
    ignored auto-reply and changes nothing; the purge deletes A's raw mails and documents from disk (not
    the file B shares), blanks A's texts, reduces A's outbox to headers, records `purged`; B is untouched;
    a second purge finds nothing; the monthly report is the same before and after."""
    bot, t0, number_a, number_b = world
    app = bot.app
    month = t0.astimezone(app.settings.tz).strftime("%Y-%m")
    report_before = build_report(app, month, now=t0)
    blobs_a, blobs_b = blobs_of(app, number_a), blobs_of(app, number_b)
    shared = blobs_a & blobs_b
    assert len(shared) == 1
    with app.factory() as s:
        ignored = s.scalars(select(InboundMessage).where(InboundMessage.case_id.is_(None))).one()
    assert all(app.store.exists(d) for d in blobs_a | blobs_b | {ignored.raw_blob})

    recent = purge(app, t0 + 10 * DAY)
    assert (recent.cases, recent.messages, recent.files) == ([], [], 0)

    before = snapshot(app)
    dry = purge(app, t0 + 31 * DAY, dry_run=True)
    assert [c.number for c in dry.cases] == [number_a] and [m.id for m in dry.messages] == [ignored.id]
    assert dry.files == len(blobs_a - shared) + 1 and dry.bytes > 0
    assert any(line.startswith(f"would purge {number_a}") for line in dry.lines())
    assert snapshot(app) == before
    assert all(app.store.exists(d) for d in blobs_a | blobs_b | {ignored.raw_blob})

    done = purge(app, t0 + 31 * DAY)
    assert [c.number for c in done.cases] == [number_a] and done.files == dry.files
    for digest in blobs_a - shared:
        assert not app.store.path(digest).exists(), "a purged case's file is still on disk"
    assert not app.store.path(ignored.raw_blob).exists()
    assert all(app.store.exists(d) for d in blobs_b), "the open case lost a file"
    with app.factory() as s:
        a = s.scalars(select(Case).where(Case.number == number_a)).one()
        b = s.scalars(select(Case).where(Case.number == number_b)).one()
        assert a.purged_at is not None and a.status == CaseStatus.REJECTED and b.purged_at is None
        assert all(d.text == "" for d in a.documents) and any(d.text for d in b.documents)
        outbox_a = s.scalars(select(Outbox).where(Outbox.case_id == a.id)).all()
        assert outbox_a and all(o.raw.endswith(PURGED_BODY.encode()) and b"Subject:" in o.raw for o in outbox_a)
        assert all(b"%PDF" not in o.raw for o in outbox_a)
        assert [e.kind for e in a.events][-1] == "purged"
        assert s.scalars(select(SlaRecord).where(SlaRecord.case_id == a.id)).all(), "SLA records must stay"
        assert s.scalars(select(InboundMessage.purged_at).where(InboundMessage.id == ignored.id)).one() is not None
    assert build_report(app, month, now=t0) == report_before

    after = snapshot(app)
    again = purge(app, t0 + 60 * DAY)
    assert (again.cases, again.messages, again.files) == ([], [], 0)
    assert snapshot(app) == after


def test_purge_command_and_archive_of_a_purged_case(world, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot purge --dry-run` lists what would go, `mailbot purge` purges it, and
    `archive export` of the purged case refuses with one line (exit 1) and writes nothing."""
    bot, t0, number_a, _ = world
    cfg = str(bot.workdir / "mailbot.toml")
    later = (t0 + 31 * DAY).isoformat()
    capsys.readouterr()
    assert main(["--config", cfg, "purge", "--dry-run", "--now", later]) == 0
    out = capsys.readouterr().out
    assert f"would purge {number_a}" in out and "would purge 1 case(s) and 1 unlinked message(s)" in out
    assert main(["--config", cfg, "purge", "--now", later]) == 0
    out = capsys.readouterr().out
    assert f"purged {number_a}" in out and "purged 1 case(s)" in out
    dest = tmp_path / "a.zip"
    assert main(["--config", cfg, "archive", "export", number_a, str(dest)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "was purged" in err and number_a in err
    assert not dest.exists()


def test_retention_off_by_default_purges_nothing(any_bot: Bot) -> None:
    """Scenario: no retention_days (0, keep forever): even years later nothing is purged."""
    any_bot.append(complete_request())
    any_bot.poll()
    result = purge(any_bot.app, datetime.now(timezone.utc) + 3650 * DAY)
    assert result.lines() == ["retention is off (storage.retention_days = 0): nothing purged"]
    with any_bot.app.factory() as s:
        assert all(any_bot.app.store.exists(m.raw_blob) for m in s.scalars(select(InboundMessage)))



def test_the_daily_retention_job_purges_what_is_due(world) -> None:  # type: ignore[no-untyped-def]
    """The daemon's retention job (runner.retention_job, scheduled daily) purges as `mailbot purge` does."""
    from mailbot.domain.results import PollResult
    from mailbot.runner import retention_job
    from mailbot.store.models import OcrResult

    bot, t0, number_a, number_b = world
    only_a = sorted(blobs_of(bot.app, number_a) - blobs_of(bot.app, number_b))
    shared = sorted(blobs_of(bot.app, number_a) & blobs_of(bot.app, number_b))
    with bot.app.factory.begin() as s:  # what OCR read from A's own file and from the shared one
        s.add_all([OcrResult(sha256=only_a[0], status="done", text=f"NIP {A_NIP}"),
                   OcrResult(sha256=shared[0], status="done", text=f"NIP {A_NIP}")])
    retention_job(bot.app, t0 + 31 * DAY, PollResult())
    with bot.app.factory() as s:
        purged = dict(s.execute(select(Case.number, Case.purged_at)).tuples().all())
        ocr_left = set(s.scalars(select(OcrResult.sha256)))
    assert purged[number_a] is not None and purged[number_b] is None
    assert ocr_left == {shared[0]}, "the OCR text of a purged file must go with it"
