"""Case rows: numbering, registry match, the case a mail belongs to, and applying a Decision."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.issued import remember_issued
from mailbot.cases.notify import (
    auto_reply,
    case_context,
    ppk_address,
    queue_mail,
    queue_to_admins,
    thread_ids,
)
from mailbot.cases.review import start_review
from mailbot.domain.errors import MailbotError
from mailbot.domain.mail import ParsedMail
from mailbot.domain.states import CLOSED, WANTS_PASSWORD, CaseStatus
from mailbot.domain.workflow import (
    SOP_STEP,
    CaseView,
    Decision,
    Password,
    Reminders,
    To,
)
from mailbot.outgoing.compose import case_from_message_ids
from mailbot.store.audit import add_event
from mailbot.store.models import (
    Case,
    CaseCounter,
    InboundMessage,
    Outbox,
    Ppk,
    ReviewCode,
    SlaRecord,
)


# -- numbering and registry ------------------------------------------------------------------
def next_number(s: Session, prefix: str, year: int) -> str:
    """`<prefix>-<YYYY>-<NNNNN>`, sequential per year, never reused (the counter only grows)."""
    bump = (update(CaseCounter).where(CaseCounter.prefix == prefix, CaseCounter.year == year)
            .values(last_seq=CaseCounter.last_seq + 1).returning(CaseCounter.last_seq)
            .execution_options(synchronize_session=False))
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) and returns the new value
    # in the same statement.
    seq = s.execute(bump).scalar_one_or_none()
    if seq is None:
        counter = s.get(CaseCounter, (prefix, year), with_for_update=True)
        if counter is None:
            s.add(CaseCounter(prefix=prefix, year=year, last_seq=0))
            s.flush()
        seq = s.execute(bump).scalar_one()
    loaded = s.identity_map.get(Session.identity_key(CaseCounter, (prefix, year)))
    if loaded is not None:
        s.expire(loaded)  # a counter loaded earlier in this session must not show a stale last_seq
    return f"{prefix}-{year}-{seq:05d}"


def registry_for(s: Session, sender: str, nips: Iterable[str] = ()) -> tuple[Ppk | None, bool]:
    """The active registry entry for a sender address, else for a NIP in the mail; (entry, matched_by_sender).
    A deactivated PPK (`mailbot registry deactivate`) matches no new request."""
    ppk = s.scalar(select(Ppk).where(Ppk.email == sender.lower(), Ppk.active.is_(True)).limit(1))
    if ppk is not None:
        return ppk, True
    nips = list(nips)
    if nips:
        ppk = s.scalar(select(Ppk).where(Ppk.nip.in_(nips), Ppk.active.is_(True)).limit(1))
    return ppk, False


def _plain_name(name: str) -> str:
    """A display name fit to greet someone with: letters, spaces and . , ' - only, at most 80 characters.
    (The greeting goes back to an unverified sender: it must not carry links or prose of theirs.)"""
    words = re.sub(r"[^\w .,'-]|[\d_]", " ", name or "").split()
    return " ".join(w for w in words if not re.search(r"\w\.\w{2,}", w))[:80]  # no domain-like words


def create_case(s: Session, app: App, *, sender: str, sender_name: str, subject: str,
                request_type: str, channel: str, now: datetime, actor: str,
                message_id: int | None = None) -> Case:
    year = now.astimezone(app.settings.tz).year
    number = next_number(s, app.settings.office.case_prefix, year)
    case = Case(number=number, status=CaseStatus.RECEIVED, request_type=request_type,
                channel=channel, sender=sender.lower(), sender_name=_plain_name(sender_name),
                subject=subject[:2000],
                created_at=now, updated_at=now, status_since=now)
    s.add(case)
    s.flush()
    add_event(s, case, actor, "received", now, message_id=message_id, to_status=case.status,
              detail=f"channel={channel} request_type={request_type}")
    return case


# -- transitions -----------------------------------------------------------------------------
def view(s: Session, case: Case) -> CaseView:
    with s.no_autoflush:  # outbox rows are flushed when enqueued: nothing pending can change this answer
        last = s.scalar(select(Outbox.created_at).where(
            Outbox.case_id == case.id, Outbox.template.in_(("incomplete", "reminder_documents")))
            .order_by(Outbox.id.desc()).limit(1))
    if last is None and case.status == CaseStatus.AWAITING_DOCUMENTS:
        last = case.status_since  # the request mail was not sent (cap, bad address): count from the state
    return CaseView(CaseStatus(case.status), case.reminders_sent, last,
                    wants_password=case.request_type in WANTS_PASSWORD, registered=case.ppk is not None,
                    sender_registered=case.ppk is not None and case.ppk.email.lower() == case.sender.lower())


def transition(s: Session, app: App, case: Case, decision: Decision, actor: str, now: datetime,
               message_id: int | None = None, detail: str = "") -> None:
    """Apply the new state with its audit event and the SLA record of the step that ended."""
    old = CaseStatus(case.status)
    new = decision.new_status
    text = "; ".join(decision.reasons) + (f"; {detail}" if detail else "")
    add_event(s, case, actor, decision.event, now, detail=text, message_id=message_id,
              from_status=old.value, to_status=new.value)
    if old == new:
        case.updated_at = now
        return
    step = SOP_STEP.get((old, new))
    if step is not None:
        s.add(SlaRecord(case_id=case.id, step=step, started_at=case.status_since, ended_at=now,
                        working_minutes=round(app.calendar.working_minutes(case.status_since, now), 2),
                        standard_minutes=getattr(app.settings.sla, step)))
    case.status = new
    case.status_since = now
    case.updated_at = now
    if new in CLOSED:
        case.closed_at = now


def case_number_re(prefix: str) -> re.Pattern[str]:
    return re.compile(r"\[(" + re.escape(prefix) + r"-\d{4}-\d{5})\]")


def thread_case(s: Session, app: App, mail: ParsedMail) -> Case | None:
    """The case a mail belongs to: signed Message-ID tag, known Message-ID, then `[number]` in subject."""
    refs = list(mail.in_reply_to) + list(reversed(mail.references))
    number = case_from_message_ids(app.secret, refs)
    if number is None and refs:
        case_id = s.scalar(select(Outbox.case_id).where(Outbox.message_id.in_(refs), Outbox.case_id.is_not(None))
                           .limit(1))
        if case_id is None:
            case_id = s.scalar(select(InboundMessage.case_id).where(
                InboundMessage.message_id.in_(refs), InboundMessage.case_id.is_not(None)).limit(1))
        if case_id is not None:
            return s.get(Case, case_id)
    if number is None:
        m = case_number_re(app.settings.office.case_prefix).search(mail.subject)
        number = m.group(1) if m else None
    if number is None:
        return None
    return by_number(s, number)


def by_number(s: Session, number: str) -> Case | None:
    """The case with this number (e.g. LPSE-2026-00042), or None."""
    return s.scalar(select(Case).where(Case.number == number))


class DecisionRefused(MailbotError):
    """An admin decision that cannot be applied; the message is Indonesian, for the admin."""


ACTION_LABELS = {"approve": "SETUJU (disetujui)", "reject": "TOLAK (ditolak)",
                 "request_docs": "LENGKAPI (dokumen diminta kembali)"}


@dataclass(frozen=True)
class AdminInput:
    """What an admin's decision brings besides the keyword."""

    typed_password: str | None = None  # a Password: line, replacing the proposal
    reason: str | None = None  # the TOLAK reason / LENGKAPI note (told to the PPK, confirmed to the admin)
    note: str | None = None  # stored as the decision note
    reply_to: str | None = None  # Message-ID of the admin's mail, for the confirmation's In-Reply-To


def apply(s: Session, app: App, case: Case, decision: Decision, actor: str, now: datetime, *,
          key: object = "", extra: dict[str, Any] | None = None, message_id: int | None = None,
          detail: str = "", admin: AdminInput | None = None) -> None:
    """Carry out a Decision on a case, in the caller's transaction: the new state with its audit event
    and SLA record, the reminder count, the proposed password, the decider, every mail the Decision
    asks for (`extra`: template context; `key`: what makes these mails unique), and a new review round.

    An admin's decision first claims the case with a conditional UPDATE, so of two decisions racing
    (email and CLI) only one is applied; the other raises DecisionRefused."""
    admin = admin or AdminInput()
    if decision.decided:
        claimed = s.execute(update(Case).where(Case.id == case.id, Case.status == CaseStatus(case.status))
                            .values(status=decision.new_status).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
            raise DecisionRefused("perkara ini baru saja diputuskan oleh admin lain")
    if decision.password == Password.ADMIN_TYPED and admin.typed_password:
        case.proposed_password = admin.typed_password  # erased with the proposal once the mail is accepted
    transition(s, app, case, decision, actor, now, message_id=message_id, detail=detail)
    if decision.decided:
        case.decided_by = actor.split(":", 1)[-1]
        case.decision_note = admin.reason or admin.note
        for code in s.scalars(select(ReviewCode).where(ReviewCode.case_id == case.id, ReviewCode.used_at.is_(None))):
            code.used_at = now  # the first valid decision wins; every code of the round is spent
    if decision.reminders == Reminders.RESET:
        case.reminders_sent = 0
    elif decision.reminders == Reminders.COUNT:
        case.reminders_sent += 1
    if decision.password == Password.ERASE:
        case.proposed_password = None
    _queue_sends(s, app, case, decision, actor, now, key, extra or {}, admin)
    remember_issued(s, app, case, decision, extra or {}, now)
    if decision.review_round:
        start_review(s, app, case, now, propose_password=decision.password == Password.PROPOSE)


def _queue_sends(s: Session, app: App, case: Case, decision: Decision, actor: str, now: datetime, key: object,
                 extra: dict[str, Any], admin: AdminInput) -> None:
    in_reply_to, refs = thread_ids(s, case)
    for send in decision.sends:
        if send.to in (To.PPK, To.REGISTERED):
            registered = send.to == To.REGISTERED and case.ppk is not None
            to = case.ppk.email if registered and case.ppk is not None else ppk_address(case)
            ctx = case_context(app, case, now, show_registry=True if registered else None) | extra
            if send.template in ("ack", "incomplete", "complete") and case.channel == "email":
                auto_reply(s, app, case, send.template, to, ctx, (case.number, key), now,
                           in_reply_to=in_reply_to, references=refs)
            else:
                queue_mail(s, app, case, send.template, [to], ctx, (case.number, key), now,
                           contains_secret=send.template == "credentials" and extra.get("password") is not None,
                           in_reply_to=in_reply_to, references=refs)
        elif send.to == To.ACTOR:
            address = actor.split(":", 1)[-1]
            ctx = case_context(app, case, now, show_registry=True) | {
                "action": decision.event, "action_label": ACTION_LABELS[decision.event], "actor": address,
                "reason": admin.reason or None, "outcome_template": decision.outcome}
            queue_mail(s, app, case, send.template, [address], ctx, (case.number, key), now,
                       in_reply_to=admin.reply_to)
        elif send.to == To.ADMINS:
            queue_to_admins(s, app, case, send.template, case_context(app, case, now, show_registry=True) | extra,
                            (case.number, key), now)
