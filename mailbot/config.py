"""Typed settings from TOML; secrets from environment variables; errors name the key and the fix."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailbot.config_reader import (
    ConfigError,
    TableReader,
    ca_file_path,
    email_address,
    env_name,
    mask_url,
    positive,
    resolve_path,
    security_mode,
    simple_table,
)

DEFAULT_CONFIG_PATH = Path("config/mailbot.toml")
# The commented example `mailbot init` copies; it ships inside the package (a wheel has no config/).
EXAMPLE_CONFIG = Path(__file__).resolve().parent / "mailbot.example.toml"


@dataclass(frozen=True)
class OfficeSettings:
    name: str = "LPSE"
    case_prefix: str = "LPSE"
    timezone: str = "Asia/Jakarta"
    working_hours: str = "08:00-16:00"
    extra_holidays: tuple[str, ...] = ()
    extra_workdays: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImapSettings:
    host: str = "localhost"
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password_env: str = "MAILBOT_IMAP_PASSWORD"
    auth: str = "password"  # "password" (LOGIN) or "oauth2" (XOAUTH2 with the token of [oauth2])
    folder: str = "INBOX"
    processed_folder: str = "mailbot/processed"
    quarantine_folder: str = "mailbot/quarantine"
    idle: bool = True
    poll_interval_seconds: int = 60
    timeout_seconds: int = 30
    batch_size: int = 50
    reconnect_attempts: int = 3  # tries per poll, with 1 s, 2 s … backoff between them
    ca_file: str = ""  # extra CA bundle (PEM) for a server with an internal/self-signed certificate


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    from_address: str = "lpse@example.go.id"
    from_name: str = "LPSE"
    timeout_seconds: int = 30
    ca_file: str = ""
    connections: int = 3  # SMTP connections a flush uses at once (a backlog's mail goes out in parallel)
    auth: str = "password"  # "password" (AUTH with username/password_env) or "oauth2" (XOAUTH2)


@dataclass(frozen=True)
class AdminSettings:
    emails: tuple[str, ...] = ()
    require_authenticated_admin_mail: bool = False
    trusted_authserv_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentSetting:
    name: str
    label: str
    filename_patterns: tuple[str, ...] = ()
    text_patterns: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class ReminderSettings:
    documents_after_working_days: int = 2
    max_document_reminders: int = 2
    expire_after_working_days: int = 2
    admin_digest_time: str = "08:00"


@dataclass(frozen=True)
class SlaSettings:
    """Standard minutes per SOP step (SPEC §1)."""

    step2_completeness: int = 5
    step3_request_documents: int = 5
    step5_validity: int = 15
    step6_reset: int = 1
    step7_rejection: int = 5
    step8_notify: int = 5


@dataclass(frozen=True)
class LimitSettings:
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachments: int = 20
    max_attachment_bytes: int = 15 * 1024 * 1024
    max_depth: int = 10
    max_header_bytes: int = 256 * 1024
    auto_replies_per_sender_per_day: int = 5
    admin_command_errors_per_admin_per_day: int = 10
    max_attempts: int = 3
    smtp_max_attempts: int = 8
    pdf_seconds: int = 20  # what reading one PDF may cost (wall-clock and CPU), then a manual check
    pdf_memory_mb: int = 512  # the PDF worker's address space

    def __post_init__(self) -> None:
        for name in ("pdf_seconds", "pdf_memory_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(f"limits.{name}: must be at least 1")


@dataclass(frozen=True)
class OcrSettings:
    """[ocr]: reading scans and photos (mailbot/cases/ocr.py); without the engine or its data, scans are
    manual checks for the admin."""

    enabled: bool = True
    workers: int = 2  # OCR worker processes (each uses one core while it reads)
    tessdata: str = "/usr/share/tesseract-ocr/5/tessdata"  # Debian's tesseract-ocr-ind/-eng/-osd
    lang: str = "ind+eng"
    dpi: int = 300  # PDF pages are rendered at this resolution
    max_pages: int = 20  # a PDF with more pages is not read (a manual check)
    max_pixels: int = 40_000_000  # per page or image (Pillow's decompression-bomb guard at this size)
    seconds_per_page: int = 30  # wall-clock and CPU per page, then a manual check
    memory_mb: int = 1024  # each OCR worker's address space

    def __post_init__(self) -> None:
        for name in ("workers", "dpi", "max_pages", "max_pixels", "seconds_per_page", "memory_mb"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ocr.{name}: must be at least 1")
        if self.workers > 16:
            raise ConfigError("ocr.workers: at most 16 (one per core is enough)")
        if not re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", self.lang):
            raise ConfigError(f"ocr.lang: {self.lang!r} must look like ind+eng (Tesseract language names)")


@dataclass(frozen=True)
class OAuthSettings:
    """`[oauth2]`: the app registration mailbot signs in with (Microsoft 365 or Google) for XOAUTH2."""

    provider: str = ""  # microsoft | google | custom
    client_id: str = ""
    client_secret_env: str | None = None  # Google needs a client secret; Microsoft public clients do not
    tenant: str = "common"  # Microsoft: the directory (tenant) id or domain
    device_url: str = ""  # custom provider (or an override): device authorization endpoint
    token_url: str = ""  # custom provider (or an override): token endpoint
    scope: str = ""  # default: the provider's IMAP + SMTP scopes
    token_file: Path = Path("data/oauth2-token.json")  # default: data_dir/oauth2-token.json


OAUTH_PROVIDERS = ("microsoft", "google", "custom")


@dataclass(frozen=True)
class SecuritySettings:
    secret_env: str = "MAILBOT_SECRET"


@dataclass(frozen=True)
class Settings:
    path: Path
    office: OfficeSettings = field(default_factory=OfficeSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    database_url: str = ""
    data_dir: Path = Path("data")
    templates_dir: Path | None = None  # the office's template overrides; None: the package's templates only
    admins: AdminSettings = field(default_factory=AdminSettings)
    documents: tuple[DocumentSetting, ...] = ()
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    oauth2: OAuthSettings = field(default_factory=OAuthSettings)

    @property
    def uses_oauth2(self) -> bool:
        return "oauth2" in (self.imap.auth, self.smtp.auth)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.office.timezone)

    def imap_password(self) -> str:
        if self.imap.auth == "oauth2":
            return ""  # XOAUTH2: the token file of [oauth2] instead
        return _secret(self.imap.password_env, "imap.password_env")

    def smtp_password(self) -> str | None:
        if not self.smtp.username or self.smtp.auth == "oauth2":
            return None
        return _secret(self.smtp.password_env or "", "smtp.password_env")

    def oauth2_client_secret(self) -> str | None:
        if not self.uses_oauth2 or not self.oauth2.client_secret_env:
            return None
        return _secret(self.oauth2.client_secret_env, "oauth2.client_secret_env")

    def secret_key(self) -> bytes:
        return _secret(self.security.secret_env, "security.secret_env").encode()

    def require_secrets(self) -> None:
        """Fail early (exit 2) when an env var the config names is unset."""
        self.imap_password()
        self.smtp_password()
        self.oauth2_client_secret()
        self.secret_key()


def _secret(variable: str, key: str) -> str:
    if not variable:
        raise ConfigError(f"{key}: not set; name the environment variable that holds the secret")
    env_name(variable, key)
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"{key}: environment variable {variable} is not set; export it before starting mailbot")
    return value


def _office(r: TableReader) -> OfficeSettings:
    o = OfficeSettings(
        name=r.get("name", str, OfficeSettings.name),
        case_prefix=r.get("case_prefix", str, OfficeSettings.case_prefix),
        timezone=r.get("timezone", str, OfficeSettings.timezone),
        working_hours=r.get("working_hours", str, OfficeSettings.working_hours),
        extra_holidays=r.get("extra_holidays", tuple, ()),
        extra_workdays=r.get("extra_workdays", tuple, ()),
    )
    r.finish()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{0,30}", o.case_prefix):
        raise ConfigError(f"office.case_prefix: {o.case_prefix!r} must be upper-case letters, digits and dashes")
    try:
        ZoneInfo(o.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"office.timezone: unknown time zone {o.timezone!r}; use e.g. Asia/Jakarta") from None
    if not re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", o.working_hours):
        raise ConfigError(f"office.working_hours: {o.working_hours!r} must look like 08:00-16:00")
    return o


def _imap(r: TableReader) -> ImapSettings:
    d = ImapSettings()
    s = ImapSettings(
        host=r.required("host", str),
        port=positive(r.get("port", int, d.port), "imap.port"),
        security=security_mode(r.get("security", str, d.security), "imap.security"),
        username=r.required("username", str),
        password_env=(env_name(r.get("password_env", str, ""), "imap.password_env") or ""
                      if r.get("auth", str, d.auth) == "oauth2"
                      else env_name(r.required("password_env", str), "imap.password_env") or ""),
        auth=auth_mode(r.get("auth", str, d.auth), "imap.auth"),
        folder=r.get("folder", str, d.folder),
        processed_folder=r.get("processed_folder", str, d.processed_folder),
        quarantine_folder=r.get("quarantine_folder", str, d.quarantine_folder),
        idle=r.get("idle", bool, d.idle),
        poll_interval_seconds=positive(r.get("poll_interval_seconds", int, d.poll_interval_seconds),
                                        "imap.poll_interval_seconds"),
        timeout_seconds=positive(r.get("timeout_seconds", int, d.timeout_seconds), "imap.timeout_seconds"),
        batch_size=positive(r.get("batch_size", int, d.batch_size), "imap.batch_size"),
        reconnect_attempts=positive(r.get("reconnect_attempts", int, d.reconnect_attempts),
                                     "imap.reconnect_attempts"),
        ca_file=ca_file_path(r, "imap"),
    )
    r.finish()
    if s.processed_folder == s.folder:
        raise ConfigError("imap.processed_folder: must differ from imap.folder")
    return s


def _smtp(r: TableReader) -> SmtpSettings:
    d = SmtpSettings()
    s = SmtpSettings(
        host=r.required("host", str),
        port=positive(r.get("port", int, d.port), "smtp.port"),
        security=security_mode(r.get("security", str, d.security), "smtp.security"),
        username=r.get("username", str, None) or None,
        password_env=env_name(r.get("password_env", str, None), "smtp.password_env") or None,
        from_address=email_address(r.required("from_address", str), "smtp.from_address"),
        from_name=r.get("from_name", str, d.from_name),
        timeout_seconds=positive(r.get("timeout_seconds", int, d.timeout_seconds), "smtp.timeout_seconds"),
        ca_file=ca_file_path(r, "smtp"),
        connections=positive(r.get("connections", int, d.connections), "smtp.connections"),
        auth=auth_mode(r.get("auth", str, d.auth), "smtp.auth"),
    )
    r.finish()
    if s.connections > 10:
        raise ConfigError("smtp.connections: at most 10 (mail servers limit connections per client)")
    if s.auth == "oauth2" and not s.username:
        raise ConfigError("smtp.username: required when smtp.auth = \"oauth2\" (the mailbox the token belongs to)")
    if s.username and not s.password_env and s.auth == "password":
        raise ConfigError("smtp.password_env: required when smtp.username is set")
    return s


def _admins(r: TableReader) -> AdminSettings:
    emails = r.required("emails", tuple)
    s = AdminSettings(
        emails=tuple(email_address(e, "admins.emails") for e in emails),
        require_authenticated_admin_mail=r.get("require_authenticated_admin_mail", bool, False),
        trusted_authserv_ids=r.get("trusted_authserv_ids", tuple, ()),
    )
    r.finish()
    if not s.emails:
        raise ConfigError("admins.emails: list at least one admin address")
    if s.require_authenticated_admin_mail and not s.trusted_authserv_ids:
        raise ConfigError("admins.trusted_authserv_ids: required when require_authenticated_admin_mail = true; "
                          "list the authserv-id your receiving mail server writes in Authentication-Results")
    return s


def _documents(items: Any) -> tuple[DocumentSetting, ...]:
    if not isinstance(items, list):
        raise ConfigError("documents: must be an array of tables ([[documents]])")
    out = []
    for i, item in enumerate(items):
        r = TableReader(item, f"documents[{i}]")
        doc = DocumentSetting(
            name=r.required("name", str),
            label=r.required("label", str),
            filename_patterns=r.get("filename_patterns", tuple, ()),
            text_patterns=r.get("text_patterns", tuple, ()),
            required=r.get("required", bool, True),
        )
        r.finish()
        for key, patterns in (("filename_patterns", doc.filename_patterns), ("text_patterns", doc.text_patterns)):
            for pat in patterns:
                try:
                    re.compile(pat)
                except re.error as exc:
                    raise ConfigError(f"documents[{i}].{key}: bad regular expression {pat!r}: "
                                      f"{str(exc).splitlines()[0]}") from None
        out.append(doc)
    return tuple(out)


def load_settings(path: Path | str | None = None) -> Settings:
    """Load and validate the config file; raise ConfigError with a one-line message."""
    path = Path(path or os.environ.get("MAILBOT_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config: {path} not found; run `mailbot init` or pass --config PATH") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    return settings_from_dict(raw, path)


def settings_from_dict(raw: dict[str, Any], path: Path) -> Settings:
    base = path.resolve().parent
    known = {"office", "imap", "smtp", "database", "storage", "admins", "documents",
             "reminders", "sla", "limits", "security", "oauth2", "ocr"}
    for key in raw:
        if key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            raise ConfigError(f"{key}: unknown section" + (f" (did you mean {hint[0]}?)" if hint else ""))
    for section in ("imap", "smtp", "admins"):
        if section not in raw:
            raise ConfigError(f"{section}: missing section; add [{section}] (`mailbot init` writes a commented example)")
    storage = TableReader(raw.get("storage", {}), "storage")
    data_dir = resolve_path(base, storage.get("data_dir", str, "data"))
    templates = storage.get("templates_dir", str, "")
    storage.finish()
    database = TableReader(raw.get("database", {}), "database")
    url = database.get("url", str, "")
    database.finish()
    if url and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ConfigError(f"database.url: {mask_url(url)!r} must start with sqlite:/// or postgresql://")
    if not url:
        url = f"sqlite:///{data_dir / 'mailbot.db'}"
    return Settings(
        path=path,
        office=_office(TableReader(raw.get("office", {}), "office")),
        imap=_imap(TableReader(raw["imap"], "imap", base)),
        smtp=_smtp(TableReader(raw["smtp"], "smtp", base)),
        database_url=url,
        data_dir=data_dir,
        templates_dir=resolve_path(base, templates) if templates else None,
        admins=_admins(TableReader(raw["admins"], "admins")),
        documents=_documents(raw.get("documents", [])),
        reminders=simple_table(ReminderSettings, TableReader(raw.get("reminders", {}), "reminders")),
        sla=simple_table(SlaSettings, TableReader(raw.get("sla", {}), "sla")),
        limits=simple_table(LimitSettings, TableReader(raw.get("limits", {}), "limits")),
        security=_security_settings(TableReader(raw.get("security", {}), "security")),
        ocr=simple_table(OcrSettings, TableReader(raw.get("ocr", {}), "ocr")),
        oauth2=_oauth2(TableReader(raw.get("oauth2", {}), "oauth2"), data_dir, base,
                       needed="oauth2" in (raw["imap"].get("auth"), raw["smtp"].get("auth"))),
    )


def _security_settings(r: TableReader) -> SecuritySettings:
    s = simple_table(SecuritySettings, r)
    env_name(s.secret_env, "security.secret_env")
    return s


def auth_mode(value: str, key: str) -> str:
    if value not in ("password", "oauth2"):
        raise ConfigError(f"{key}: {value!r} must be \"password\" or \"oauth2\"")
    return value


def _oauth2(r: TableReader, data_dir: Path, base: Path, *, needed: bool) -> OAuthSettings:
    token_file = r.get("token_file", str, "")
    s = OAuthSettings(
        provider=r.get("provider", str, ""),
        client_id=r.get("client_id", str, ""),
        client_secret_env=env_name(r.get("client_secret_env", str, None), "oauth2.client_secret_env") or None,
        tenant=r.get("tenant", str, OAuthSettings.tenant),
        device_url=r.get("device_url", str, ""),
        token_url=r.get("token_url", str, ""),
        scope=r.get("scope", str, ""),
        token_file=resolve_path(base, token_file) if token_file else data_dir / "oauth2-token.json",
    )
    r.finish()
    if not needed:
        return s
    if s.provider not in OAUTH_PROVIDERS:
        raise ConfigError(f"oauth2.provider: {s.provider!r} must be one of {', '.join(OAUTH_PROVIDERS)} "
                          "(imap.auth or smtp.auth is \"oauth2\")")
    if not s.client_id:
        raise ConfigError("oauth2.client_id: required; the application (client) id of the app registration")
    if s.provider == "custom" and not (s.token_url and s.device_url):
        raise ConfigError("oauth2.token_url: provider \"custom\" needs token_url and device_url")
    for key in ("token_url", "device_url"):
        url = getattr(s, key)
        if url and not re.match(r"^https://|^http://(127\.0\.0\.1|localhost|\[::1\])[:/]", url):
            raise ConfigError(f"oauth2.{key}: {url!r} must be an https:// address (plain http only on loopback)")
    return s
