"""The ordered dispatch of SPEC §4: automatic mail, admin reply, stranger with a code, follow-up, new request."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.checks import evaluate_and_apply, store_documents
from mailbot.cases.commands import find_review_codes, new_text, starts_with_keyword
from mailbot.cases.decisions import handle_admin_reply, sole_sender
from mailbot.cases.delivery import report_delivery_failure
from mailbot.cases.documents import PdfTexts, analyse_file, sniff_type
from mailbot.cases.notify import auto_reply, base_context, case_context, queue_to_admins
from mailbot.cases.pdfworker import limited_pdf_text, pdf_limits
from mailbot.cases.records import create_case, registry_for, thread_case
from mailbot.domain.mail import ParsedMail
from mailbot.domain.states import CLOSED, CaseStatus, InboundStatus
from mailbot.intake.classify import (
    automatic_reason,
    bounced_message_ids,
    carried_files,
    detect_request_type,
    is_bounce,
)
from mailbot.outgoing.outbox import mark_bounced
from mailbot.store.audit import add_event
from mailbot.store.models import Case, InboundMessage, Outbox, ReviewCode

log = logging.getLogger(__name__)


def route(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime,
          pdf_texts: PdfTexts | None = None) -> None:
    """Decide what the message is and apply it, all inside the caller's transaction. In this order:

    1. automatic mail (bounces, auto-replies, lists, our own mail) and mail without a sender: ignored
       (a bounce of our own mail marks that outbox row failed and tells the admins);
    2. a configured admin answering a case (review code, or a thread of a case not theirs): a decision;
    3. a review code from anybody else: refused and audited, never answered;
    4. the requester writing again in the thread of an open case: a follow-up;
    5. anyone else writing in a case's thread or with its number: no case, a short `wrong_sender` reply;
    6. no request type, a sender not in the registry and no recognised document: not_a_request;
    7. anything else: a new request.

    `pdf_texts`: the text of the mail's PDFs when the helper process read them ahead (by SHA-256)."""
    row.from_addr = mail.from_addr
    row.subject = mail.subject[:2000]
    reason = automatic_reason(mail, app.own_addresses, app.own_domain)
    if reason is not None:
        _ignore(s, app, row, mail, reason, now)
        if carried_files(mail) and not reason.startswith(("bounce", "own mail")):
            _tell_admins(s, app, row, mail, None, now, "automatic", reason)  # never dropped silently
        return
    if not mail.from_addr:
        _ignore(s, app, row, mail, "no sender address (From missing or unreadable)", now)
        return
    if mail.from_addr in app.settings.admins.emails and not sole_sender(mail):
        # Two From fields (or two mailboxes in one) naming an admin: whoever wrote it, it is no decision.
        _refused(s, app, row, mail, now, f"more than one From mailbox naming admin {mail.from_addr}")
        return
    if mail.from_addr in app.settings.admins.emails and _looks_like_admin_reply(s, app, mail):
        handle_admin_reply(s, app, row, mail, now)
        return
    if find_review_codes(mail.subject, (mail.text or "") + (mail.html or "")):
        _stranger_with_code(s, app, row, mail, now)
        return
    case = thread_case(s, app, mail)
    if case is not None and case.sender == mail.from_addr:
        if case.status in CLOSED:
            _closed_follow_up(s, app, row, mail, case, now)
        else:
            _follow_up(s, app, row, mail, case, now, pdf_texts)
        return
    if case is not None and case.status in CLOSED and case.ppk is not None and case.ppk.email == mail.from_addr:
        _closed_follow_up(s, app, row, mail, case, now)  # the registry address answering the credentials
        return
    if case is not None:
        _other_address(s, app, row, mail, case, now)
        return
    verdict, pdf_texts = no_request(s, app, mail, pdf_texts)
    if verdict:
        _not_a_request(s, app, row, mail, now, verdict)
        return
    _new_request(s, app, row, mail, now, pdf_texts)


