"""What time brings: document reminders, expiry and the morning admin digest, in working time."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select

from mailbot.app import App
from mailbot.cases.notify import base_context, queue_to_admins
from mailbot.cases.records import apply, view
from mailbot.domain.kinds import missing_kinds
from mailbot.domain.results import PollResult
from mailbot.domain.states import CaseStatus
from mailbot.domain.workflow import on_timer
from mailbot.store.db import transaction
from mailbot.store.models import Case


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
        # The morning digest lists what was already waiting at digest time; newer cases have just
        # had their review_request mail, and appear in tomorrow's digest if still waiting.
        waiting = s.scalars(select(Case).where(Case.status == CaseStatus.AWAITING_REVIEW,
                                               Case.status_since < cutoff).order_by(Case.id)).all()
        if not waiting:
            return 0
        standard = app.settings.sla.step5_validity
        rows = []
        for c in waiting:
            minutes = int(app.calendar.working_minutes(c.status_since, now))
            rows.append({"number": c.number, "sender": c.sender, "ppk_name": c.ppk.nama if c.ppk else "",
                         "status": c.status, "age_label": _age_label(minutes), "overdue": minutes > standard,
                         "waiting_minutes": minutes, "standard_minutes": standard})
        ctx = base_context(app, now) | {"cases": rows, "today": local.date()}
        return queue_to_admins(s, app, None, "admin_digest", ctx, (local.date().isoformat(),), now)


def _age_label(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} menit kerja"
    hours, rest = divmod(minutes, 60)
    return f"{hours} jam {rest} menit kerja"
