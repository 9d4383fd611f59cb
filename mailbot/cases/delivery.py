"""What follows from the SMTP server's answer: credentials accepted close the case, failures alert the admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.notify import base_context, case_context, queue_to_admins
from mailbot.cases.records import apply, view
from mailbot.domain.results import PollResult
from mailbot.domain.states import CaseStatus
from mailbot.domain.workflow import on_credentials_accepted
from mailbot.outgoing.outbox import flush
from mailbot.outgoing.smtp import Sender
from mailbot.store.audit import add_event
from mailbot.store.db import scrub
from mailbot.store.models import Case, Outbox


# -- outbox --------------------------------------------------------------------------------
def _on_sent(app: App, now: datetime):  # type: ignore[no-untyped-def]
    def hook(s: Session, row: Outbox) -> None:
        if row.template != "credentials" or row.case_id is None:
            return
        case = s.get(Case, row.case_id)
        if case is None or case.status != CaseStatus.APPROVED:
            return
        # SPEC §5: the password is erased once the SMTP server accepted the mail (the Decision says so).
        apply(s, app, case, on_credentials_accepted(view(s, case)), "bot", now,
              detail="credentials accepted by the SMTP server")
    return hook


def _on_failed(app: App, now: datetime):  # type: ignore[no-untyped-def]
    def hook(s: Session, row: Outbox) -> None:
        report_delivery_failure(s, app, row, now)
    return hook


def flush_outbox(app: App, now: datetime, result: PollResult, sender: Sender | None = None) -> None:
    senders = [sender] if sender is not None else [app.smtp_sender() for _ in range(app.settings.smtp.connections)]
    r = flush(app.factory, senders, app.settings.smtp.from_address, now,
              max_attempts=app.settings.limits.smtp_max_attempts, on_sent=_on_sent(app, now),
              on_sent_templates=frozenset({"credentials"}),
              on_failed=_on_failed(app, now))
    result.sent += r.sent
    result.retried += r.retried
    result.failed += r.failed
    result.smtp_error = r.smtp_error or result.smtp_error
    result.smtp_ok = result.smtp_ok or (r.sent > 0 and not r.smtp_error)
    if r.secrets_erased:
        scrub(app.engine)


def report_delivery_failure(s: Session, app: App, row: Outbox, now: datetime) -> None:
    """A mail that will never arrive: every admin is told; undeliverable credentials are forgotten."""
    if row.template == "delivery_failure":
        return  # never report the failure of a failure report: that is how loops start
    case = s.get(Case, row.case_id) if row.case_id else None
    if case is not None and row.template == "credentials":
        case.proposed_password = None  # undeliverable: the admin is told and contacts the PPK another way
    ctx = (case_context(app, case, now, show_registry=True) if case
           else base_context(app, now) | {"case": None}) | {
        "failed_template": row.template, "recipients": list(row.recipients), "error": row.last_error}
    queue_to_admins(s, app, case, "delivery_failure", ctx, (row.id,), now)
    if case is not None:
        add_event(s, case, "bot", "delivery_failure", now,
                  detail=f"{row.template} to {', '.join(row.recipients)}: {row.last_error}")
