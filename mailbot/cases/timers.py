"""What time brings: document reminders, expiry and the morning admin digest, in working time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.asking import digest_sent, documents_waiting, not_requests_since
from mailbot.cases.notify import base_context, queue_to_admins
from mailbot.cases.records import apply, view
from mailbot.domain.kinds import missing_kinds
from mailbot.domain.results import PollResult
from mailbot.domain.states import OPEN_STATUSES, CaseStatus
from mailbot.domain.workflow import on_timer
from mailbot.store.db import transaction
from mailbot.store.models import Case, Event, Outbox


# -- timers --------------------------------------------------------------------------------
def run_timers(app: App, now: datetime, result: PollResult) -> None:
    """Reminders and expiry, then the admin digest, as of `now`."""
    run_reminders(app, now, result)
    result.timers += queue_admin_digest(app, now)


def run_reminders(app: App, now: datetime, result: PollResult) -> None:
    """Reminders and expiry as of `now`; each case in its own transaction, each mail keyed once."""
    with transaction(app.factory) as s:
        ids = s.scalars(select(Case.id).where(Case.status == CaseStatus.AWAITING_DOCUMENTS)).all()
    for case_id in ids:
        with transaction(app.factory) as s:
            case = s.get(Case, case_id)
            assert case is not None
            decision = on_timer(view(s, case), now, app.calendar, app.policy)
            if decision is None:
                continue
            extra = {"missing": [k.label for k in missing_kinds(case.documents, app.kinds)],
                     "reminder_no": case.reminders_sent + 1, "max_reminders": app.policy.max_reminders,
                     "expires_at": _expiry(app, case, now), "unusable": [], "admin_note": None}
            # The review round is part of the key: after LENGKAPI the reminders start again at 1.
            key = (f"r{case.review_round}-{case.reminders_sent + 1}" if decision.event == "remind"
                   else f"expired{case.review_round}")
            apply(s, app, case, decision, "bot", now, key=key, extra=extra)
            result.timers += 1


def _expiry(app: App, case: Case, now: datetime) -> datetime:
    p = app.policy
    remaining = max(0, p.max_reminders - case.reminders_sent - 1)
    return app.calendar.add_working_days(now, remaining * p.remind_after_working_days
                                         + p.expire_after_working_days)


# -- digests and alerts ---------------------------------------------------------------------
def queue_admin_digest(app: App, now: datetime) -> int:
    """On a working day from reminders.admin_digest_time on, one digest per admin per day listing the
    cases that were waiting for review at that time (none waiting: no digest)."""
    local = now.astimezone(app.settings.tz)
    hh, mm = (int(x) for x in app.settings.reminders.admin_digest_time.split(":"))
    if not app.calendar.is_working_day(local.date()) or local.time() < time(hh, mm):
        return 0
    cutoff = datetime.combine(local.date(), time(hh, mm), tzinfo=app.settings.tz)
    with transaction(app.factory) as s:
        if digest_sent(s, local.date().isoformat()):
            return 0
        # The morning digest lists what was already waiting at digest time; newer cases have just
        # had their review_request mail, and appear in tomorrow's digest if still waiting.
        waiting = s.scalars(select(Case).where(Case.status == CaseStatus.AWAITING_REVIEW,
                                               Case.status_since < cutoff).order_by(Case.id)).all()
        not_requests, not_requests_total = not_requests_since(s, cutoff)
        empty = empty_follow_ups(s, app, cutoff)
        if not waiting and not not_requests and not empty and not s.scalar(select(Case.id).where(
                Case.status == CaseStatus.AWAITING_DOCUMENTS, Case.status_since < cutoff).limit(1)):
            return 0
        # Cases waiting for documents get their review codes when first listed here (issue 11).
        documents = documents_waiting(s, app, cutoff, now)
        ages = {d["number"]: d for d in waiting_for_documents(s, app, cutoff, now)}
        documents = [d | {"age_label": ages[d["number"]]["age_label"], "max_reminders": app.policy.max_reminders}
                     for d in documents if d["number"] in ages]
        standard = app.settings.sla.step5_validity
        rows = []
        for c in waiting:
            minutes = int(app.calendar.working_minutes(c.status_since, now))
            rows.append({"number": c.number, "sender": c.sender, "ppk_name": c.ppk.nama if c.ppk else "",
                         "status": c.status, "age_label": _age_label(minutes), "overdue": minutes > standard,
                         "waiting_minutes": minutes, "standard_minutes": standard})
        ctx = base_context(app, now) | {"cases": rows, "today": local.date(), "not_requests": not_requests,
                                        "not_requests_total": not_requests_total, "empty_follow_ups": empty}
        return queue_to_admins(s, app, None, "admin_digest", lambda admin: ctx | {"documents_waiting": [
            d | {"review_code": d["codes"].get(admin)} for d in documents]}, (local.date().isoformat(),), now)


def waiting_for_documents(s: Session, app: App, cutoff: datetime, now: datetime) -> list[dict[str, object]]:
    """The digest's cases waiting for the PPK's documents (issue 14): since when, reminders sent."""
    rows = []
    for c in s.scalars(select(Case).where(Case.status == CaseStatus.AWAITING_DOCUMENTS, Case.status_since < cutoff)
                       .order_by(Case.id)):
        minutes = int(app.calendar.working_minutes(c.status_since, now))
        rows.append({"number": c.number, "sender": c.sender, "ppk_name": c.ppk.nama if c.ppk else "",
                     "since": c.status_since, "age_label": _age_label(minutes), "reminders_sent": c.reminders_sent,
                     "max_reminders": app.policy.max_reminders})
    return rows


def empty_follow_ups(s: Session, app: App, cutoff: datetime) -> list[dict[str, object]]:
    """Follow-ups since the previous digest (or the last 24 hours) that brought no new document, for the
    digest: the PPK may have forgotten the attachment or answered in words only (issue 14)."""
    since = s.scalar(select(Outbox.created_at).where(Outbox.template == "admin_digest", Outbox.created_at < cutoff)
                     .order_by(Outbox.id.desc()).limit(1)) or cutoff - timedelta(days=1)
    events = s.execute(select(Event, Case).join(Case, Event.case_id == Case.id).where(
        Event.kind == "followup", Event.detail.startswith("0 attachment"), Event.at >= since, Event.at < cutoff,
        Case.status.in_(OPEN_STATUSES)).order_by(Event.id)).all()
    return [{"number": c.number, "sender": c.sender, "ppk_name": c.ppk.nama if c.ppk else "", "at": e.at,
             "status": c.status} for e, c in events]


def _age_label(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} menit kerja"
    hours, rest = divmod(minutes, 60)
    return f"{hours} jam {rest} menit kerja"
