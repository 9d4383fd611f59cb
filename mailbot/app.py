"""Wiring: one App object carries settings, the database, stores and the renderer (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailbot.config import ConfigError, Settings
from mailbot.domain.kinds import DEFAULT_KINDS, DocumentKind
from mailbot.domain.workflow import Policy
from mailbot.domain.workingtime import WorkingCalendar
from mailbot.oauth2 import TokenSource
from mailbot.office_calendar import make_calendar
from mailbot.outgoing.outbox import OutboxIdentity
from mailbot.outgoing.render import Renderer
from mailbot.outgoing.smtp import SmtpParams, SmtpSender
from mailbot.store.blobs import BlobStore
from mailbot.store.db import ensure_schema, make_engine, session_factory

T = TypeVar("T")


@dataclass
class App:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    store: BlobStore
    renderer: Renderer
    calendar: WorkingCalendar
    kinds: tuple[DocumentKind, ...]
    secrets: Secrets
    verify_tls: bool = True
    oauth: TokenSource | None = None  # XOAUTH2 tokens when imap.auth or smtp.auth is "oauth2"

    @property
    def secret(self) -> bytes:
        """The HMAC key of our Message-ID tags; a command that needs it and has none exits 2 naming the key."""
        if self.secrets.key is None:
            raise ConfigError(f"security.secret_env: environment variable {self.settings.security.secret_env} "
                              f"is not set; export it (the value in the service's environment file)")
        return self.secrets.key

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

    def smtp_sender(self) -> SmtpSender:
        s = self.settings.smtp
        password = self.secrets.smtp_password
        if s.username and password is None:
            password = self.settings.smtp_password()  # raises the one-line error naming smtp.password_env
        token = self.oauth.access_token if self.oauth is not None and s.auth == "oauth2" else None
        return SmtpSender(SmtpParams(s.host, s.port, s.security, s.username, password,
                                     float(s.timeout_seconds), self.verify_tls, s.ca_file, token=token))


@dataclass(frozen=True)
class Secrets:
    """The secrets the config names, read from the environment once, when the App is built."""

    key: bytes | None = field(default=None, repr=False)
    imap_password: str | None = field(default=None, repr=False)
    smtp_password: str | None = field(default=None, repr=False)
    oauth2_client_secret: str | None = field(default=None, repr=False)


def read_secrets(settings: Settings, *, required: bool) -> Secrets:
    """Every secret that is set; with `required`, a missing one is a ConfigError naming its key."""
    if required:
        settings.require_secrets()

    def optional(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except ConfigError:
            return None

    return Secrets(optional(settings.secret_key), optional(settings.imap_password), optional(settings.smtp_password),
                   optional(settings.oauth2_client_secret))


def document_kinds(settings: Settings) -> tuple[DocumentKind, ...]:
    """The built-in kinds, with [[documents]] entries replacing (same name) or adding to them."""
    kinds = {k.name: k for k in DEFAULT_KINDS}
    for d in settings.documents:
        kinds[d.name] = DocumentKind(d.name, d.label, d.filename_patterns, d.text_patterns, d.required)
    return tuple(kinds.values())


def build_app(settings: Settings, *, secret: bytes | None = None, migrate_db: bool = True,
              require_secrets: bool = False) -> App:
    """Create the engine (migrating a database not at the newest schema: one SELECT when it is) and
    everything that hangs off the settings; `secret` replaces the configured HMAC key (tests,
    benchmarks), `require_secrets` fails early when one is unset. Nothing here loads Jinja2 or the
    holiday tables: the renderer and the calendar do that on first use."""
    engine = make_engine(settings.database_url)
    if migrate_db:
        ensure_schema(engine)
    secrets = read_secrets(settings, required=require_secrets)
    start, _, end = settings.office.working_hours.partition("-")
    calendar = make_calendar(settings.office.timezone, start, end, settings.office.extra_holidays,
                             settings.office.extra_workdays, holiday_files=settings.data_dir / "cache")
    return App(settings=settings, engine=engine, factory=session_factory(engine),
               store=BlobStore(settings.data_dir), renderer=Renderer(settings.templates_dir),
               calendar=calendar, kinds=document_kinds(settings),
               secrets=replace(secrets, key=secret) if secret is not None else secrets,
               oauth=oauth_source(settings, secrets))


def oauth_source(settings: Settings, secrets: Secrets) -> TokenSource | None:
    """The process's token source when the mailbox signs in with OAuth2 (one per App)."""
    if not settings.uses_oauth2:
        return None
    return TokenSource(settings.oauth2, settings.oauth2.token_file, secrets.oauth2_client_secret)


def aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt
