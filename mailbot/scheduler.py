"""The daemon: APScheduler interval poll plus IMAP IDLE push; clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from mailbot.app import App
from mailbot.cases.ocrjobs import run_ocr
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import open_mailbox
from mailbot.intake.mailbox import FolderState, MailboxError
from mailbot.runner import message_body, poll_once
from mailbot.store.db import transaction
from mailbot.store.models import MailboxState

log = logging.getLogger(__name__)
# Re-issue IDLE well before the 30-minute server timeout of RFC 2177; each renewal also re-checks UIDNEXT,
# which bounds the delay of any change a server failed to announce.
IDLE_RENEW_SECONDS = 5 * 60


class Daemon:
    """Runs poll_once on a schedule and, with IDLE, as soon as mail arrives; never two at once."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stop_event = threading.Event()
        self.poll_lock = threading.Lock()
        self.wanted = threading.Event()  # mail arrived while a poll was running
        self.ocr_wanted = threading.Event()  # a poll stored files that may wait for OCR
        self.polls = 0

    def poll(self) -> None:
        self.wanted.set()
        if not self.poll_lock.acquire(blocking=False):
            return  # a poll is running: it runs once more when it finishes (wanted is set)
        try:
            while self.wanted.is_set() and not self.stop_event.is_set():
                self.wanted.clear()
                try:
                    poll_once(self.app, datetime.now(timezone.utc), ocr=False)  # OCR: ocr_loop's thread
                    self.polls += 1
                    self.ocr_wanted.set()
                except Exception:  # noqa: BLE001 - the daemon logs and keeps going; the next tick retries
                    log.exception("poll failed")
        finally:
            self.poll_lock.release()

    def _behind(self, state: FolderState) -> bool:
        """True when the folder has UIDs above what mailbot has committed (or a new UIDVALIDITY)."""
        with transaction(self.app.factory) as s:
            known = s.get(MailboxState, self.app.settings.imap.folder)
            if known is None or known.uidvalidity != state.uidvalidity:
                return state.messages > 0
            return state.uidnext - 1 > known.last_uid

    def idle_loop(self) -> None:
        """Wait for mail with IMAP IDLE; fall back to the interval poll when IDLE is unavailable."""
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                with open_mailbox(self.app) as mb:
                    if not mb.has("IDLE"):
                        log.info("IMAP server has no IDLE: interval polling only")
                        return
                    backoff = 1.0
                    while not self.stop_event.is_set():
                        # Mail that arrived between the last poll's search and this IDLE would never be
                        # announced (the SELECT already counts it): compare UIDNEXT with the sync point.
                        if self._behind(mb.select(self.app.settings.imap.folder)):
                            self.poll()
                        if mb.idle_wait(IDLE_RENEW_SECONDS, self.stop_event.is_set):
                            self.poll()
            except MailboxError as exc:
                log.warning("IDLE connection lost (%s); reconnecting in %.0f s", exc, backoff)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 300.0)

    def ocr_loop(self) -> None:
        """The OCR pass in its own thread, so that a poll never waits for OCR; when it decided cases, a poll
        sends their mail."""
        while not self.stop_event.is_set():
            self.ocr_wanted.wait(self.app.settings.imap.poll_interval_seconds)
            self.ocr_wanted.clear()
            if self.stop_event.is_set():
                return
            try:
                if run_ocr(self.app, datetime.now(timezone.utc), PollResult(), message_body).cases:
                    self.poll()
            except Exception:  # noqa: BLE001 - logged; the next round retries
                log.exception("OCR pass failed")

    def run(self) -> None:
        interval = self.app.settings.imap.poll_interval_seconds
        scheduler = BackgroundScheduler(timezone=self.app.settings.tz)
        scheduler.add_job(self.poll, "interval", seconds=interval, id="poll", coalesce=True, max_instances=1,
                          misfire_grace_time=max(30, interval), next_run_time=datetime.now(timezone.utc))
        scheduler.start()
        ocr = threading.Thread(target=self.ocr_loop, name="ocr", daemon=True)
        ocr.start()
        log.info("mailbot running: poll every %d s, IDLE %s", interval,
                 "on" if self.app.settings.imap.idle else "off")
        try:
            if self.app.settings.imap.idle:
                self.idle_loop()
            self.stop_event.wait()
        finally:
            self.ocr_wanted.set()
            scheduler.shutdown(wait=True)
            ocr.join(timeout=60)
            log.info("mailbot stopped after %d poll(s)", self.polls)


def run_forever(app: App) -> None:
    daemon = Daemon(app)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        daemon.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.run()