def no_request(s: Session, app: App, mail: ParsedMail, pdf_texts: PdfTexts | None) -> tuple[str, PdfTexts | None]:
    """Why a new message is no request (SPEC §2: no recognised request type, a sender not in the registry,
    and no attachment that is or may be a document — a vendor's brochure, a newsletter), or "" for a
    request; and the PDF texts read on the way (so that a request's files are not read twice)."""
    if detect_request_type(mail.subject, mail.text or "") != "unknown" or registry_for(s, mail.from_addr)[1]:
        return "", pdf_texts
    texts = dict(pdf_texts or {})
    limit, limits = app.settings.limits.max_attachment_bytes, pdf_limits(app.settings.limits)
    for a in mail.attachments:
        if len(a.payload) > limit:
            continue
        sha = hashlib.sha256(a.payload).hexdigest()
        if sniff_type(a.payload[:4096]) == "pdf" and sha not in texts:
            texts[sha] = limited_pdf_text(a.payload, limits=limits, sha256=sha)
        analysis = analyse_file(a.filename, a.payload, app.kinds, sha, texts, limits)
        # A file of a recognised kind, or an attached scan or photo only a person can read (it may be the
        # letter or the SK: the admin judges it), makes a request; a readable file of no kind (a vendor's
        # brochure) or an inline picture (a newsletter's logo) does not.
        if analysis.kinds or (analysis.usable and analysis.needs_manual_check and not a.inline):
            return "", texts
    files = len(mail.attachments)
    return ("no request type, sender not in the registry, "
            + (f"none of {files} attachment(s) a document" if files else "no attachment")), texts


def _not_a_request(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime, reason: str) -> None:
    """No case and no mail: recorded for the admins (digest, `mailbot inbox`), who may open a case from it."""
    row.status, row.kind, row.reason = InboundStatus.NOT_A_REQUEST, "not_a_request", reason
    log.info("message %d: not a request (%s)", row.id, reason)


def _closed_follow_up(s: Session, app: App, row: InboundMessage, mail: ParsedMail, case: Case,
                      now: datetime) -> None:
    """The requester writing in the thread of a closed case ("terima kasih"): part of its history, no
    mail to them and never a new case; with files or request words, the admins are told (admin_notice)."""
    row.case_id = case.id
    row.kind = "followup_closed"
    row.status = InboundStatus.PROCESSED
    files = carried_files(mail)
    add_event(s, case, f"ppk:{mail.from_addr}", "followup_after_close", now, message_id=row.id,
              detail=f"{len(files)} attachment(s): " + ", ".join(files))
    # Request words in the PPK's own new text (the subject and the quote repeat our own mail's words).
    if files or detect_request_type("", new_text(mail.text or "", mail.html)) != "unknown":
        _tell_admins(s, app, row, mail, case, now, "closed_case", None)
    log.info("message %d: reply to closed case %s", row.id, case.number)


def _other_address(s: Session, app: App, row: InboundMessage, mail: ParsedMail, case: Case, now: datetime) -> None:
    """A mail that refers to a case (thread or `[number]`) from an address that is not the case's: never a
    new case and never part of the case file (its text and files stay out of it); the sender is told,
    within the auto-reply cap, that replies must come from the address that made the request."""
    row.status, row.kind = InboundStatus.PROCESSED, "other_address"
    row.reason = f"refers to {case.number} from an address that is not the case's"
    add_event(s, case, f"unknown:{mail.from_addr}", "reply_from_other_address", now, message_id=row.id,
              detail=f"{len(carried_files(mail))} attachment(s) not taken; sender told to write from the request's address")
    ctx = base_context(app, now) | {"case": {"number": case.number}}
    auto_reply(s, app, case, "wrong_sender", mail.from_addr, ctx, (row.id,), now,
               in_reply_to=mail.message_id, references=[mail.message_id] if mail.message_id else [])
    log.info("message %d: refers to %s from another address: not taken", row.id, case.number)


def _tell_admins(s: Session, app: App, row: InboundMessage, mail: ParsedMail, case: Case | None, now: datetime,
                 notice: str, reason: str | None) -> None:
    ctx = ((case_context(app, case, now, show_registry=True) if case else base_context(app, now) | {"case": None})
           | {"notice": notice, "message_no": row.id, "sender": mail.from_addr, "subject": mail.subject,
              "reason": reason, "files": carried_files(mail)[:20]})
    queue_to_admins(s, app, case, "admin_notice", ctx, (row.id,), now)


def _looks_like_admin_reply(s: Session, app: App, mail: ParsedMail) -> bool:
    if find_review_codes(mail.subject, mail.text or "") or starts_with_keyword(mail.text or "", mail.html):
        return True  # a keyword without a code or thread is refused with admin_command_error, never a case
    case = thread_case(s, app, mail)
    return case is not None and case.sender != mail.from_addr


def _ignore(s: Session, app: App, row: InboundMessage, mail: ParsedMail, reason: str, now: datetime) -> None:
    row.status = InboundStatus.IGNORED
    row.kind = "automatic"
    row.reason = reason
    case = thread_case(s, app, mail)
    bounced = _bounced_outbox(s, mail) if is_bounce(mail) and not _only_delayed(mail) else None
    if case is None and bounced is not None and bounced.case_id is not None:
        case = s.get(Case, bounced.case_id)
    if case is not None:
        row.case_id = case.id
        add_event(s, case, "bot", "automatic_ignored", now, detail=reason, message_id=row.id)
    if bounced is not None and mark_bounced(bounced, mail.subject):
        # A bounce of our own mail: the recipient never got it. Tell the admins once per mail.
        report_delivery_failure(s, app, bounced, now)
    log.info("ignored message %d: %s", row.id, reason)


def _stranger_with_code(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> None:
    """A review code from a non-admin address: a replay or a forgery. Refused, audited, never answered."""
    _refused(s, app, row, mail, now, f"review code from non-admin address {mail.from_addr}")


def _refused(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime, reason: str) -> None:
    row.status, row.kind = InboundStatus.IGNORED, "refused"
    row.reason = reason
    codes = find_review_codes(mail.subject, (mail.text or "") + (mail.html or ""))
    case_id = s.scalar(select(ReviewCode.case_id).where(ReviewCode.code.in_(codes)).limit(1))
    case = s.get(Case, case_id) if case_id else thread_case(s, app, mail)
    if case is not None:
        row.case_id = case.id
    add_event(s, case, f"unknown:{mail.from_addr}", "decision_refused", now, message_id=row.id,
                detail=row.reason)
    log.warning("refused: %s", row.reason)


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


def _new_request(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime,
                 pdf_texts: PdfTexts | None, actor: str | None = None) -> Case:
    """A case from the message (`actor`: who opened it, when not the sender itself, e.g. cli:<user>)."""
    actor = actor or f"ppk:{mail.from_addr}"
    case = create_case(s, app, sender=mail.from_addr, sender_name=mail.from_name, subject=mail.subject,
                         request_type=detect_request_type(mail.subject, mail.text or ""), channel="email",
                         now=now, actor=actor, message_id=row.id)
    row.case_id = case.id
    row.kind = "request"
    row.status = InboundStatus.PROCESSED
    store_documents(s, app, case, _files(mail), now, message_id=row.id, prepared=pdf_texts)
    evaluate_and_apply(s, app, case, mail.text or "", now, actor, first_contact=True, message_row=row)
    log.info("message %d: new case %s (%s)", row.id, case.number, case.status)
    return case


def open_request(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime, actor: str) -> Case:
    """An admin turns a message recorded as no request into a case, as if it had been one."""
    return _new_request(s, app, row, mail, now, None, actor=actor)


def _follow_up(s: Session, app: App, row: InboundMessage, mail: ParsedMail, case: Case, now: datetime,
               pdf_texts: PdfTexts | None) -> None:
    actor = f"ppk:{mail.from_addr}"
    row.case_id = case.id
    row.kind = "followup"
    row.status = InboundStatus.PROCESSED
    added = store_documents(s, app, case, _files(mail), now, message_id=row.id, prepared=pdf_texts)
    add_event(s, case, actor, "followup", now, message_id=row.id,
                detail=f"{len(added)} attachment(s): " + ", ".join(d.filename for d in added))
    if added and case.status in (CaseStatus.AWAITING_DOCUMENTS, CaseStatus.AWAITING_REVIEW):
        evaluate_and_apply(s, app, case, mail.text or "", now, actor, first_contact=False, message_row=row)
    log.info("message %d: follow-up to %s (%s)", row.id, case.number, case.status)
