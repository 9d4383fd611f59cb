"""Shared fixtures: real IMAP/SMTP servers (tests/servers.py), databases, and a configured bot."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests explore the same examples on every run: a red CI always means a real regression (a
# new random example found once would make main flaky); widen max_examples locally to search further.
hypothesis_settings.register_profile("mailbot", derandomize=True, database=None)
hypothesis_settings.load_profile("mailbot")

from mailbot.admin.registry import import_csv
from mailbot.app import App, build_app
from mailbot.config import load_settings
from mailbot.demo.servers import EmbeddedSmtp, ImapEndpoint
from mailbot.demo.world import ADMIN, PPK_A, PPK_B, write_config
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import open_mailbox
from mailbot.runner import poll_once
from tests.servers import imap_append, imap_uids

pytest_plugins = ["tests.servers"]

PG_ENV = "MAILBOT_TEST_POSTGRES_URL"
CORPUS = Path(os.environ.get("MAILBOT_CORPUS_DIR") or Path(__file__).resolve().parents[2] / "shared" / "corpus")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mailbot.db'}"


def _pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database per test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("MAILBOT_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_ENV} not set but MAILBOT_REQUIRE_POSTGRES is")
        pytest.skip(f"{PG_ENV} not set")
    name = f"mailbot_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailbot.db'}"
    else:
        yield from _pg_database()


def _dovecot_required() -> bool:
    """CI sets MAILBOT_REQUIRE_DOVECOT: then a missing Dovecot fails the test instead of using pymap."""
    return bool(os.environ.get("MAILBOT_REQUIRE_DOVECOT"))


@dataclass
class Bot:
    """A configured mailbot against real servers, with helpers that act like the outside world."""

    app: App
    imap: ImapEndpoint
    smtp: EmbeddedSmtp
    workdir: Path

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        imap_append(self.imap, folder, raw)

    def poll(self, now: datetime | None = None) -> PollResult:
        return poll_once(self.app, now)

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

    def sent(self, template: str | None = None) -> list:  # type: ignore[type-arg]
        return [m for m in self.smtp.messages if template is None or m.header("X-Mailbot-Template") == template]


def make_bot(tmp_path: Path, imap: ImapEndpoint, smtp: EmbeddedSmtp, db_url: str,
             monkeypatch: pytest.MonkeyPatch, **cfg: object) -> Bot:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", imap.password)
    monkeypatch.setenv("MAILBOT_SECRET", secrets.token_hex(16))
    smtp_host, smtp_port = smtp.host, smtp.port
    path = write_config(tmp_path, imap.host, imap.port, imap.username, smtp_host, smtp_port, db_url, **cfg)
    app = build_app(load_settings(path))
    reg = tmp_path / "registry.csv"
    reg.write_text("nama,nip,email,user_id,satker\n" + "\n".join(",".join(p) for p in (PPK_A, PPK_B)) + "\n")
    import_csv(app, reg)
    return Bot(app, imap, smtp, tmp_path)


@pytest.fixture
def bot(tmp_path: Path, imap_server: ImapEndpoint, smtp_server: EmbeddedSmtp, sqlite_url: str,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """pymap and Dovecot, SQLite."""
    b = make_bot(tmp_path, imap_server, smtp_server, sqlite_url, monkeypatch)
    yield b
    b.app.engine.dispose()


def _fastest_imap(request: pytest.FixtureRequest) -> ImapEndpoint:
    """Dovecot when installed (or required by CI), else pymap."""
    from tests.servers import find_dovecot

    return request.getfixturevalue("dovecot_server" if find_dovecot() or _dovecot_required() else "pymap_server")


@pytest.fixture
def any_bot(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: EmbeddedSmtp, sqlite_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """One bot on the fastest IMAP server available, SQLite."""
    b = make_bot(tmp_path, _fastest_imap(request), smtp_server, sqlite_url, monkeypatch)
    yield b
    b.app.engine.dispose()


@pytest.fixture
def db_bot(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: EmbeddedSmtp, db_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """SQLite and PostgreSQL, on the fastest IMAP server available."""
    b = make_bot(tmp_path, _fastest_imap(request), smtp_server, db_url, monkeypatch)
    yield b
    b.app.engine.dispose()


__all__ = ["ADMIN", "PPK_A", "PPK_B", "Bot", "CORPUS"]
