"""Case records in the database: numbering, documents, checks, transitions with audit and SLA, mail."""

from __future__ import annotations

import logging
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mailbot import documents as docs
from mailbot import findings as rules
from mailbot.app import App
from mailbot.compose import Outgoing, OutgoingAttachment
from mailbot.models import (
    OPEN_STATUSES,
    AutoReplyCount,
    Case,
    CaseCounter,
    CaseStatus,
    Document,
    Event,
    Finding,
    Outbox,
    Ppk,
    ReviewCode,
    SlaRecord,
)
from mailbot.nip import find_nips
from mailbot.outbox import enqueue
from mailbot.workflow import SOP_STEP, CaseView, Decision

log = logging.getLogger(__name__)

REQUEST_TYPE_LABELS = {
    "reset_password": "reset password",
    "user_id_info": "informasi user ID",
    "both": "reset password dan informasi user ID",
    "unknown": "jenis permohonan tidak dikenali",
}
REVIEW_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


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
    """The registry entry for a sender address, else for a NIP in the mail; (entry, matched_by_sender)."""
    ppk = s.scalar(select(Ppk).where(Ppk.email == sender.lower()).limit(1))
    if ppk is not None:
        return ppk, True
    nips = list(nips)
    if nips:
        ppk = s.scalar(select(Ppk).where(Ppk.nip.in_(nips)).limit(1))
    return ppk, False


# -- audit -----------------------------------------------------------------------------------
def add_event(s: Session, case: Case | None, actor: str, kind: str, now: datetime, *,
              detail: str = "", message_id: int | None = None, from_status: str | None = None,
              to_status: str | None = None) -> Event:
    ev = Event(case_id=case.id if case else None, at=now, actor=actor, kind=kind, detail=detail[:4000],
               message_id=message_id, from_status=from_status, to_status=to_status)
    s.add(ev)
    return ev


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
    case = Case(number=number, status=CaseStatus.RECEIVED.value, request_type=request_type,
                channel=channel, sender=sender.lower(), sender_name=_plain_name(sender_name),
                subject=subject[:2000],
                created_at=now, updated_at=now, status_since=now)
    s.add(case)
    s.flush()
    add_event(s, case, actor, "received", now, message_id=message_id, to_status=case.status,
              detail=f"channel={channel} request_type={request_type}")
    return case


# -- documents and checks --------------------------------------------------------------------
def store_documents(s: Session, app: App, case: Case, files: Sequence[tuple[str, str, bytes]],
                    now: datetime, message_id: int | None = None) -> list[Document]:
    """Store each file content-addressed and record what it is; returns the new documents."""
    out = []
    limit = app.settings.limits.max_attachment_bytes
    for filename, content_type, data in files:
        sha = app.store.put(data)
        if len(data) > limit:
            analysis = docs.FileAnalysis(docs.sniff_type(data[:4096]), (), False,
                                         f"ukuran berkas melebihi batas {limit // (1024 * 1024)} MB", False, "")
        else:
            analysis = docs.analyse_file(filename, data, app.kinds, sha)
        doc = Document(case_id=case.id, message_id=message_id, filename=filename, content_type=content_type,
                       file_type=analysis.file_type, size=len(data), sha256=sha, kinds=list(analysis.kinds),
                       usable=analysis.usable, needs_manual_check=analysis.needs_manual_check,
                       problem=analysis.problem, text=analysis.text[:200_000], created_at=now)
        s.add(doc)
        out.append(doc)
    s.flush()
    return out


@dataclass(frozen=True)
class CheckOutcome:
    complete: bool
    missing: list[str]  # labels
    unusable: list[dict[str, str]]  # {filename, reason}


