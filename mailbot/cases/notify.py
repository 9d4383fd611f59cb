"""Mail about a case: template context, recipients, the per-sender daily cap, and queueing."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.domain.states import REQUEST_TYPE_LABELS
from mailbot.outgoing.compose import Outgoing, OutgoingAttachment
from mailbot.outgoing.outbox import enqueue, mail_key
from mailbot.store.audit import add_event
from mailbot.store.models import AutoReplyCount, Case, InboundMessage

log = logging.getLogger(__name__)


# -- outgoing mail ---------------------------------------------------------------------------
def base_context(app: App, now: datetime) -> dict[str, Any]:
    o = app.settings.office
    return {"office": {"name": o.name, "phone": o.phone, "spse_url": o.spse_url, "hours": o.hours},
            "tz": app.settings.tz, "now": now}


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
        "channel": case.channel, "ppk": case.ppk.as_dict() if show_registry and case.ppk else None,
    }
    return ctx


def thread_ids(s: Session, case: Case) -> tuple[str | None, list[str]]:
    """In-Reply-To / References for a mail to the PPK: the case's latest inbound Message-ID."""
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
               context: dict[str, Any], key: Sequence[object], now: datetime, *,
               attachments: Sequence[OutgoingAttachment] = (), contains_secret: bool = False,
               in_reply_to: str | None = None, references: Sequence[str] = ()) -> int | None:
    """Render and queue one mail; its outbox row id, or None when not queued (no deliverable address,
    or the key was queued before). `key`: what makes this mail unique besides its template."""
    if isinstance(key, str):
        raise TypeError("queue_mail takes the key's parts (a tuple), not a finished key")
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
    return enqueue(s, app.identity, out, key=mail_key(template, *key), now=now, case_id=case.id if case else None,
                   contains_secret=contains_secret)


def count_auto_reply(s: Session, app: App, sender: str, now: datetime, *, cap: int | None = None,
                     counter: str = "") -> str:
    """"send" within the daily cap, "final" for the one notice at the cap, "suppress" after it.
    `counter` prefixes the sender to keep a separate count (e.g. "admin_command_error:")."""
    day = now.astimezone(app.settings.tz).date().isoformat()
    key = (counter + sender.lower())[:254]
    row = s.get(AutoReplyCount, (key, day))
    if row is None:
        row = AutoReplyCount(sender=key, day=day, count=0)
        s.add(row)
    row.count += 1
    if cap is None:
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


def auto_reply(s: Session, app: App, case: Case | None, template: str, to: str, ctx: dict[str, Any],
               key: Sequence[object], now: datetime, **kw: Any) -> None:
    """Queue a reply to an inbound mail within the per-sender daily cap (SPEC §4): past the cap the
    sender gets one final notice, then nothing more that day (their mail is still processed)."""
    verdict = count_auto_reply(s, app, to, now)
    if verdict == "send":
        queue_mail(s, app, case, template, [to], ctx, key, now, **kw)
    elif verdict == "final":
        notice = base_context(app, now) | {"limit": app.settings.limits.auto_replies_per_sender_per_day}
        queue_mail(s, app, None, "auto_reply_limit", [to], notice, (to, now.astimezone(app.settings.tz).date()), now,
                   **kw)
    if verdict != "send":
        add_event(s, case, "bot", "auto_reply_suppressed", now, detail=f"{template} to {to}: daily cap reached")


def queue_to_admins(s: Session, app: App, case: Case | None, template: str,
                    context: dict[str, Any] | Callable[[str], dict[str, Any]], key: Sequence[object],
                    now: datetime, **kw: Any) -> int:
    """One mail to each configured admin (the admin's address ends the key); `context` may depend on the
    admin. Returns how many were queued."""
    queued = 0
    for admin in app.settings.admins.emails:
        ctx = context(admin) if callable(context) else context
        if queue_mail(s, app, case, template, [admin], ctx, (*key, admin), now, **kw) is not None:
            queued += 1
    return queued


def ppk_address(case: Case) -> str:
    """Where mail for the requester goes: the address the request came from (or was given at the desk)."""
    return case.sender
