"""Admin decisions by email and CLI: authenticated, checked against the round's codes, then applied."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.authresults import parse as parse_auth_results
from mailbot.cases.commands import AdminCommand, find_review_codes, new_text, parse_command
from mailbot.cases.inventory import incomplete_context, sender_verified
from mailbot.cases.notify import base_context, case_context, count_auto_reply, queue_mail
from mailbot.cases.records import (
    AdminInput,
    DecisionRefused,
    apply,
    by_number,
    thread_case,
    view,
)
from mailbot.domain.mail import ParsedMail
from mailbot.domain.redaction import REDACTED
from mailbot.domain.states import (
    WANTS_PASSWORD,
    WANTS_USER_ID,
    CaseStatus,
    InboundStatus,
)
from mailbot.domain.workflow import DECIDABLE, TransitionRefused, on_admin_decision
from mailbot.store.audit import add_event
from mailbot.store.db import transaction
from mailbot.store.models import Case, InboundMessage, ReviewCode

log = logging.getLogger(__name__)


# -- authentication ------------------------------------------------------------------------
def authenticated(mail: ParsedMail, trusted_ids: tuple[str, ...]) -> tuple[bool, str]:
    """dmarc=pass for the From domain (header.from equal to it), or dkim=pass aligned with it, in the
    topmost Authentication-Results of a trusted authserv-id (RFC 8601, read by `authresults.parse`).

    Without trusted ids nothing counts (any sender can write the header). Only the topmost trusted
    header is read: the receiving server prepends its verdict above what the sender wrote, and it must
    strip headers bearing its own id from incoming mail (RFC 8601 §5)."""
    domain = mail.from_addr.rsplit("@", 1)[-1].lower()
    trusted = {t.lower() for t in trusted_ids}
    if not trusted:
        return False, "admins.trusted_authserv_ids kosong: tidak ada Authentication-Results yang dapat dipercaya"
    for header in mail.headers.get("authentication-results", []):
        ar = parse_auth_results(header)
        if ar.authserv_id not in trusted:
            continue
        if not ar.ok:
            return False, f"Authentication-Results teratas ({ar.authserv_id}) tidak dapat dibaca"
        for res in ar.results:
            if res.result != "pass":
                continue
            if res.method == "dmarc" and res.props.get("header.from", "").lower() == domain:
                return True, f"dmarc=pass ({ar.authserv_id})"
            if res.method == "dkim":
                d = (res.props.get("header.d") or res.props.get("header.i") or "").rsplit("@", 1)[-1].lower()
                if d and (domain == d or domain.endswith("." + d)):
                    return True, f"dkim=pass aligned ({ar.authserv_id})"
        return False, (f"Authentication-Results teratas ({ar.authserv_id}) tanpa dmarc=pass/dkim=pass "
                       "yang selaras")
    return False, "tidak ada Authentication-Results tepercaya dengan dmarc=pass/dkim=pass yang selaras"


# -- email replies -------------------------------------------------------------------------
def sole_sender(mail: ParsedMail) -> bool:
    """True when the mail has exactly one From field naming exactly one mailbox, the one read as its
    sender: a mail with two From fields (or two mailboxes in one) is never an admin's decision."""
    values = mail.headers.get("from", [])
    if len(values) != 1:
        return False
    boxes = [a.strip().lower() for _, a in getaddresses(values) if "@" in a]
    return len(boxes) == 1 and boxes[0] == mail.from_addr