def check_case(s: Session, app: App, case: Case, body: str, now: datetime) -> CheckOutcome:
    """Run every rule, replace the case's findings, and say whether the file is complete."""
    documents = s.scalars(select(Document).where(Document.case_id == case.id)).all()
    facts_docs = tuple(rules.DocFacts(d.filename, tuple(d.kinds), d.usable, d.needs_manual_check,
                                      d.problem, d.text) for d in documents)
    nips = [n for t in [body] + [d.text for d in documents] for n in find_nips(t or "")]
    ppk, by_sender = registry_for(s, case.sender, nips)
    dups: tuple[str, ...] = ()
    if ppk is not None:
        dups = tuple(s.scalars(select(Case.number).where(Case.ppk_id == ppk.id, Case.id != case.id,
                                                         Case.status.in_([st.value for st in OPEN_STATUSES]))))
    required = tuple((k.name, k.label) for k in app.kinds if k.required)
    facts = rules.CaseFacts(
        sender=case.sender, request_type=case.request_type, body=body, documents=facts_docs,
        required=required,
        registry=rules.RegistryFacts(ppk.nama, ppk.nip, ppk.email, ppk.user_id) if ppk else None,
        registry_by_sender=by_sender, open_duplicates=dups,
        today=now.astimezone(app.settings.tz).date())
    results = rules.evaluate(facts)
    # Two statements for the whole set (not one INSERT … RETURNING per finding); the relationship is
    # expired so case.findings is read back fresh.
    s.execute(delete(Finding).where(Finding.case_id == case.id), execution_options={"synchronize_session": False})
    if results:
        s.execute(insert(Finding), [{"case_id": case.id, "code": r.code, "ok": r.ok, "message": r.message,
                                     "created_at": now} for r in results])
    s.expire(case, ["findings"])
    # Set after the queries above (which exclude this case), so it is flushed with the findings.
    if ppk is not None and case.ppk_id is None:
        case.ppk_id = ppk.id
    have = {k for d in documents if d.usable for k in d.kinds}
    missing = [label for name, label in required if name not in have]
    unusable = [{"filename": d.filename, "reason": d.problem or ""} for d in documents if not d.usable]
    return CheckOutcome(not missing, missing, unusable)


# -- transitions -----------------------------------------------------------------------------
def view(s: Session, case: Case) -> CaseView:
    with s.no_autoflush:  # outbox rows are flushed when enqueued: nothing pending can change this answer
        last = s.scalar(select(Outbox.created_at).where(
            Outbox.case_id == case.id, Outbox.template.in_(("incomplete", "reminder_documents")))
            .order_by(Outbox.id.desc()).limit(1))
    if last is None and case.status == CaseStatus.AWAITING_DOCUMENTS.value:
        last = case.status_since  # the request mail was not sent (cap, bad address): count from the state
    return CaseView(CaseStatus(case.status), case.reminders_sent, last)


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
    case.status = new.value
    case.status_since = now
    case.updated_at = now
    if new in (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.EXPIRED):
        case.closed_at = now


# -- outgoing mail ---------------------------------------------------------------------------
def ppk_dict(ppk: Ppk | None) -> dict[str, str] | None:
    if ppk is None:
        return None
    return {"nama": ppk.nama, "nip": ppk.nip, "email": ppk.email, "user_id": ppk.user_id, "satker": ppk.satker}


def base_context(app: App, now: datetime) -> dict[str, Any]:
    return {"office": {"name": app.settings.office.name}, "tz": app.settings.tz, "now": now}


def case_context(app: App, case: Case, now: datetime, *, show_registry: bool | None = None) -> dict[str, Any]:
    """Template context for a case. Registry data (name, NIP, user ID) appears in mail to admins and to
    the registry address only: a stranger who quotes someone's NIP must not learn whose it is."""
    if show_registry is None:
        show_registry = case.ppk is not None and case.ppk.email.lower() == case.sender.lower()
    ctx = base_context(app, now)
    ctx["case"] = {
        "number": case.number, "status": case.status, "request_type": case.request_type,
        "request_type_label": REQUEST_TYPE_LABELS.get(case.request_type, case.request_type),
        "sender": case.sender, "sender_name": case.sender_name, "created_at": case.created_at,
        "channel": case.channel, "ppk": ppk_dict(case.ppk) if show_registry else None,
    }
    return ctx


