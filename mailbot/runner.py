"""One poll pass: IMAP intake (commit, process, move), then timers, then the outbox flush."""

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

from mailbot.app import App
from mailbot.cases.delivery import flush_outbox
from mailbot.cases.ocrjobs import run_ocr
from mailbot.cases.timers import run_timers
from mailbot.domain.errors import MailbotError
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import fetch_new, move_done, open_mailbox
from mailbot.intake.mailbox import ImapMailbox, MailboxError
from mailbot.intake.prefetch import Limits, parse_stored
from mailbot.intake.process import Route, process_pending
from mailbot.intake.route import route as route_message
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


# -- the whole pass ------------------------------------------------------------------------
def poll_once(app: App, now: datetime | None = None, *, mailbox: ImapMailbox | None = None,
              route: Route = route_message, ocr: bool = True) -> PollResult:
    """Fetch+process+move, the OCR of what came (`ocr`; the daemon runs it in its own thread instead),
    timers, flush. A failing part is logged and the others still run, so one poll ends in the final state.

    `route` dispatches each parsed message (mailbot.intake.route.route; process_pending's `route`)."""
    now = now or datetime.now(timezone.utc)
    result = PollResult()
    delay = 1.0
    for attempt in range(1, app.settings.imap.reconnect_attempts + 1):
        try:
            intake(app, now, result, mailbox, route=route)
            break
        except MailboxError as exc:
            if attempt == app.settings.imap.reconnect_attempts:
                log.error("IMAP intake failed: %s", exc)
                result.errors.append(str(exc))
                process_pending(app, now, result, route=route)  # messages committed earlier still get processed
                break
            # A restarting server or a dropped connection: what was committed stays committed, so a
            # reconnect simply carries on from the sync point.
            log.warning("IMAP intake failed (%s); reconnecting in %.0f s", exc, delay)
            time.sleep(delay)
            delay *= 2
        except Exception as exc:  # noqa: BLE001 - e.g. the database: timers and the outbox still run
            log.exception("intake failed")
            result.errors.append(f"intake: {type(exc).__name__}: {exc}")
            break
    if ocr:
        drain_ocr(app, now, result)
    run_timers(app, now, result)
    flush_outbox(app, now, result)
    log.info("poll: %s", result.summary())
    return result


def drain_ocr(app: App, now: datetime, result: PollResult) -> None:
    """The OCR pass (cases/ocrjobs.run_ocr) until no file waits; a failure is logged, the poll goes on."""
    try:
        run_ocr(app, now, result, message_body)
    except Exception as exc:  # noqa: BLE001 - e.g. the database: timers and the outbox still run
        log.exception("OCR pass failed")
        result.errors.append(f"ocr: {type(exc).__name__}: {exc}")


def message_body(app: App, row: InboundMessage) -> str:
    """The text of a stored message as routing saw it (the OCR pass checks its case with it)."""
    prepared = parse_stored(app.store.get(row.raw_blob), Limits.of(app.settings.limits))
    return (prepared.mail.text or "") if prepared.mail is not None else ""


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