def handle_admin_reply(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> None:
    """Apply an admin's keyword reply if, and only if, it is authentic (SPEC §5)."""
    row.kind = "admin_reply"
    row.status = InboundStatus.PROCESSED
    admin = mail.from_addr
    actor = f"admin:{admin}"
    codes = find_review_codes(mail.subject, (mail.text or "") + "\n" + (mail.html or ""))
    known = s.scalars(select(ReviewCode).where(ReviewCode.code.in_(codes))).all() if codes else []
    # The case being answered is the thread's (signed Message-ID, then [number] in the subject); a code
    # only names the case when the reply carries no thread. A code of another case is never "followed".
    threaded = thread_case(s, app, mail)
    named = _cases_named(mail, list(known)) if threaded is None else set()
    case = threaded or (s.get(Case, next(iter(named))) if len(named) == 1 else None)
    if case is not None:
        row.case_id = case.id
    try:
        if not sole_sender(mail):
            raise DecisionRefused("email ini memuat lebih dari satu pengirim (From); bukan keputusan")
        if len(named) > 1:
            # A reply to the digest quotes the codes of several cases: which one is meant is never guessed.
            raise DecisionRefused("email ini memuat kode tinjauan lebih dari satu permohonan; kirim keputusan "
                                  "dengan satu kode tinjauan saja pada subjek")
        if threaded is not None and known and not any(k.case_id == threaded.id for k in known):
            raise DecisionRefused(f"kode tinjauan pada email ini milik permohonan lain, bukan permohonan "
                                  f"{threaded.number} yang Anda balas")
        code = _valid_code(list(known), case, admin)
        if app.settings.admins.require_authenticated_admin_mail:
            ok, why = authenticated(mail, app.settings.admins.trusted_authserv_ids)
            if not ok:
                raise DecisionRefused("email balasan tidak lolos autentikasi server (DMARC/DKIM): " + why)
        command = parse_command(mail.text or "", mail.html)
        if row.secret:
            command = replace(command, password=row.secret)  # the stored copy was redacted at intake
        elif command.password is not None and (row.secret == "" or REDACTED in command.password):
            raise DecisionRefused("baris Password tidak dapat digunakan (kosong, atau lebih dari 128 karakter)")
        if command.action is None:
            raise DecisionRefused(command.error or "baris pertama balasan bukan kata kunci yang dikenali")
        assert case is not None
        apply_decision(s, app, case, command, actor, now, message_row=row, reply_to=mail)
        code.used_at = now
    except DecisionRefused as exc:
        refuse(s, app, case, admin, str(exc), mail.subject, now, row, mail)
    finally:
        row.secret = None


def _cases_named(mail: ParsedMail, known: list[ReviewCode]) -> set[int]:
    """The cases the known codes of an unthreaded mail name: those in the subject when it has any (a new
    mail written with one code from the digest), else those in the admin's own new text, else those
    anywhere in the mail (a quoted review mail)."""
    in_subject = set(find_review_codes(mail.subject, ""))
    in_new_text = set(find_review_codes("", new_text(mail.text or "", mail.html)))
    chosen = ([k for k in known if k.code in in_subject] or [k for k in known if k.code in in_new_text]
              or known)
    return {k.case_id for k in chosen}


def _valid_code(known: list[ReviewCode], case: Case | None, admin: str) -> ReviewCode:
    if case is None:
        raise DecisionRefused("kode tinjauan tidak ditemukan pada subjek maupun kutipan email")
    if not known:
        raise DecisionRefused("kode tinjauan tidak ditemukan pada subjek maupun kutipan email")
    mine = [k for k in known if k.admin_email == admin and k.case_id == case.id]
    if not mine:
        raise DecisionRefused("kode tinjauan pada email ini bukan milik alamat Anda atau bukan untuk perkara ini")
    current = [k for k in mine if k.round == case.review_round]
    if not current:
        raise DecisionRefused("kode tinjauan ini berasal dari putaran tinjauan sebelumnya dan tidak berlaku lagi")
    code = current[0]
    if code.used_at is not None or case.status not in DECIDABLE:
        raise DecisionRefused(f"perkara ini sudah diputuskan oleh {case.decided_by or 'admin lain'}")
    return code


def refuse(s: Session, app: App, case: Case | None, admin: str, reason: str, subject: str, now: datetime,
           row: InboundMessage | None, mail: ParsedMail | None) -> None:
    """Audit the refusal and tell the (configured) admin why; never a stranger."""
    add_event(s, case, f"admin:{admin}", "decision_refused", now, detail=reason,
                message_id=row.id if row else None)
    log.warning("refused decision from %s on %s: %s", admin, case.number if case else "-", reason)
    if admin not in app.settings.admins.emails:
        return
    cap = app.settings.limits.admin_command_errors_per_admin_per_day
    if count_auto_reply(s, app, admin, now, cap=cap, counter="admin_command_error:") != "send":
        # Anyone can forge an admin's From: past the daily cap the refusals are audited, not mailed.
        add_event(s, case, "bot", "auto_reply_suppressed", now,
                  detail=f"admin_command_error to {admin}: daily cap of {cap} reached")
        return
    ctx = (case_context(app, case, now, show_registry=True) if case
           else base_context(app, now) | {"case": None}) | {
        "error": reason, "original_subject": subject,
        "decided_by": case.decided_by if case is not None and case.decided_by else None}
    queue_mail(s, app, case, "admin_command_error", [admin], ctx, (row.id if row else now.timestamp(), admin), now,
                 in_reply_to=mail.message_id if mail else None,
                 references=[mail.message_id] if mail and mail.message_id else [])


# -- applying a decision (email and CLI) ----------------------------------------------------
def apply_decision(s: Session, app: App, case: Case, command: AdminCommand, actor: str, now: datetime, *,
                   message_row: InboundMessage | None = None, reply_to: ParsedMail | None = None) -> None:
    """Check an authenticated admin command against the case and apply the workflow's Decision."""
    action = command.action
    assert action is not None
    if case.status not in DECIDABLE:
        raise DecisionRefused(f"perkara ini berstatus {case.status}; sudah diputuskan oleh "
                              f"{case.decided_by or 'admin lain'}" if case.decided_by else
                              f"perkara ini berstatus {case.status} dan tidak dapat diputuskan lagi")
    try:
        decision = on_admin_decision(view(s, case), action, by_email=reply_to is not None)
    except TransitionRefused as exc:
        raise DecisionRefused(str(exc)) from None
    if action == "approve":
        extra = _credentials(case, command)
    elif action == "reject":
        extra = {"reason": command.argument}
    else:
        # What is really missing as the files stand, and what each received file was taken for.
        extra = incomplete_context(app, case, verified=sender_verified(case), admin_note=command.argument)
    # One decision per review round, so the round keys its mails; before any review (a case waiting for
    # documents) the admin may ask for documents more than once in a round: each request is its own mail.
    in_review = case.status == CaseStatus.AWAITING_REVIEW
    key: object = case.review_round if in_review else f"{case.review_round}-{now.isoformat()}"
    apply(s, app, case, decision, actor, now, key=key, extra=extra,
          message_id=message_row.id if message_row else None, detail=(command.argument or "")[:500],
          admin=AdminInput(typed_password=command.password, reason=command.argument or None, note=command.note,
                           reply_to=reply_to.message_id if reply_to else None))


def _credentials(case: Case, command: AdminCommand) -> dict[str, Any]:
    """What the credentials mail says; refused when something it needs is unknown, or when an
    unregistered PPK's credentials would go to an address the admin did not confirm."""
    if case.ppk is None and not command.send_to_sender:
        raise DecisionRefused("PPK tidak terdaftar di registri; kredensial hanya dikirim ke pengirim bila balasan "
                              "memuat baris 'Kirim ke pengirim: ya'")
    if case.ppk is not None and not case.ppk.active:  # `mailbot registry deactivate`: no credentials go there
        raise DecisionRefused(f"PPK NIP {case.ppk.nip} sudah dinonaktifkan di registri; kredensial tidak dikirim")
    wants_password = case.request_type in WANTS_PASSWORD
    wants_user_id = case.request_type in WANTS_USER_ID
    password = command.password or (case.proposed_password if wants_password else None)
    user_id = command.user_id or (case.ppk.user_id if case.ppk is not None and case.ppk.user_id else None)
    if wants_user_id and not user_id:
        raise DecisionRefused("user ID PPK tidak diketahui; tambahkan baris 'User ID: …' pada balasan")
    if wants_password and not password:
        raise DecisionRefused("kata sandi sementara tidak tersedia; tambahkan baris 'Password: …' pada balasan")
    return {"password": password, "user_id": user_id, "note": command.note}


def decide_from_cli(app: App, number: str, command: AdminCommand, user: str, now: datetime) -> Case:
    """The CLI path: same rules and outcomes as email, actor cli:<user>."""
    with transaction(app.factory) as s:
        case = by_number(s, number)
        if case is None:
            raise DecisionRefused(f"case {number} not found")
        apply_decision(s, app, case, command, f"cli:{user}", now)
        return case


@dataclass(frozen=True)
class CliCommand:
    """Helper to build an AdminCommand from CLI flags."""

    @staticmethod
    def make(action: str, argument: str = "", password: str | None = None, user_id: str | None = None,
             send_to_sender: bool = False) -> AdminCommand:
        return AdminCommand(action=action, argument=argument, password=password, user_id=user_id, note=None,
                            send_to_sender=send_to_sender, error=None)
