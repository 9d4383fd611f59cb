"""The jobs (intake, outbox, timers, digest, retention, heartbeat) and one poll pass that runs them all."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from mailbot import metrics
from mailbot.admin.retention import purge
from mailbot.app import App
from mailbot.cases.delivery import flush_outbox
from mailbot.cases.ocrjobs import OcrCounts, run_ocr
from mailbot.cases.timers import queue_admin_digest, run_reminders
from mailbot.domain.errors import MailbotError
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import fetch_new, move_done, open_mailbox
from mailbot.intake.mailbox import AuthenticationFailed, ImapMailbox, MailboxError
from mailbot.intake.prefetch import Limits, parse_stored
from mailbot.intake.process import Route, process_pending
from mailbot.intake.route import route as route_message
from mailbot.ops.alerts import run_alerts
from mailbot.ops.status import cases_by_state, gather
from mailbot.store import health
from mailbot.store.db import transaction
from mailbot.store.models import InboundMessage

log = logging.getLogger(__name__)


class AlreadyRunning(MailbotError):
    """Another mailbot process holds the instance lock for this database."""




# -- single instance -----------------------------------------------------------------------
@contextmanager
def instance_lock(app: App) -> Iterator[None]:
    """A file lock for SQLite, an advisory lock for PostgreSQL: one poller per database."""
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect() as conn:
            key = int.from_bytes(hashlib.sha256(b"mailbot:" + app.settings.imap.username.encode()).digest()[:8],
                                 "big", signed=True)
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise AlreadyRunning("another mailbot holds the PostgreSQL advisory lock")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    app.settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(app.settings.data_dir / "mailbot.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another mailbot holds {app.settings.data_dir / 'mailbot.lock'}") from None
        yield
    finally:
        os.close(fd)


# -- the jobs (the daemon schedules each on its own; poll_once runs them all in turn) ------------
def poll_job(app: App, now: datetime, result: PollResult, *, mailbox: ImapMailbox | None = None,
             route: Route = route_message) -> None:
    """IMAP intake: fetch+process+move, then the heartbeat of IMAP and of the poll (one transaction).

    A rejected login is not retried within the poll, and the next poll that tries again waits
    LOGIN_BACKOFF_MINUTES (state in the health table: a restart does not reset it). A network error is
    retried `imap.reconnect_attempts` times with backoff, as a restarting server needs."""
    started = time.monotonic()
    try:
        with transaction(app.factory) as s:
            blocked = health.login_blocked_until(s, now) if mailbox is None else None
    except Exception:  # noqa: BLE001 - the database: intake reports it below, timers and outbox still run
        blocked = None
    if blocked is not None:
        error, kind = f"IMAP login was rejected; not trying again before {blocked.isoformat()}", "backoff"
        log.warning("%s", error)
        result.errors.append(error)
        process_pending(app, now, result, route=route)  # messages committed earlier still get processed
    else:
        error, kind = _intake_with_retries(app, now, result, mailbox, route)
    seconds = time.monotonic() - started
    try:
        with transaction(app.factory) as s:
            if kind in ("auth", "network"):
                h = health.mark_failed(s, health.IMAP, now, error, auth=kind == "auth")
                if kind == "auth":
                    log.error("IMAP login rejected (%d in a row); next attempt at %s", h.failures,
                              h.next_attempt_at.isoformat() if h.next_attempt_at else "-")
            elif not kind:
                health.mark_ok(s, health.IMAP, now)
            # "backoff": no attempt was made, the row stays as it is; "other" (e.g. the database): not IMAP's
            _oauth_heartbeat(s, app, now)
            if error:
                health.mark_failed(s, health.POLL, now, error)
            else:
                health.mark_ok(s, health.POLL, now, {"seconds": round(seconds, 3), "fetched": result.fetched,
                                                     "processed": result.processed})
    except Exception:  # noqa: BLE001 - a heartbeat that cannot be written must not stop timers and outbox
        log.exception("recording the poll's health failed")
    metrics.observe_poll(seconds, result)
    log.info("poll job: fetched=%d processed=%d ignored=%d duplicates=%d quarantined=%d moved=%d "
             "seconds=%.2f%s", result.fetched, result.processed, result.ignored, result.duplicates,
             result.quarantined, result.moved, seconds, f" error={error}" if error else "")


def _intake_with_retries(app: App, now: datetime, result: PollResult, mailbox: ImapMailbox | None,
                         route: Route) -> tuple[str, str]:
    """(error, kind) of the intake: kind "" when it went through, else "auth" (credentials rejected),
    "network" (IMAP unreachable after the retries) or "other"."""
    delay = 1.0
    for attempt in range(1, app.settings.imap.reconnect_attempts + 1):
        try:
            intake(app, now, result, mailbox, route=route)
            return "", ""
        except AuthenticationFailed as exc:
            # Never again within this poll: each try counts towards the server's account lock.
            result.errors.append(str(exc))
            process_pending(app, now, result, route=route)
            return str(exc), "auth"
        except MailboxError as exc:
            if attempt == app.settings.imap.reconnect_attempts:
                log.error("IMAP intake failed: %s", exc)
                result.errors.append(str(exc))
                process_pending(app, now, result, route=route)  # messages committed earlier still get processed
                return str(exc), "network"
            # A restarting server or a dropped connection: what was committed stays committed, so a
            # reconnect simply carries on from the sync point.
            log.warning("IMAP intake failed (%s); reconnecting in %.0f s", exc, delay)
            time.sleep(delay)
            delay *= 2
        except Exception as exc:  # noqa: BLE001 - e.g. the database: timers and the outbox still run
            log.exception("intake failed")
            result.errors.append(f"intake: {type(exc).__name__}: {exc}")
            return result.errors[-1], "other"
    return "", ""


def _oauth_heartbeat(s: Session, app: App, now: datetime) -> None:
    """With XOAUTH2: whether the last token refresh failed (the alert), and when the token expires."""
    if app.oauth is None:
        return
    expiry = app.oauth.expires_at()
    info = {"expires_at": datetime.fromtimestamp(expiry, timezone.utc).isoformat() if expiry else None}
    if app.oauth.last_error:
        health.mark_failed(s, health.OAUTH, now, app.oauth.last_error, details=info)
    else:
        health.mark_ok(s, health.OAUTH, now, info)


def ocr_job(app: App, now: datetime, result: PollResult) -> OcrCounts:
    """The OCR pass (cases/ocrjobs.run_ocr) until no file waits; a failure is logged, the poll goes on."""
    try:
        return run_ocr(app, now, result, message_body)
    except Exception as exc:  # noqa: BLE001 - e.g. the database: timers and the outbox still run
        log.exception("OCR pass failed")
        result.errors.append(f"ocr: {type(exc).__name__}: {exc}")
        return OcrCounts()


def message_body(app: App, row: InboundMessage) -> str:
    """The text of a stored message as routing saw it (the OCR pass checks its case with it)."""
    prepared = parse_stored(app.store.get(row.raw_blob), Limits.of(app.settings.limits))
    return (prepared.mail.text or "") if prepared.mail is not None else ""


def outbox_job(app: App, now: datetime, result: PollResult) -> None:
    """Send what is due; the SMTP heartbeat (failing only when the server cannot be reached)."""
    before = (result.sent, result.retried, result.failed)
    result.smtp_error, result.smtp_ok = "", False
    flush_outbox(app, now, result)
    try:
        with transaction(app.factory) as s:
            if result.smtp_error:
                health.mark_failed(s, health.SMTP, now, result.smtp_error)
            elif result.smtp_ok:
                health.mark_ok(s, health.SMTP, now)
            _oauth_heartbeat(s, app, now)
    except Exception:  # noqa: BLE001 - a heartbeat that cannot be written must not fail the flush
        log.exception("recording the outbox's health failed")
    sent, retried, failed = (result.sent - before[0], result.retried - before[1], result.failed - before[2])
    metrics.count_mails(sent, retried, failed)
    log.info("outbox job: sent=%d retried=%d failed=%d%s", sent, retried, failed,
             f" smtp_error={result.smtp_error}" if result.smtp_error else "")


def timers_job(app: App, now: datetime, result: PollResult) -> None:
    """Document reminders and expiry (each case in its own transaction)."""
    before = result.timers
    run_reminders(app, now, result)
    log.info("timers job: reminders_and_expiries=%d", result.timers - before)


def digest_job(app: App, now: datetime, result: PollResult) -> None:
    """The morning digest to the admins (one transaction; once per admin per day)."""
    n = queue_admin_digest(app, now)
    result.timers += n
    log.info("digest job: queued=%d", n)


def retention_job(app: App, now: datetime, result: PollResult) -> None:
    """The daily retention purge (SPEC §6, issue 13 point 7): a no-op while [storage] retention_days is 0;
    purge() logs its own line of counts."""
    if app.settings.retention_days <= 0:
        log.info("retention job: off (storage.retention_days = 0)")
        return
    purge(app, now)


def heartbeat_job(app: App, now: datetime, result: PollResult) -> int:
    """The process's heartbeat, the status checks, the ops_alert mails that follow (one transaction
    each) and the metrics gauges. Returns how many alert mails were queued."""
    with transaction(app.factory) as s:
        health.mark_ok(s, health.DAEMON, now, {"pid": os.getpid()})
    status = gather(app, now)
    queued = run_alerts(app, now, status)
    metrics.set_cases(cases_by_state(status))
    log.info("heartbeat job: level=%s reasons=%d alerts_queued=%d", status["level"], len(status["reasons"]),
             queued)
    return queued


# -- the whole pass ------------------------------------------------------------------------
def poll_once(app: App, now: datetime | None = None, *, mailbox: ImapMailbox | None = None,
              route: Route = route_message, ocr: bool = True) -> PollResult:
    """Every job but the daily retention purge once, in turn: intake, the OCR of what came (`ocr`), timers, digest, outbox, heartbeat (and the outbox
    again when the heartbeat queued an alert). A failing part is logged and the others still run.

    `route` dispatches each parsed message (mailbot.intake.route.route; process_pending's `route`)."""
    now = now or datetime.now(timezone.utc)
    result = PollResult()
    poll_job(app, now, result, mailbox=mailbox, route=route)
    if ocr:
        ocr_job(app, now, result)  # so that one poll ends in the final state
    timers_job(app, now, result)
    digest_job(app, now, result)
    outbox_job(app, now, result)
    try:
        if heartbeat_job(app, now, result) and not result.smtp_error:
            outbox_job(app, now, result)  # the alert goes now (with SMTP failing, it waits for SMTP)
    except Exception:  # noqa: BLE001 - a failing status check must not fail the poll
        log.exception("heartbeat failed")
    log.info("poll: %s", result.summary())
    return result


def intake(app: App, now: datetime, result: PollResult, mailbox: ImapMailbox | None = None, *,
           route: Route = route_message) -> None:
    own = mailbox is None
    mb = mailbox or open_mailbox(app)
    if own:
        mb.connect()
    try:
        folder, uidvalidity = fetch_new(app, mb, now, result)
        process_pending(app, now, result, route=route)
        move_done(app, mb, folder, uidvalidity, result)
    finally:
        if own:
            mb.close()
