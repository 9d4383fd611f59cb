"""What `mailbot status` reports, and the checks behind the exit code and the ops_alert mails.

Everything is read from the database (the heartbeat rows the polling process writes) and the disk,
so it works from any process, with or without the daemon running."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.domain.states import OPEN_STATUSES, CaseStatus, InboundStatus, OutboxStatus
from mailbot.store import health
from mailbot.store.db import head_revision, schema_revisions, transaction
from mailbot.store.models import Case, Health, InboundMessage, Outbox

OK, WARNING, CRITICAL = "OK", "WARNING", "CRITICAL"
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2}
_RANK = {OK: 0, WARNING: 1, CRITICAL: 2}
# The checks that mail the admins (ops_alert) when they start and when they are over.
# Quarantined messages warn for a week after they arrived (they stay listed in `quarantine list`).
QUARANTINE_WINDOW = timedelta(days=7)
ALERTS = ("imap_login", "smtp", "outbox_stuck", "poll_stale", "disk", "oauth")


@dataclass(frozen=True)
class Reason:
    level: str
    check: str  # one of ALERTS, or another check's name (quarantine, cases, schema, imap)
    text: str
    since: datetime | None = None


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _age(now: datetime, dt: datetime | None) -> float | None:
    return None if dt is None else max(0.0, (now - dt).total_seconds())


def _component(h: Health | None) -> dict[str, Any]:
    if h is None:
        return {"ok": None, "last_ok_at": None, "last_error": "", "error_since": None, "failures": 0}
    out: dict[str, Any] = {"ok": h.ok, "last_ok_at": _iso(h.last_ok_at), "last_error": h.last_error,
                           "error_since": _iso(h.error_since), "failures": h.failures}
    if h.details.get("auth"):
        out["auth_failed"] = True
        out["next_attempt_at"] = _iso(h.next_attempt_at)
    return out


def _sop_minutes(app: App) -> dict[str, int | None]:
    sla = app.settings.sla
    return {CaseStatus.RECEIVED: sla.step2_completeness, CaseStatus.AWAITING_DOCUMENTS: None,
            CaseStatus.AWAITING_REVIEW: sla.step5_validity, CaseStatus.APPROVED: sla.step8_notify}


def _ocr_backlog(s: Session) -> int | None:
    """Documents waiting for OCR (table ocr_results, status 'pending'), None where there is no such table."""
    if not inspect(s.connection()).has_table("ocr_results"):
        return None
    return int(s.execute(text("SELECT count(*) FROM ocr_results WHERE status = 'pending'")).scalar() or 0)


def gather(app: App, now: datetime) -> dict[str, Any]:
    """The whole status as one JSON-able dict; `level` and `reasons` say what needs attention."""
    a = app.settings.alerts
    reasons: list[Reason] = []
    with transaction(app.factory) as s:
        rows = health.all_rows(s)
        pending = (OutboxStatus.PENDING, OutboxStatus.SENDING)
        n_pending, oldest = s.execute(select(func.count(Outbox.id), func.min(Outbox.created_at))
                                      .where(Outbox.status.in_(pending))).one()
        n_failed = s.scalar(select(func.count(Outbox.id)).where(Outbox.status == OutboxStatus.FAILED)) or 0
        quarantined = s.scalar(select(func.count(InboundMessage.id))
                               .where(InboundMessage.status == InboundStatus.QUARANTINED)) or 0
        recent_quarantine = s.scalar(select(func.count(InboundMessage.id)).where(
            InboundMessage.status == InboundStatus.QUARANTINED,
            InboundMessage.received_at >= now - QUARANTINE_WINDOW)) or 0
        per_state = {st: (n, since) for st, n, since in s.execute(
            select(Case.status, func.count(Case.id), func.min(Case.status_since)).group_by(Case.status))}
        ocr = _ocr_backlog(s)
    oldest = oldest.replace(tzinfo=now.tzinfo) if oldest is not None and oldest.tzinfo is None else oldest

    poll, imap, smtp = rows.get(health.POLL), rows.get(health.IMAP), rows.get(health.SMTP)
    # -- last successful poll
    last_poll = poll.last_ok_at if poll else None
    poll_age = _age(now, last_poll)
    if last_poll is None:
        reasons.append(Reason(CRITICAL, "poll", "no successful poll recorded yet: is `mailbot run` running?"))
    else:
        minutes = poll_age / 60 if poll_age is not None else 0
        if a.poll_stale_critical_minutes and minutes >= a.poll_stale_critical_minutes:
            reasons.append(Reason(CRITICAL, "poll_stale", f"no successful poll for {minutes:.0f} min "
                                  f"(since {last_poll.isoformat()})", last_poll))
        elif a.poll_stale_warning_minutes and minutes >= a.poll_stale_warning_minutes:
            reasons.append(Reason(WARNING, "poll", f"no successful poll for {minutes:.0f} min"))
    # -- IMAP and SMTP
    if imap is not None and not imap.ok:
        if imap.details.get("auth"):
            nxt = f"; next attempt {imap.next_attempt_at.isoformat()}" if imap.next_attempt_at else ""
            reasons.append(Reason(CRITICAL, "imap_login", f"IMAP login rejected since {_iso(imap.error_since)} "
                                  f"({imap.failures} attempt(s){nxt}): {imap.last_error}", imap.error_since))
        else:
            reasons.append(Reason(WARNING, "imap", f"IMAP failing since {_iso(imap.error_since)}: {imap.last_error}"))
    if smtp is not None and not smtp.ok:
        failing = (_age(now, smtp.error_since) or 0.0) / 60
        # One refused connection is not yet an outage: the alert waits smtp_failing_minutes.
        lasting = failing >= a.smtp_failing_minutes
        reasons.append(Reason(CRITICAL if lasting else WARNING, "smtp" if lasting else "smtp_retrying",
                              f"SMTP failing since {_iso(smtp.error_since)}: {smtp.last_error}", smtp.error_since))
    oauth = rows.get(health.OAUTH)
    if oauth is not None and not oauth.ok:
        reasons.append(Reason(CRITICAL, "oauth", f"OAuth2 token refresh failing since {_iso(oauth.error_since)}: "
                              f"{oauth.last_error}; run `mailbot oauth login`", oauth.error_since))
    # -- outbox, quarantine
    oldest_age = _age(now, oldest)
    if a.outbox_stuck_minutes and oldest_age is not None and oldest_age / 60 >= a.outbox_stuck_minutes:
        reasons.append(Reason(WARNING, "outbox_stuck", f"{n_pending} mail(s) waiting to go out, the oldest for "
                              f"{oldest_age / 60:.0f} min", oldest))
    if a.quarantine_warning and recent_quarantine >= a.quarantine_warning:
        reasons.append(Reason(WARNING, "quarantine", f"{recent_quarantine} message(s) quarantined in the last "
                              f"{QUARANTINE_WINDOW.days} days: `mailbot quarantine list`"))
    # -- cases against the SOP time
    cases: dict[str, Any] = {}
    sop = _sop_minutes(app)
    for st in OPEN_STATUSES:
        n, since = per_state.get(st, (0, None))
        entry: dict[str, Any] = {"count": n, "oldest_since": _iso(since), "sop_minutes": sop[st]}
        if since is not None:
            entry["oldest_working_minutes"] = round(app.calendar.working_minutes(since, now), 1)
            entry["overdue"] = sop[st] is not None and entry["oldest_working_minutes"] > sop[st]
            # The bot's own steps (completeness check, credentials mail) should never be late.
            if entry["overdue"] and st in (CaseStatus.RECEIVED, CaseStatus.APPROVED):
                reasons.append(Reason(WARNING, "cases", f"a case has been {st} for "
                                      f"{entry['oldest_working_minutes']:.0f} working min (SOP: {sop[st]})"))
        cases[str(st)] = entry
    closed = {str(st): per_state[st][0] for st in per_state if st not in OPEN_STATUSES}
    # -- schema, disk
    revisions, head = sorted(schema_revisions(app.engine)), head_revision()
    if revisions != [head]:
        reasons.append(Reason(WARNING, "schema", f"database schema at {', '.join(revisions) or 'none'}, this "
                              f"mailbot expects {head}: run `mailbot migrate`"))
    disk = _disk(app)
    if disk["free_percent"] is not None:
        pct = disk["free_percent"]
        if a.disk_critical_percent and pct < a.disk_critical_percent:
            reasons.append(Reason(CRITICAL, "disk", f"{pct:.1f} % free in {disk['path']}", None))
        elif a.disk_warning_percent and pct < a.disk_warning_percent:
            reasons.append(Reason(WARNING, "disk_low", f"{pct:.1f} % free in {disk['path']}"))
    level = max((r.level for r in reasons), key=_RANK.__getitem__, default=OK)
    out: dict[str, Any] = {
        "level": level, "exit_code": EXIT_CODES[level], "now": now.isoformat(),
        "reasons": [{"level": r.level, "check": r.check, "text": r.text, "since": _iso(r.since)} for r in reasons],
        "poll": {"last_ok_at": _iso(last_poll), "age_seconds": poll_age,
                 "last_error": poll.last_error if poll else "", "details": poll.details if poll else {}},
        "daemon": {"last_heartbeat_at": _iso(rows[health.DAEMON].last_ok_at) if health.DAEMON in rows else None},
        "imap": _component(imap), "smtp": _component(smtp),
        "outbox": {"pending": n_pending, "failed": n_failed, "oldest_pending_at": _iso(oldest),
                   "oldest_pending_age_seconds": oldest_age},
        "quarantine": quarantined,
        "cases": cases, "closed_cases": closed,
        "oauth_token_expiry": _token_expiry(app),  # None without XOAUTH2 (or before `mailbot oauth login`)
        "schema": {"revisions": revisions, "head": head, "current": revisions == [head]},
        "disk": disk,
    }
    if ocr is not None:
        out["ocr_backlog"] = ocr
    return out


def _token_expiry(app: App) -> str | None:
    expiry = app.oauth.expires_at() if app.oauth is not None else None
    return datetime.fromtimestamp(expiry, timezone.utc).isoformat() if expiry else None


def _disk(app: App) -> dict[str, Any]:
    path = app.settings.data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return {"path": str(app.settings.data_dir), "free_bytes": None, "total_bytes": None, "free_percent": None}
    return {"path": str(app.settings.data_dir), "free_bytes": usage.free, "total_bytes": usage.total,
            "free_percent": round(100.0 * usage.free / usage.total, 2) if usage.total else None}


def cases_by_state(status: dict[str, Any]) -> dict[str, int]:
    """Case counts per state (open and closed) from a gathered status: the metrics gauge."""
    counts = {st: entry["count"] for st, entry in status["cases"].items()}
    counts.update(status["closed_cases"])
    return counts


def format_text(status: dict[str, Any]) -> str:
    """The human (and Nagios) form: the level, each reason on its own line, then the facts."""
    lines = [f"mailbot {status['level']}" + ("" if status["reasons"] else ": all checks passed")]
    lines += [f"{r['level']}: {r['text']}" for r in status["reasons"]]
    p, o = status["poll"], status["outbox"]
    age = p["age_seconds"]
    lines.append(f"last successful poll: {p['last_ok_at'] or 'never'}"
                 + (f" ({age / 60:.0f} min ago)" if age is not None else ""))
    for name in ("imap", "smtp"):
        c = status[name]
        state = "unknown" if c["ok"] is None else "ok" if c["ok"] else f"failing since {c['error_since']}: " \
                                                                     f"{c['last_error']}"
        lines.append(f"{name}: {state}")
    oldest = o["oldest_pending_age_seconds"]
    lines.append(f"outbox: {o['pending']} pending, {o['failed']} failed"
                 + (f", oldest pending {oldest / 60:.0f} min" if oldest is not None else ""))
    lines.append(f"quarantine: {status['quarantine']}")
    for st, e in status["cases"].items():
        extra = (f", oldest {e['oldest_working_minutes']:.0f} working min (SOP {e['sop_minutes']})"
                 if e.get("oldest_working_minutes") is not None and e["sop_minutes"] is not None
                 else f", oldest since {e['oldest_since']}" if e["oldest_since"] else "")
        lines.append(f"cases {st}: {e['count']}{extra}")
    if "ocr_backlog" in status:
        lines.append(f"OCR backlog: {status['ocr_backlog']}")
    lines.append(f"OAuth token expiry: {status['oauth_token_expiry'] or '-'}")
    sch = status["schema"]
    lines.append(f"schema: {', '.join(sch['revisions']) or 'none'} (newest {sch['head']})")
    d = status["disk"]
    if d["free_bytes"] is not None:
        lines.append(f"disk free in {d['path']}: {d['free_bytes'] / 2**30:.1f} GiB ({d['free_percent']} %)")
    return "\n".join(lines)
