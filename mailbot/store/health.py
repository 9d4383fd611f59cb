"""The health table: each component's last success and failure, the IMAP login backoff, active alerts.

Written by the process that polls (daemon or `mailbot poll`), read by `mailbot status` from any other."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.store.models import Health

IMAP, SMTP, POLL, DAEMON, OAUTH = "imap", "smtp", "poll", "daemon", "oauth"
ALERT_PREFIX = "alert."
# Minutes to wait after the 1st, 2nd, … rejected IMAP login before the next try (then hourly):
# a wrong password costs at most ~24 failed logins a day, which locks no account and trips no fail2ban.
LOGIN_BACKOFF_MINUTES = (1, 2, 5, 15, 30, 60)


def login_backoff(failures: int) -> timedelta:
    """The wait after `failures` consecutive rejected logins (1 → 1 min … ≥ 6 → 60 min)."""
    return timedelta(minutes=LOGIN_BACKOFF_MINUTES[min(max(failures, 1), len(LOGIN_BACKOFF_MINUTES)) - 1])


def row(s: Session, component: str) -> Health:
    """The component's row, created (healthy, never seen) when missing."""
    found = s.get(Health, component)
    if found is None:
        found = Health(component=component, ok=True, last_error="", failures=0, details={})
        s.add(found)
    return found


def all_rows(s: Session) -> dict[str, Health]:
    return {h.component: h for h in s.scalars(select(Health))}


def mark_ok(s: Session, component: str, now: datetime, details: dict[str, Any] | None = None) -> Health:
    h = row(s, component)
    h.ok, h.last_ok_at, h.last_error, h.error_since, h.failures, h.next_attempt_at = True, now, "", None, 0, None
    if details is not None:
        h.details = dict(details)
    h.updated_at = now
    return h


def mark_failed(s: Session, component: str, now: datetime, error: str, *, auth: bool = False,
                details: dict[str, Any] | None = None) -> Health:
    """A failure; with `auth` (credentials rejected) the next login waits per LOGIN_BACKOFF_MINUTES."""
    h = row(s, component)
    if h.ok:
        h.error_since = now
        h.failures = 0
    h.ok = False
    h.last_error = error[:2000]
    h.failures += 1
    h.next_attempt_at = now + login_backoff(h.failures) if auth else None
    h.details = dict(details or {}) | {"auth": auth}
    h.updated_at = now
    return h


def login_blocked_until(s: Session, now: datetime) -> datetime | None:
    """When IMAP credentials were rejected and the backoff has not run out: the time of the next try."""
    h = s.get(Health, IMAP)
    if h is None or h.ok or not h.details.get("auth") or h.next_attempt_at is None:
        return None
    return h.next_attempt_at if now < h.next_attempt_at else None
