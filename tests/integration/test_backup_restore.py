"""`mailbot backup` and `mailbot restore` after real intake (pymap/Dovecot, aiosmtpd), SQLite and PostgreSQL:
every case, document (its bytes) and event comes back; a non-empty target and a changed backup are refused."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from mailbot.app import App, build_app
from mailbot.cli import main
from mailbot.config import load_settings
from mailbot.store.access import sqlite_path
from mailbot.store.models import Case, Document, Event, InboundMessage, Outbox, SlaRecord
from tests.support.bot import Bot
from tests.support.documents import sample_request_letter
from tests.support.mails import PPK_B, complete_request, request_email

B_NAME, B_NIP, B_EMAIL = PPK_B[0], PPK_B[1], PPK_B[2]


def everything(app: App) -> dict[str, object]:
    """Every case, event, document (with its stored bytes), message (with its raw bytes), mail and SLA record."""
    with app.factory() as s:
        cases = {c.id: c.number for c in s.scalars(select(Case))}
        return {
            "cases": [(c.number, c.status, c.sender, c.created_at, c.closed_at)
                      for c in s.scalars(select(Case).order_by(Case.id))],
            "events": [(cases.get(e.case_id), e.kind, e.actor, e.at, e.from_status, e.to_status, e.detail)
                       for e in s.scalars(select(Event).order_by(Event.id))],
            "documents": [(cases[d.case_id], d.filename, d.sha256, d.kinds, d.text, app.store.get(d.sha256))
                          for d in s.scalars(select(Document).order_by(Document.id))],
            "messages": [(m.uid, m.status, m.sha256, app.store.get(m.raw_blob))
                         for m in s.scalars(select(InboundMessage).order_by(InboundMessage.id))],
            "outbox": [(o.template, o.status, o.raw) for o in s.scalars(select(Outbox).order_by(Outbox.id))],
            "sla": [(cases[r.case_id], r.step, r.working_minutes) for r in s.scalars(select(SlaRecord).order_by(SlaRecord.id))],
        }


def wipe(bot: Bot) -> None:
    """The disaster: data_dir and the database are gone (PostgreSQL: an empty database is left)."""
    settings = bot.app.settings
    bot.app.engine.dispose()
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    db = sqlite_path(settings.database_url)
    if db is not None:
        for suffix in ("", "-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
    else:
        engine = create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_backup_wipe_restore_brings_back_every_case_document_and_event(
        db_bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: two requests polled (one complete, one missing a document) → `mailbot backup` → data_dir
    and database wiped → `mailbot restore` → every case, event, document and raw mail back, byte for byte;
    a second restore onto the restored data is refused (exit 2, one line)."""
    bot, config = db_bot, db_bot.workdir / "mailbot.toml"
    bot.append(complete_request())
    bot.append(request_email(B_EMAIL, B_NAME, "Permohonan informasi user ID SPSE", f"Mohon informasi. NIP. {B_NIP}",
                             [("surat_permohonan.pdf", sample_request_letter(B_NAME, B_NIP, "informasi user ID"))]))
    bot.poll()
    before = everything(bot.app)
    assert len(before["cases"]) == 2 and len(before["documents"]) == 3 and before["events"]  # type: ignore[arg-type]

    dest = tmp_path / "backup-1"
    rc, out, err = run(capsys, config, "backup", str(dest))
    assert rc == 0, err
    assert out.startswith(f"backup {dest}: ") and "SHA-256 of each in manifest.json" in out
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["format"] == "mailbot-backup/1" and manifest["schema"]
    assert {f["path"].split("/")[0] for f in manifest["files"]} == {"blobs", manifest["files"][0]["path"]}
    assert not list(tmp_path.glob(".backup-1.*")), "the partial folder was left behind"

    wipe(bot)
    rc, out, err = run(capsys, config, "restore", str(dest))
    assert rc == 0, err
    assert out.startswith(f"restored {dest}") and "every SHA-256 verified" in out
    bot.app = build_app(load_settings(config), migrate_db=False)  # at the current schema: nothing to migrate
    assert everything(bot.app) == before
    db = sqlite_path(bot.app.settings.database_url)
    if db is not None:
        assert db.stat().st_mode & 0o777 == 0o600

    rc, out, err = run(capsys, config, "restore", str(dest))
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and "restore only into an empty" in err
    assert everything(bot.app) == before


def test_a_changed_backup_is_refused_and_nothing_is_restored(
        any_bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: one byte of a document in the backup changed → restore exits 1 naming the file, writes nothing."""
    bot, config = any_bot, any_bot.workdir / "mailbot.toml"
    bot.append(complete_request())
    bot.poll()
    dest = tmp_path / "backup"
    assert run(capsys, config, "backup", str(dest))[0] == 0
    blob = next(p for p in (dest / "blobs").rglob("*") if p.is_file())
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    wipe(bot)
    rc, out, err = run(capsys, config, "restore", str(dest))
    assert rc == 1 and len(err.splitlines()) == 1
    assert "does not match its manifest" in err and blob.relative_to(dest).as_posix() in err
    assert not sqlite_path(bot.app.settings.database_url).exists()  # type: ignore[union-attr]
    assert not (bot.app.settings.data_dir / "blobs").exists()


def test_backup_while_a_writer_holds_a_transaction_is_the_committed_state(
        any_bot: Bot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: the daemon is in the middle of a write (SQLite, an open write transaction): the backup
    neither waits for it nor contains it — it is the committed state."""
    bot, config = any_bot, any_bot.workdir / "mailbot.toml"
    bot.append(complete_request())
    bot.poll()
    db = sqlite_path(bot.app.settings.database_url)
    assert db is not None
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO case_counters (prefix, year, last_seq) VALUES ('UNCOMMITTED', 2026, 1)")
        dest = tmp_path / "backup"
        rc, _out, err = run(capsys, config, "backup", str(dest))
        assert rc == 0, err
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    copy = sqlite3.connect(dest / "database.sqlite3")
    try:
        assert copy.execute("SELECT count(*) FROM case_counters WHERE prefix = 'UNCOMMITTED'").fetchone() == (0,)
        assert copy.execute("SELECT count(*) FROM cases").fetchone() == (1,)
    finally:
        copy.close()


def test_backup_into_a_non_empty_folder_is_refused(any_bot: Bot, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: DEST already holds files → exit 2, one line, the folder untouched."""
    dest = tmp_path / "old"
    dest.mkdir()
    (dest / "keep.txt").write_text("x")
    rc, _out, err = run(capsys, any_bot.workdir / "mailbot.toml", "backup", str(dest))
    assert rc == 2 and len(err.splitlines()) == 1 and str(dest) in err
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
