"""What the morning digest asks the admins besides the review queue (issue 11): the cases waiting for
documents, each with a review code per admin (issued when the admin is first asked, audited), so that
SETUJU / TOLAK / LENGKAPI apply to them too; and the mail recorded as no request since the last digest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.review import issue_review_codes
from mailbot.domain.states import CaseStatus, InboundStatus
from mailbot.store.audit import add_event
from mailbot.store.models import Case, InboundMessage, Outbox, ReviewCode

MAX_LISTED = 50  # not-a-request messages named in one digest; the rest are counted (`mailbot inbox` has all)


def digest_sent(s: Session, day: str) -> bool:
    """Whether the digest of `day` (ISO date, office time) was queued already."""
    return s.scalar(select(Outbox.id).where(Outbox.template == "admin_digest",
                                            Outbox.idempotency_key.startswith(f"admin_digest:{day}:")).limit(1)) is not None


def codes_for(s: Session, app: App, case: Case, now: datetime, why: str) -> dict[str, str]:
    """The unused review codes of the case's current round by admin, issuing a round when there are none
    (the admin is asked for the first time since the case last changed hands)."""
    rows = s.scalars(select(ReviewCode).where(ReviewCode.case_id == case.id, ReviewCode.round == case.review_round,
                                              ReviewCode.used_at.is_(None))).all()
    if rows and case.review_round > 0:
        return {r.admin_email: r.code for r in rows}
    codes = issue_review_codes(s, app, case, now)
    add_event(s, case, "bot", "review_codes_issued", now,
              detail=f"round {case.review_round}: {why}; admins: {', '.join(sorted(codes))}")
    return codes


def documents_waiting(s: Session, app: App, cutoff: datetime, now: datetime) -> list[dict[str, Any]]:
    """The cases waiting for the PPK's documents since before `cutoff`, each with its codes by admin."""
    cases = s.scalars(select(Case).where(Case.status == CaseStatus.AWAITING_DOCUMENTS, Case.status_since < cutoff)
                      .order_by(Case.id)).all()
    rows = []
    for c in cases:
        codes = codes_for(s, app, c, now, "listed in the admin digest (waiting for documents)")
        rows.append({"number": c.number, "sender": c.sender, "ppk_name": c.ppk.nama if c.ppk else "",
                     "status": c.status, "since": c.status_since, "reminders_sent": c.reminders_sent,
                     "codes": codes})
    return rows


def not_requests_since(s: Session, cutoff: datetime) -> tuple[list[dict[str, Any]], int]:
    """Mail recorded as no request and still not opened, received since the previous digest (all, before
    the first one) and before this one's `cutoff`: up to MAX_LISTED rows, and how many there are."""
    last = s.scalar(select(Outbox.created_at).where(Outbox.template == "admin_digest")
                    .order_by(Outbox.id.desc()).limit(1))
    q = select(InboundMessage).where(InboundMessage.status == InboundStatus.NOT_A_REQUEST,
                                     InboundMessage.received_at < cutoff)
    if last is not None:
        q = q.where(InboundMessage.received_at >= last)
    found = s.scalars(q.order_by(InboundMessage.id)).all()
    return ([{"id": r.id, "received_at": r.received_at, "from_addr": r.from_addr or "-", "subject": r.subject or ""}
             for r in found[:MAX_LISTED]], len(found))
