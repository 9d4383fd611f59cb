"""Wiring: one App object carries settings, DB session factory, stores and renderers (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailbot.config import Settings
from mailbot.db import make_engine, migrate, session_factory
from mailbot.documents import DEFAULT_KINDS, DocumentKind
from mailbot.mailbox import ImapMailbox, ImapParams
from mailbot.outbox import OutboxIdentity, SmtpParams, SmtpSender
from mailbot.render import Renderer
from mailbot.storage import BlobStore
from mailbot.workflow import Policy
from mailbot.workingtime import WorkingCalendar, make_calendar


@dataclass
class App:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    store: BlobStore
    renderer: Renderer
    calendar: WorkingCalendar
    kinds: tuple[DocumentKind, ...]
    secret: bytes
    verify_tls: bool = True

    @property
    def identity(self) -> OutboxIdentity:
        s = self.settings.smtp
        return OutboxIdentity(s.from_address, s.from_name, self.secret)

    @property
    def policy(self) -> Policy:
        r = self.settings.reminders
        return Policy(r.documents_after_working_days, r.max_document_reminders, r.expire_after_working_days)

    @property
    def own_domain(self) -> str:
        return self.identity.domain

    @property
    def own_addresses(self) -> set[str]:
        return {self.settings.smtp.from_address.lower(), self.settings.imap.username.lower()}

    def kind_label(self, name: str) -> str:
        for k in self.kinds:
            if k.name == name:
                return k.label
        return name

    def mailbox(self) -> ImapMailbox:
        s = self.settings.imap
        return ImapMailbox(ImapParams(s.host, s.port, s.security, s.username, self.settings.imap_password(),
                                      float(s.timeout_seconds), self.verify_tls, s.ca_file))

    def smtp_sender(self) -> SmtpSender:
        s = self.settings.smtp
        return SmtpSender(SmtpParams(s.host, s.port, s.security, s.username, self.settings.smtp_password(),
                                     float(s.timeout_seconds), self.verify_tls, s.ca_file))


def document_kinds(settings: Settings) -> tuple[DocumentKind, ...]:
    """The built-in kinds, with [[documents]] entries replacing (same name) or adding to them."""
    kinds = {k.name: k for k in DEFAULT_KINDS}
    for d in settings.documents:
        kinds[d.name] = DocumentKind(d.name, d.label, d.filename_patterns, d.text_patterns, d.required)
    return tuple(kinds.values())


def build_app(settings: Settings, *, secret: bytes | None = None, migrate_db: bool = True) -> App:
    """Create the engine (migrating it) and everything that hangs off the settings."""
    engine = make_engine(settings.database_url)
    if migrate_db:
        migrate(engine)
    start, _, end = settings.office.working_hours.partition("-")
    calendar = make_calendar(settings.office.timezone, start, end, settings.office.extra_holidays,
                             settings.office.extra_workdays)
    return App(settings=settings, engine=engine, factory=session_factory(engine),
               store=BlobStore(settings.data_dir), renderer=Renderer(settings.templates_dir),
               calendar=calendar, kinds=document_kinds(settings),
               secret=secret if secret is not None else settings.secret_key())


def aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt
