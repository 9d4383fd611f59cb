"""Routes one stored inbound message: automatic mail, admin reply, follow-up, or a new request."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot import cases as C
from mailbot.app import App
from mailbot.classify import automatic_reason, bounced_message_ids, detect_request_type, is_bounce
from mailbot.commands import find_review_codes
from mailbot.compose import OutgoingAttachment, case_from_message_ids
from mailbot.models import Case, CaseStatus, InboundMessage, Outbox
from mailbot.parse import ParsedMail
from mailbot.workflow import CLOSED, Decision, on_documents_checked

log = logging.getLogger(__name__)


def case_number_re(prefix: str) -> re.Pattern[str]:
    return re.compile(r"\[(" + re.escape(prefix) + r"-\d{4}-\d{5})\]")


def route(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> None:
    """Decide what the message is and apply it, all inside the caller's transaction."""
    row.from_addr = mail.from_addr
    row.subject = mail.subject[:2000]
    reason = automatic_reason(mail, app.own_addresses, app.own_domain)
    if reason is not None:
        _ignore(s, app, row, mail, reason, now)
        return
    if not mail.from_addr:
        _ignore(s, app, row, mail, "no sender address (From missing or unreadable)", now)
        return
    if mail.from_addr in app.settings.admins.emails and _looks_like_admin_reply(s, app, mail):
        from mailbot.decisions import handle_admin_reply

        handle_admin_reply(s, app, row, mail, now)
        return
    if find_review_codes(mail.subject, (mail.text or "") + (mail.html or "")):
        _stranger_with_code(s, app, row, mail, now)
        return
    case = thread_case(s, app, mail)
    if case is not None and case.sender == mail.from_addr and CaseStatus(case.status) not in CLOSED:
        _follow_up(s, app, row, mail, case, now)
        return
    _new_request(s, app, row, mail, now)


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
    return s.scalar(select(Case).where(Case.number == number))


def _looks_like_admin_reply(s: Session, app: App, mail: ParsedMail) -> bool:
    if find_review_codes(mail.subject, mail.text or ""):
        return True
    case = thread_case(s, app, mail)
    return case is not None and case.sender != mail.from_addr


def _ignore(s: Session, app: App, row: InboundMessage, mail: ParsedMail, reason: str, now: datetime) -> None:
    row.status = "ignored"
    row.kind = "automatic"
    row.reason = reason
    case = thread_case(s, app, mail)
    bounced = _bounced_outbox(s, mail) if is_bounce(mail) and not _only_delayed(mail) else None
    if case is None and bounced is not None and bounced.case_id is not None:
        case = s.get(Case, bounced.case_id)
    if case is not None:
        row.case_id = case.id
        C.add_event(s, case, "bot", "automatic_ignored", now, detail=reason, message_id=row.id)
    if bounced is not None and bounced.status != "failed":
        # A bounce of our own mail: the recipient never got it. Tell the admins once per mail.
        from mailbot.decisions import report_delivery_failure

        bounced.status = "failed"
        bounced.last_error = f"bounced: {mail.subject}"[:2000]
        report_delivery_failure(s, app, bounced, now)
    log.info("ignored message %d: %s", row.id, reason)


def _stranger_with_code(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> None:
    """A review code from a non-admin address: a replay or a forgery. Refused, audited, never answered."""
    from mailbot.models import ReviewCode

    row.status, row.kind = "ignored", "refused"
    row.reason = f"review code from non-admin address {mail.from_addr}"
    codes = find_review_codes(mail.subject, (mail.text or "") + (mail.html or ""))
    case_id = s.scalar(select(ReviewCode.case_id).where(ReviewCode.code.in_(codes)).limit(1))
    case = s.get(Case, case_id) if case_id else thread_case(s, app, mail)
    if case is not None:
        row.case_id = case.id
    C.add_event(s, case, f"unknown:{mail.from_addr}", "decision_refused", now, message_id=row.id,
                detail=row.reason)
    log.warning("refused: %s", row.reason)


def quarantine(s: Session, app: App, row: InboundMessage, reason: str, now: datetime) -> None:
    """Mark a message quarantined (the IMAP copy moves to the quarantine folder) and alert the admins."""
    row.status = "quarantined"
    row.reason = reason[:2000]
    C.add_event(s, s.get(Case, row.case_id) if row.case_id else None, "bot", "quarantined", now,
                message_id=row.id, detail=reason[:2000])
    ctx = C.base_context(app, now) | {"message_no": row.id, "sender": row.from_addr, "subject": row.subject,
                                      "received_at": row.received_at, "reason": reason}
    for admin in app.settings.admins.emails:
        C.queue_mail(s, app, None, "quarantine_alert", [admin], ctx, f"quarantine_alert:{row.id}:{row.attempts}:{admin}",
                     now)
    log.warning("message %d quarantined: %s", row.id, reason)


def reply_too_large(s: Session, app: App, row: InboundMessage, now: datetime) -> None:
    """A message over limits.max_message_bytes: kept on the server (quarantine), the sender told why."""
    from mailbot.parse import parse_message

    mail = None
    try:
        mail = parse_message(app.store.get(row.raw_blob))
        row.from_addr, row.subject = mail.from_addr, mail.subject[:2000]
    except Exception:  # noqa: BLE001 - the headers alone may be unreadable; the reason is still recorded
        pass
    quarantine(s, app, row, row.reason, now)
    if mail is None or not mail.from_addr or automatic_reason(mail, app.own_addresses, app.own_domain):
        return
    limit = app.settings.limits.max_message_bytes
    m = re.search(r"message of (\d+) bytes", row.reason)
    size = int(m.group(1)) if m else 0
    ctx = C.base_context(app, now) | {"size_mb": round(size / 1048576, 1), "limit_mb": round(limit / 1048576, 1),
                                      "original_subject": mail.subject}
    auto_reply(s, app, None, "too_large", mail.from_addr, ctx, f"too_large:{row.id}", now,
               in_reply_to=mail.message_id, references=[mail.message_id] if mail.message_id else [])


def auto_reply(s: Session, app: App, case: Case | None, template: str, to: str, ctx: dict[str, Any], key: str,
               now: datetime, **kw: Any) -> None:
    """Queue a reply to an inbound mail within the per-sender daily cap (SPEC §4): past the cap the
    sender gets one final notice, then nothing more that day (their mail is still processed)."""
    verdict = C.count_auto_reply(s, app, to, now)
    if verdict == "send":
        C.queue_mail(s, app, case, template, [to], ctx, key, now, **kw)
    elif verdict == "final":
        notice = C.base_context(app, now) | {"limit": app.settings.limits.auto_replies_per_sender_per_day}
        C.queue_mail(s, app, None, "auto_reply_limit", [to], notice, f"auto_reply_limit:{to}:{now.astimezone(app.settings.tz).date()}", now,
                     **kw)
    if verdict != "send":
        C.add_event(s, case, "bot", "auto_reply_suppressed", now, detail=f"{template} to {to}: daily cap reached")


_ACTION_RE = re.compile(r"^action:\s*([a-z]+)", re.I | re.M)


def _only_delayed(mail: ParsedMail) -> bool:
    """A DSN whose every Action is "delayed": the server is still trying, nothing failed yet."""
    texts = [mail.text or ""] + [a.payload.decode("utf-8", "replace") for a in mail.attachments
                                 if a.content_type in ("message/delivery-status", "text/plain")
                                 and len(a.payload) < 100_000]
    actions = {m.group(1).lower() for t in texts for m in _ACTION_RE.finditer(t)}
    return actions == {"delayed"}


def _bounced_outbox(s: Session, mail: ParsedMail) -> Outbox | None:
    ids = bounced_message_ids(mail)
    if not ids:
        return None
    return s.scalar(select(Outbox).where(Outbox.message_id.in_(ids)).limit(1))


def _files(mail: ParsedMail) -> list[tuple[str, str, bytes]]:
    return [(a.filename, a.content_type, a.payload) for a in mail.attachments]


def _new_request(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> None:
    actor = f"ppk:{mail.from_addr}"
    case = C.create_case(s, app, sender=mail.from_addr, sender_name=mail.from_name, subject=mail.subject,
                         request_type=detect_request_type(mail.subject, mail.text or ""), channel="email",
                         now=now, actor=actor, message_id=row.id)
    row.case_id = case.id
    row.kind = "request"
    row.status = "processed"
    C.store_documents(s, app, case, _files(mail), now, message_id=row.id)
    evaluate_and_apply(s, app, case, mail.text or "", now, actor, first_contact=True, message_row=row)
    log.info("message %d: new case %s (%s)", row.id, case.number, case.status)


def _follow_up(s: Session, app: App, row: InboundMessage, mail: ParsedMail, case: Case, now: datetime) -> None:
    actor = f"ppk:{mail.from_addr}"
    row.case_id = case.id
    row.kind = "followup"
    row.status = "processed"
    added = C.store_documents(s, app, case, _files(mail), now, message_id=row.id)
    C.add_event(s, case, actor, "followup", now, message_id=row.id,
                detail=f"{len(added)} attachment(s): " + ", ".join(d.filename for d in added))
    if added and case.status in (CaseStatus.AWAITING_DOCUMENTS.value, CaseStatus.AWAITING_REVIEW.value):
        evaluate_and_apply(s, app, case, mail.text or "", now, actor, first_contact=False, message_row=row)
    log.info("message %d: follow-up to %s (%s)", row.id, case.number, case.status)


def evaluate_and_apply(s: Session, app: App, case: Case, body: str, now: datetime, actor: str, *,
                       first_contact: bool, message_row: InboundMessage | None) -> Decision:
    outcome = C.check_case(s, app, case, body, now)
    decision = on_documents_checked(C.view(s, case), outcome.complete, first_contact, outcome.missing)
    row_id = message_row.id if message_row else None
    C.transition(s, app, case, decision, "bot", now, message_id=row_id)
    extra: dict[str, Any] = {"missing": outcome.missing, "unusable": outcome.unusable, "admin_note": None,
                             "self_service_hint": case.request_type in ("reset_password", "both")}
    key = f"m{row_id}" if row_id else f"t{now.timestamp():.0f}"
    send_decision_mail(s, app, case, decision, extra, key, now)
    if decision.review_round:
        start_review(s, app, case, now)
    return decision


def send_decision_mail(s: Session, app: App, case: Case, decision: Decision, extra: dict[str, Any],
                       key: str, now: datetime) -> None:
    """Queue the PPK-facing mails a decision asks for (admin mails are queued by their callers)."""
    in_reply_to, refs = C.thread_ids(s, case)
    for send in decision.sends:
        if send.to != "ppk":
            continue
        ctx = C.case_context(app, case, now) | extra
        mail_key = f"{send.template}:{case.number}:{key}"
        if send.template in ("ack", "incomplete") and case.channel == "email":
            auto_reply(s, app, case, send.template, C.ppk_address(case), ctx, mail_key, now,
                       in_reply_to=in_reply_to, references=refs)
        else:
            C.queue_mail(s, app, case, send.template, [C.ppk_address(case)], ctx, mail_key, now,
                         in_reply_to=in_reply_to, references=refs)


def start_review(s: Session, app: App, case: Case, now: datetime) -> None:
    """New review round: one review_request per admin, with its own code and the documents attached."""
    codes = C.issue_review_codes(s, app, case, now)
    if case.request_type in ("reset_password", "both", "unknown") and not case.proposed_password:
        case.proposed_password = C.generate_password()
    password = case.proposed_password if case.request_type in ("reset_password", "both", "unknown") else None
    user_id = case.ppk.user_id if case.ppk is not None and case.ppk.user_id else None
    documents = [{"filename": d.filename, "kinds": [app.kind_label(k) for k in d.kinds], "size": d.size,
                  "problem": d.problem, "needs_manual_check": d.needs_manual_check} for d in case.documents]
    attachments = [OutgoingAttachment(d.filename, d.content_type or "application/octet-stream",
                                      app.store.get(d.sha256)) for d in case.documents]
    findings = [{"ok": f.ok, "message": f.message} for f in case.findings]
    for admin, code in codes.items():
        ctx = C.case_context(app, case, now, show_registry=True) | {
            "admin_email": admin, "review_code": code, "round": case.review_round, "findings": findings,
            "documents": documents, "proposed_password": password, "user_id": user_id}
        C.queue_mail(s, app, case, "review_request", [admin], ctx,
                     f"review_request:{case.number}:{case.review_round}:{admin}", now,
                     attachments=attachments, contains_secret=password is not None)
