"""Admin decisions (email replies and CLI): authentication, outcomes, digests and delivery alerts."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailbot import cases as C
from mailbot.app import App
from mailbot.commands import REDACTED, AdminCommand, find_review_codes, parse_command
from mailbot.db import transaction
from mailbot.models import Case, CaseStatus, InboundMessage, Outbox, ReviewCode
from mailbot.parse import ParsedMail
from mailbot.workflow import TransitionRefused, on_admin_decision

log = logging.getLogger(__name__)

ACTION_LABELS = {"approve": "SETUJU (disetujui)", "reject": "TOLAK (ditolak)",
                 "request_docs": "LENGKAPI (dokumen diminta kembali)"}


class DecisionRefused(Exception):
    """A decision that cannot be applied; str() is the reason in Indonesian for the admin."""


# -- authentication ------------------------------------------------------------------------
_AR_SPLIT = re.compile(r";\s*")


def authenticated(mail: ParsedMail, trusted_ids: tuple[str, ...]) -> tuple[bool, str]:
    """dmarc=pass, or dkim=pass aligned with the From domain, in the receiving server's
    Authentication-Results (only headers from a trusted authserv-id count when any are configured).

    Only the topmost eligible header is read: the receiving server prepends its verdict above every
    header the sender wrote, so a lower "dmarc=pass" may be the sender's own forgery."""
    domain = mail.from_addr.rsplit("@", 1)[-1].lower()
    trusted = {t.lower() for t in trusted_ids}
    for header in mail.headers.get("authentication-results", []):
        parts = _AR_SPLIT.split(header.strip())
        authserv = parts[0].split()[0].lower() if parts and parts[0] else ""
        if trusted and authserv not in trusted:
            continue
        for clause in parts[1:]:
            c = clause.lower()
            if re.match(r"dmarc\s*=\s*pass\b", c):
                hf = re.search(r"header\.from\s*=\s*([^\s;]+)", c)
                if hf and hf.group(1).lower() != domain:
                    continue  # a pass for another domain says nothing about this From
                return True, f"dmarc=pass ({authserv})"
            m = re.match(r"dkim\s*=\s*pass\b.*header\.[di]\s*=\s*@?([^\s;]+)", c)
            if m:
                d = m.group(1).split("@")[-1]
                if domain == d or domain.endswith("." + d):
                    return True, f"dkim=pass aligned ({authserv})"
        return False, f"Authentication-Results teratas ({authserv or '-'}) tanpa dmarc=pass/dkim=pass yang selaras"
    return False, "tidak ada Authentication-Results tepercaya dengan dmarc=pass/dkim=pass yang selaras"


# -- email replies -------------------------------------------------------------------------
def handle_admin_reply(s: Session, app: App, row: InboundMessage, mail: ParsedMail, now: datetime) -> None:
    """Apply an admin's keyword reply if, and only if, it is authentic (SPEC §5)."""
    row.kind = "admin_reply"
    row.status = "processed"
    admin = mail.from_addr
    actor = f"admin:{admin}"
    codes = find_review_codes(mail.subject, (mail.text or "") + "\n" + (mail.html or ""))
    known = s.scalars(select(ReviewCode).where(ReviewCode.code.in_(codes))).all() if codes else []
    from mailbot.intake import thread_case

    # The case being answered is the thread's (signed Message-ID, then [number] in the subject); a code
    # only names the case when the reply carries no thread. A code of another case is never "followed".
    threaded = thread_case(s, app, mail)
    case = threaded or (s.get(Case, known[0].case_id) if known else None)
    if case is not None:
        row.case_id = case.id
    try:
        if threaded is not None and known and not any(k.case_id == threaded.id for k in known):
            raise DecisionRefused(f"kode tinjauan pada email ini milik permohonan lain, bukan permohonan "
                                  f"{threaded.number} yang Anda balas")
        code = _valid_code(known, case, admin)
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
    if code.used_at is not None or case.status != CaseStatus.AWAITING_REVIEW.value:
        raise DecisionRefused(f"perkara ini sudah diputuskan oleh {case.decided_by or 'admin lain'}")
    return code