def thread_ids(s: Session, case: Case) -> tuple[str | None, list[str]]:
    """In-Reply-To / References for a mail to the PPK: the case's latest inbound Message-ID."""
    from mailbot.models import InboundMessage

    query = (select(InboundMessage.message_id).where(
        InboundMessage.case_id == case.id, InboundMessage.from_addr == case.sender)
        .order_by(InboundMessage.id))
    if any(isinstance(o, InboundMessage) for o in s.new) or any(isinstance(o, InboundMessage) for o in s.dirty):
        mids = [m for m in s.scalars(query) if m]
    else:
        with s.no_autoflush:  # no pending inbound change could alter the answer: leave the rest for later
            mids = [m for m in s.scalars(query) if m]
    return (mids[-1] if mids else None), mids[-5:]


def queue_mail(s: Session, app: App, case: Case | None, template: str, to: list[str],
               context: dict[str, Any], key: str, now: datetime, *,
               attachments: Sequence[OutgoingAttachment] = (), contains_secret: bool = False,
               in_reply_to: str | None = None, references: Sequence[str] = ()) -> int | None:
    """Render and queue one mail; its outbox row id, or None when not queued (no deliverable address,
    or the key was queued before)."""
    to = [a for a in (deliverable_address(x) for x in to) if a]
    if not to:
        log.warning("no deliverable recipient for %s (%s): not queued", template, case.number if case else "-")
        if case is not None:
            add_event(s, case, "bot", "mail_not_sent", now, detail=f"{template}: no deliverable address")
        return None
    rendered = app.renderer.render(template, context)
    out = Outgoing(template=template, to=list(to), rendered=rendered,
                   case_number=case.number if case else None, in_reply_to=in_reply_to,
                   references=list(references), attachments=list(attachments))
    return enqueue(s, app.identity, out, key=key, now=now, case_id=case.id if case else None,
                   contains_secret=contains_secret)


def count_auto_reply(s: Session, app: App, sender: str, now: datetime) -> str:
    """"send" within the daily cap, "final" for the one notice at the cap, "suppress" after it."""
    day = now.astimezone(app.settings.tz).date().isoformat()
    row = s.get(AutoReplyCount, (sender.lower(), day))
    if row is None:
        row = AutoReplyCount(sender=sender.lower(), day=day, count=0)
        s.add(row)
    row.count += 1
    cap = app.settings.limits.auto_replies_per_sender_per_day
    if row.count <= cap:
        return "send"
    return "final" if row.count == cap + 1 else "suppress"


_ADDR_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")


def deliverable_address(address: str) -> str | None:
    """An address we can put in To: ASCII local part, IDNA-encoded domain; None when not deliverable.
    Headers are never built from raw user input: anything else is refused here."""
    address = (address or "").strip().lower()
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None
    candidate = f"{local}@{domain}"
    return candidate if _ADDR_RE.match(candidate) and ".." not in candidate else None


def ppk_address(case: Case) -> str:
    return case.sender


def generate_password(length: int = 14) -> str:
    """SPSE-compatible temporary password: letters and digits, at least one of each class."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def new_review_code() -> str:
    raw = "".join(secrets.choice(REVIEW_ALPHABET) for _ in range(16))
    return "RV-" + "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def issue_review_codes(s: Session, app: App, case: Case, now: datetime) -> dict[str, str]:
    """Start a new review round: one fresh code per admin; older rounds' codes stop counting."""
    case.review_round += 1
    codes = {}
    for admin in app.settings.admins.emails:
        code = new_review_code()
        s.add(ReviewCode(code=code, case_id=case.id, round=case.review_round, admin_email=admin, created_at=now))
        codes[admin] = code
    return codes
