"""`mailbot check`: the config, the templates, the database, then a real IMAP and SMTP connection, each reported on one line."""

from __future__ import annotations

from datetime import datetime, timezone

from mailbot.app import build_app
from mailbot.cases.ocr import INSTALL_COMMAND, ocr_available
from mailbot.config import Settings
from mailbot.domain.errors import MailbotError
from mailbot.intake.fetch import open_mailbox
from mailbot.store.db import display_url


def check(settings: Settings) -> int:
    """Print what works and what does not; 0 when everything does, 1 otherwise (secrets unset: ConfigError)."""
    settings.require_secrets()
    print(f"config {settings.path}: ok")
    app = build_app(settings)
    renderer = app.renderer
    if renderer.templates_dir is not None and not renderer.templates_dir.is_dir():
        print(f"templates: storage.templates_dir {renderer.templates_dir} is not a folder; create it or remove the key")
        return 1
    missing = renderer.missing()
    if missing:
        print(f"templates: missing {', '.join(missing)}")
        return 1
    own = renderer.overridden()
    if own:
        print(f"templates: ok ({len(own)} of the office's own in {renderer.templates_dir}, the rest built in)")
    print(f"database {display_url(settings.database_url)}: ok")
    print(_ocr_line(settings))
    ok = True
    if app.oauth is not None:
        try:
            app.oauth.access_token()  # refreshes (and saves a rotated refresh token) when it is due
            expires = app.oauth.expires_at() or 0.0
            print(f"OAuth2 token {app.oauth.file.path}: ok (access token valid until "
                  f"{datetime.fromtimestamp(expires, timezone.utc).astimezone(settings.tz):%Y-%m-%d %H:%M %Z})")
        except MailbotError as exc:
            print(f"OAuth2 token {app.oauth.file.path}: FAILED: {exc}")
            ok = False
    try:
        with open_mailbox(app) as mb:
            st = mb.select(settings.imap.folder)
            print(f"IMAP {settings.imap.host}:{settings.imap.port}: ok ({st.messages} message(s) in "
                  f"{settings.imap.folder}; MOVE={'yes' if mb.has('MOVE') else 'no'}, "
                  f"IDLE={'yes' if mb.has('IDLE') else 'no'})")
    except Exception as exc:  # noqa: BLE001 - report and continue with SMTP
        print(f"IMAP {settings.imap.host}:{settings.imap.port}: FAILED: {exc}{_tls_hint(exc, 'imap')}")
        ok = False
    sender = app.smtp_sender()
    try:
        sender.conn = sender._open()
        print(f"SMTP {settings.smtp.host}:{settings.smtp.port}: ok")
    except Exception as exc:  # noqa: BLE001
        print(f"SMTP {settings.smtp.host}:{settings.smtp.port}: FAILED: {exc}{_tls_hint(exc, 'smtp')}")
        ok = False
    finally:
        sender.close()
    return 0 if ok else 1


def _ocr_line(settings: Settings) -> str:
    """OCR's state; unavailable is no failure (scans are manual checks), but says how to install it."""
    available, reason = ocr_available(settings.ocr)
    if available:
        return f"OCR: ok ({reason}, {settings.ocr.workers} worker(s))"
    if not settings.ocr.enabled:
        return f"OCR: off ({reason}); scans and photos are manual checks for the admin"
    hint = "" if INSTALL_COMMAND in reason else f"; install the language data with `{INSTALL_COMMAND}`"
    return f"OCR: unavailable: {reason}{hint}; until then scans and photos are manual checks for the admin"


def _tls_hint(exc: Exception, section: str) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc):
        return f" (if the server uses an internal CA, set [{section}] ca_file to its PEM file)"
    return ""