def refuse(s: Session, app: App, case: Case | None, admin: str, reason: str, subject: str, now: datetime,
           row: InboundMessage | None, mail: ParsedMail | None) -> None:
    """Audit the refusal and tell the (configured) admin why; never a stranger."""
    C.add_event(s, case, f"admin:{admin}", "decision_refused", now, detail=reason,
                message_id=row.id if row else None)
    log.warning("refused decision from %s on %s: %s", admin, case.number if case else "-", reason)
    if admin not in app.settings.admins.emails:
        return
    ctx = (C.case_context(app, case, now, show_registry=True) if case
           else C.base_context(app, now) | {"case": None}) | {
        "error": reason, "original_subject": subject,
        "decided_by": case.decided_by if case is not None and case.decided_by else None}
    key = f"admin_command_error:{row.id if row else now.timestamp()}:{admin}"
    C.queue_mail(s, app, case, "admin_command_error", [admin], ctx, key, now,
                 in_reply_to=mail.message_id if mail else None,
                 references=[mail.message_id] if mail and mail.message_id else [])


# -- applying a decision (email and CLI) ----------------------------------------------------
def apply_decision(s: Session, app: App, case: Case, command: AdminCommand, actor: str, now: datetime, *,
                   message_row: InboundMessage | None = None, reply_to: ParsedMail | None = None) -> None:
    action = command.action
    assert action is not None
    if case.status != CaseStatus.AWAITING_REVIEW.value:
        raise DecisionRefused(f"perkara ini berstatus {case.status}; sudah diputuskan oleh "
                              f"{case.decided_by or 'admin lain'}" if case.decided_by else
                              f"perkara ini berstatus {case.status}, bukan menunggu tinjauan")
    try:
        decision = on_admin_decision(C.view(s, case), action)
    except TransitionRefused as exc:
        raise DecisionRefused(str(exc)) from None
    ctx = C.case_context(app, case, now, show_registry=True if action == "approve" else None)
    recipients = [C.ppk_address(case)]
    secret = False
    if action == "approve":
        recipients, extra = _credentials(app, case, command)
        secret = extra["password"] is not None
        ctx |= extra
    elif action == "reject":
        ctx |= {"reason": command.argument}
    else:
        ctx |= {"missing": [], "unusable": [], "admin_note": command.argument}
    row_id = message_row.id if message_row else None
    # Claim the case atomically: of two decisions racing (email and CLI), only one sees AWAITING_REVIEW.
    claimed = s.execute(update(Case).where(Case.id == case.id, Case.status == CaseStatus.AWAITING_REVIEW.value)
                        .values(status=decision.new_status.value).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise DecisionRefused("perkara ini baru saja diputuskan oleh admin lain")
    if action == "approve" and command.password:
        case.proposed_password = command.password  # erased with the proposal once the mail is accepted
    C.transition(s, app, case, decision, actor, now, message_id=row_id,
                 detail=(command.argument or "")[:500])
    case.decided_by = actor.split(":", 1)[-1]
    case.decision_note = command.argument or command.note
    for other in s.scalars(select(ReviewCode).where(ReviewCode.case_id == case.id, ReviewCode.used_at.is_(None))):
        other.used_at = now  # the first valid decision wins; every code of the round is spent
    if action == "request_docs":
        case.reminders_sent = 0
    if action != "approve":
        case.proposed_password = None
    outcome = decision.sends[0].template
    in_reply_to, refs = C.thread_ids(s, case)
    C.queue_mail(s, app, case, outcome, recipients, ctx, f"{outcome}:{case.number}:{case.review_round}", now,
                 contains_secret=secret, in_reply_to=in_reply_to, references=refs)
    if actor.startswith("admin:"):
        admin = actor.split(":", 1)[1]
        conf = C.case_context(app, case, now, show_registry=True) | {
            "action": action, "action_label": ACTION_LABELS[action], "actor": admin,
            "reason": command.argument or None, "outcome_template": outcome}
        C.queue_mail(s, app, case, "admin_confirmation", [admin], conf,
                     f"admin_confirmation:{case.number}:{case.review_round}", now,
                     in_reply_to=reply_to.message_id if reply_to else None)


def _credentials(app: App, case: Case, command: AdminCommand) -> tuple[list[str], dict[str, Any]]:
    if case.ppk is not None:
        to = [case.ppk.email]
    elif command.send_to_sender:
        to = [case.sender]
    else:
        raise DecisionRefused("PPK tidak terdaftar di registri; kredensial hanya dikirim ke pengirim bila balasan "
                              "memuat baris 'Kirim ke pengirim: ya'")
    wants_password = case.request_type in ("reset_password", "both", "unknown")
    wants_user_id = case.request_type in ("user_id_info", "both")
    password = command.password or (case.proposed_password if wants_password else None)
    user_id = command.user_id or (case.ppk.user_id if case.ppk is not None and case.ppk.user_id else None)
    if wants_user_id and not user_id:
        raise DecisionRefused("user ID PPK tidak diketahui; tambahkan baris 'User ID: …' pada balasan")
    if wants_password and not password:
        raise DecisionRefused("kata sandi sementara tidak tersedia; tambahkan baris 'Password: …' pada balasan")
    return to, {"password": password, "user_id": user_id, "note": command.note}


def decide_from_cli(app: App, number: str, command: AdminCommand, user: str, now: datetime) -> Case:
    """The CLI path: same rules and outcomes as email, actor cli:<user>."""
    with transaction(app.factory) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        if case is None:
            raise DecisionRefused(f"case {number} not found")
        apply_decision(s, app, case, command, f"cli:{user}", now)
        return case


# -- digests and alerts ---------------------------------------------------------------------
def queue_admin_digest(app: App, now: datetime) -> int:
    """On a working day from reminders.admin_digest_time on, one digest per admin per day listing the
    cases that were waiting for review at that time (none waiting: no digest)."""
    local = now.astimezone(app.settings.tz)
    hh, mm = (int(x) for x in app.settings.reminders.admin_digest_time.split(":"))
    if not app.calendar.is_working_day(local.date()) or local.time() < time(hh, mm):
        return 0
    queued = 0
    cutoff = datetime.combine(local.date(), time(hh, mm), tzinfo=app.settings.tz)
    with transaction(app.factory) as s:
        # The morning digest lists what was already waiting at digest time; newer cases have just
        # had their review_request mail, and appear in tomorrow's digest if still waiting.
        waiting = s.scalars(select(Case).where(Case.status == CaseStatus.AWAITING_REVIEW.value,
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
        for admin in app.settings.admins.emails:
            ctx = C.base_context(app, now) | {"cases": rows, "today": local.date()}
            if C.queue_mail(s, app, None, "admin_digest", [admin], ctx,
                            f"admin_digest:{local.date().isoformat()}:{admin}", now):
                queued += 1
    return queued


def _age_label(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} menit kerja"
    hours, rest = divmod(minutes, 60)
    return f"{hours} jam {rest} menit kerja"


def report_delivery_failure(s: Session, app: App, row: Outbox, now: datetime) -> None:
    if row.template == "delivery_failure":
        return  # never report the failure of a failure report: that is how loops start
    case = s.get(Case, row.case_id) if row.case_id else None
    if case is not None and row.template == "credentials":
        case.proposed_password = None  # undeliverable: the admin is told and contacts the PPK another way
    ctx = (C.case_context(app, case, now, show_registry=True) if case
           else C.base_context(app, now) | {"case": None}) | {
        "failed_template": row.template, "recipients": list(row.recipients), "error": row.last_error}
    for admin in app.settings.admins.emails:
        C.queue_mail(s, app, case, "delivery_failure", [admin], ctx, f"delivery_failure:{row.id}:{admin}", now)
    if case is not None:
        C.add_event(s, case, "bot", "delivery_failure", now,
                    detail=f"{row.template} to {', '.join(row.recipients)}: {row.last_error}")


@dataclass(frozen=True)
class CliCommand:
    """Helper to build an AdminCommand from CLI flags."""

    @staticmethod
    def make(action: str, argument: str = "", password: str | None = None, user_id: str | None = None,
             send_to_sender: bool = False) -> AdminCommand:
        return AdminCommand(action=action, argument=argument, password=password, user_id=user_id, note=None,
                            send_to_sender=send_to_sender, error=None)
