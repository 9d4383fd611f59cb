"""The daemon's jobs (SPEC §6, DESIGN): each registered with its own interval and the periodic-task options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from mailbot.config import ImapSettings, Settings
from mailbot.scheduler import Daemon


def test_every_job_is_registered_with_coalesce_one_instance_and_a_real_grace_time() -> None:
    settings = replace(Settings(path=Path("mailbot.toml")), imap=ImapSettings(poll_interval_seconds=45))
    app: Any = SimpleNamespace(settings=settings)
    scheduler = BackgroundScheduler(timezone="Asia/Jakarta")
    Daemon(app).schedule(scheduler)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"poll", "outbox", "timers", "digest", "retention", "heartbeat", "ocr"}
    intervals = {}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert isinstance(job.trigger, IntervalTrigger)
        seconds = job.trigger.interval.total_seconds()
        intervals[job.id] = seconds
        # A pause longer than APScheduler's default 1 s still runs the job (once: coalesce).
        assert job.misfire_grace_time == max(30, seconds)
    assert intervals["poll"] == 45
    assert intervals["retention"] == 24 * 3600
    assert all(intervals[j] <= 300 for j in ("outbox", "timers", "digest", "heartbeat", "ocr"))
