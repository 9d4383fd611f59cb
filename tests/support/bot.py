"""A configured mailbot against real loopback servers, and the fixtures that make one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mailbot.admin.registry import import_csv
from mailbot.app import App, build_app
from mailbot.cases.delivery import flush_outbox
from mailbot.cases.timers import run_timers
from mailbot.config import load_settings
from mailbot.demo.servers import ImapEndpoint, ReceivedMail
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import fetch_new, move_done, open_mailbox
from mailbot.intake.mailbox import ImapMailbox
from mailbot.intake.process import process_pending
from mailbot.outgoing.smtp import Sender
from mailbot.runner import drain_ocr, poll_once
from tests.support.config import write_config
from tests.support.mails import ADMIN, ADMIN_B, PPK_A, PPK_B, complete_request
from tests.support.servers import FaultySmtp, fastest_imap, imap_append, imap_uids


@dataclass
class Bot:
    """A configured mailbot against real servers, with helpers that act like the outside world."""

    app: App
    imap: ImapEndpoint
    smtp: FaultySmtp
    workdir: Path

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        imap_append(self.imap, folder, raw)

    def poll(self, now: datetime | None = None, **options: Any) -> PollResult:
        """One `runner.poll_once` (options: its keyword parameters, e.g. route=)."""
        return poll_once(self.app, now, **options)

    def poll_pass(self, now: datetime | None = None, *, mailbox: ImapMailbox | None = None,
                  sender: Sender | None = None, **process: Any) -> PollResult:
        """The steps of one poll (fetch, process, move, OCR, timers, flush, as runner.poll_once runs them)
        with their tuning parameters: `mailbox` (e.g. ImapMailbox(..., fetch_chunk=)), `sender` (e.g.
        SmtpSender(..., stream_above=)) and process_pending's keywords (prefetch_min=, spool_min_run=)."""
        now = now or datetime.now(timezone.utc)
        result = PollResult()
        with mailbox or open_mailbox(self.app) as mb:
            folder, uidvalidity = fetch_new(self.app, mb, now, result)
            process_pending(self.app, now, result, **process)
            move_done(self.app, mb, folder, uidvalidity, result)
        drain_ocr(self.app, now, result)
        run_timers(self.app, now, result)
        flush_outbox(self.app, now, result, sender)
        return result

    def folder(self, folder: str) -> str:
        """The server's name for a config folder name (Dovecot uses '.' as separator)."""
        with open_mailbox(self.app) as mb:
            return mb.name(folder)

    def uids(self, folder: str) -> list[int]:
        return imap_uids(self.imap, self.folder(folder))

    def all(self, model: type) -> list:  # type: ignore[type-arg]
        """Every row of one model, in id order (for assertions on what was stored)."""
        from sqlalchemy import select

        with self.app.factory() as s:
            return list(s.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]

    def sent(self, template: str | None = None) -> list[ReceivedMail]:
        return [m for m in self.smtp.messages if template is None or m.header("X-Mailbot-Template") == template]


def make_bot(tmp_path: Path, imap: ImapEndpoint, smtp: FaultySmtp, db_url: str,
             monkeypatch: pytest.MonkeyPatch, **cfg: object) -> Bot:
    """A bot on `imap`, `smtp` and `db_url` with both demo PPKs in the registry; `cfg`: write_config's."""
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", imap.password)
    monkeypatch.setenv("MAILBOT_SECRET", secrets.token_hex(16))
    smtp_host, smtp_port = smtp.host, smtp.port
    path = write_config(tmp_path, imap.host, imap.port, imap.username, smtp_host, smtp_port, db_url, **cfg)
    app = build_app(load_settings(path))
    reg = tmp_path / "registry.csv"
    reg.write_text("nama,nip,email,user_id,satker\n" + "\n".join(",".join(p) for p in (PPK_A, PPK_B)) + "\n")
    import_csv(app, reg)
    return Bot(app, imap, smtp, tmp_path)


def submit(bot: Bot, subject: str = "Permohonan reset password SPSE") -> ReceivedMail:
    """PPK A mails a complete request and the bot polls; returns the one review_request it sent."""
    bot.append(complete_request(subject))
    bot.poll()
    reviews = bot.sent("review_request")
    assert len(reviews) == 1
    return reviews[-1]


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture
def bot(tmp_path: Path, imap_server: ImapEndpoint, smtp_server: FaultySmtp, sqlite_url: str,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """pymap and Dovecot, SQLite."""
    b = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    yield b
    b.app.engine.dispose()


@pytest.fixture
def any_bot(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: FaultySmtp, sqlite_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """One bot on the fastest IMAP server available, SQLite."""
    b = make_bot(tmp_path, fastest_imap(request), smtp_server, sqlite_url, monkeypatch)
    yield b
    b.app.engine.dispose()


@pytest.fixture
def db_bot(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: FaultySmtp, db_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """SQLite and PostgreSQL, on the fastest IMAP server available."""
    b = make_bot(tmp_path, fastest_imap(request), smtp_server, db_url, monkeypatch)
    yield b
    b.app.engine.dispose()


@pytest.fixture
def pg_bot(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: FaultySmtp, pg_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """PostgreSQL only (skipped unless MAILBOT_TEST_POSTGRES_URL is set), on the fastest IMAP server."""
    b = make_bot(tmp_path, fastest_imap(request), smtp_server, pg_url, monkeypatch)
    yield b
    b.app.engine.dispose()


@pytest.fixture
def two_admins(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: FaultySmtp, sqlite_url: str,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """A bot with two Admin Agency addresses configured: ADMIN and ADMIN_B."""
    b = make_bot(tmp_path, fastest_imap(request), smtp_server, sqlite_url, monkeypatch,
                 admins=(ADMIN, ADMIN_B))
    yield b
    b.app.engine.dispose()
