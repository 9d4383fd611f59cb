"""The daemon: APScheduler jobs (poll, outbox, timers, digest, retention, heartbeat) plus the IMAP IDLE
push; clean shutdown on SIGTERM/SIGINT.

Each job has its own interval, `coalesce=True`, `max_instances=1` and a real `misfire_grace_time`
(APScheduler's default of 1 s silently skips runs after a pause); the jobs never run at the same time
(one work lock), so each keeps its own transactions to itself. Adding a job is one `self.every(...)` line
in `Daemon.schedule`."""

from __future__ import annotations

import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from mailbot import metrics
from mailbot.app import App
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import open_mailbox
from mailbot.intake.mailbox import AuthenticationFailed, FolderState, MailboxError
from mailbot.runner import digest_job, heartbeat_job, ocr_job, outbox_job, poll_job, retention_job, timers_job
from mailbot.store.db import transaction
from mailbot.store.models import MailboxState

log = logging.getLogger(__name__)
# Re-issue IDLE well before the 30-minute server timeout of RFC 2177; each renewal also re-checks UIDNEXT,
# which bounds the delay of any change a server failed to announce.
IDLE_RENEW_SECONDS = 5 * 60
# Seconds between runs of the jobs other than the poll (imap.poll_interval_seconds).
OUTBOX_SECONDS = 60  # also run at once after a poll that queued mail
TIMERS_SECONDS = 60
DIGEST_SECONDS = 5 * 60
RETENTION_SECONDS = 24 * 60 * 60
HEARTBEAT_SECONDS = 60
OCR_SECONDS = 30  # also run at once after a poll that processed mail

Job = Callable[[App, datetime, PollResult], Any]


class Daemon:
    """Runs the jobs on their schedules and the poll, with IDLE, as soon as mail arrives; one job at a time."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stop_event = threading.Event()
        self.poll_lock = threading.Lock()
        self.work_lock = threading.Lock()  # one job at a time: they share the database and the mailbox state
        self.wanted = threading.Event()  # mail arrived while a poll was running
        self.imap_ok = threading.Event()  # the last poll logged in: IDLE may (re)connect
        self.polls = 0
        self.last_poll_failed = False
        self.runs: Counter[str] = Counter()  # completed runs per job
        self.ran = threading.Condition()  # notified after each job run
        self.scheduler: BackgroundScheduler | None = None

    # -- jobs ----------------------------------------------------------------------------------
    def every(self, scheduler: BackgroundScheduler, job_id: str, func: Callable[[], None], seconds: int,
              *, first_run: datetime | None = None) -> None:
        """Schedule one job: every `seconds`, never two at once, missed runs collapsed into one and still
        run when up to one interval late (at least 30 s)."""
        scheduler.add_job(func, "interval", seconds=seconds, id=job_id, name=job_id, coalesce=True,
                          max_instances=1, misfire_grace_time=max(30, seconds),
                          next_run_time=first_run or datetime.now(timezone.utc))

    def schedule(self, scheduler: BackgroundScheduler) -> None:
        """Every job of the daemon (SPEC §6): one line each."""
        self.every(scheduler, "poll", self.poll, self.app.settings.imap.poll_interval_seconds)
        self.every(scheduler, "outbox", self.job("outbox", outbox_job), OUTBOX_SECONDS)
        self.every(scheduler, "timers", self.job("timers", timers_job), TIMERS_SECONDS)
        self.every(scheduler, "digest", self.job("digest", digest_job), DIGEST_SECONDS)
        self.every(scheduler, "retention", self.job("retention", retention_job), RETENTION_SECONDS)
        self.every(scheduler, "heartbeat", self.job("heartbeat", self._heartbeat), HEARTBEAT_SECONDS)
        self.every(scheduler, "ocr", self._ocr, OCR_SECONDS)

    def job(self, name: str, work: Job) -> Callable[[], None]:
        """`work(app, now, result)` as a scheduler job: under the work lock, logged when it fails."""
        def run() -> None:
            with self.work_lock:
                try:
                    work(self.app, datetime.now(timezone.utc), PollResult())
                except Exception:  # noqa: BLE001 - the daemon logs and keeps going; the next run retries
                    log.exception("%s job failed", name)
            self._done(name)
        return run

    def _done(self, name: str) -> None:
        with self.ran:
            self.runs[name] += 1
            self.ran.notify_all()

    def _ocr(self) -> None:
        """The OCR pass, outside the work lock (its transactions are short; the reading takes seconds per
        page in the worker processes): a poll never waits for OCR. Cases it decided get their mail now."""
        if ocr_job(self.app, datetime.now(timezone.utc), PollResult()).cases:
            self.wake("outbox")
            self.wake("heartbeat")
        self._done("ocr")

    def _heartbeat(self, app: App, now: datetime, result: PollResult) -> None:
        if heartbeat_job(app, now, result):
            self.wake("outbox")  # an alert to send

    def wake(self, job_id: str) -> None:
        """Run a job now rather than at its next turn (e.g. the outbox after a poll that queued mail)."""
        if self.scheduler is not None:
            job = self.scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=datetime.now(timezone.utc))

    def poll(self) -> None:
        self.wanted.set()
        if not self.poll_lock.acquire(blocking=False):
            return  # a poll is running: it runs once more when it finishes (wanted is set)
        try:
            while self.wanted.is_set() and not self.stop_event.is_set():
                self.wanted.clear()
                result = PollResult()
                with self.work_lock:
                    try:
                        poll_job(self.app, datetime.now(timezone.utc), result)
                        self.polls += 1
                    except Exception:  # noqa: BLE001 - the daemon logs and keeps going; the next tick retries
                        log.exception("poll failed")
                failed = bool(result.errors)
                if failed:
                    self.imap_ok.clear()
                else:
                    self.imap_ok.set()
                if result.processed or result.ignored or result.quarantined:
                    self.wake("outbox")  # answers go out now, not at the outbox job's next turn
                    self.wake("ocr")  # and scans that came are read now
                    self.wake("heartbeat")  # and the status and the metrics show the new cases
                elif failed != self.last_poll_failed:
                    self.wake("heartbeat")  # a poll started or stopped failing: alert (or recover) now
                self.last_poll_failed = failed
                self._done("poll")
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
            # Only after a poll that logged in: a rejected password is tried by the poll alone, on its
            # backoff (runner.poll_job), never by IDLE reconnecting.
            if not self.imap_ok.wait(timeout=1.0):
                continue
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
            except AuthenticationFailed as exc:
                log.warning("IDLE login rejected (%s): waiting for a poll to log in again", exc)
                self.imap_ok.clear()
            except MailboxError as exc:
                log.warning("IDLE connection lost (%s); reconnecting in %.0f s", exc, backoff)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 300.0)

    def run(self) -> None:
        interval = self.app.settings.imap.poll_interval_seconds
        scheduler = BackgroundScheduler(timezone=self.app.settings.tz)
        self.schedule(scheduler)
        self.scheduler = scheduler
        server = metrics.serve(self.app.settings.metrics.listen) if self.app.settings.metrics.listen else None
        scheduler.start()
        log.info("mailbot running: poll every %d s, IDLE %s", interval,
                 "on" if self.app.settings.imap.idle else "off")
        try:
            if self.app.settings.imap.idle:
                self.idle_loop()
            self.stop_event.wait()
        finally:
            scheduler.shutdown(wait=True)
            if server is not None:
                server.shutdown()
            log.info("mailbot stopped after %d poll(s)", self.polls)


def run_forever(app: App) -> None:
    daemon = Daemon(app)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        daemon.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.run()
