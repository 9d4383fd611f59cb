"""Processing stored messages one transaction each: attempts counted first, failures quarantined."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.notify import auto_reply, base_context, queue_to_admins
from mailbot.cases.records import registry_for
from mailbot.domain.results import PollResult
from mailbot.domain.states import InboundStatus
from mailbot.intake.classify import automatic_reason
from mailbot.intake.parse import SPOOL_MIN_RUN, parse_message
from mailbot.intake.prefetch import (
    PREFETCH_MIN,
    Limits,
    Prefetcher,
    Prepared,
    parse_stored,
    prefetching,
)
from mailbot.intake.route import route
from mailbot.store.audit import add_event
from mailbot.store.db import scrub, transaction
from mailbot.store.models import Case, InboundMessage

log = logging.getLogger(__name__)


Route = Callable[..., None]  # route(s, app, row, mail, now, pdf_texts), mailbot.intake.route


def process_pending(app: App, now: datetime, result: PollResult, *, route: Route = route,
                    prefetch_min: int = PREFETCH_MIN, spool_min_run: int = SPOOL_MIN_RUN) -> None:
    """Process every committed-but-unprocessed message, one transaction each; failures are retried,
    then quarantined with the reason. One bad message never blocks the others.

    `route` dispatches one parsed message; a helper process prepares the backlog when at least
    `prefetch_min` messages wait; `spool_min_run` is parse_message's."""
    with transaction(app.factory) as s:
        pending = s.execute(select(InboundMessage.id, InboundMessage.raw_blob, InboundMessage.size,
                                   InboundMessage.kind).where(InboundMessage.status == "new")
                            .order_by(InboundMessage.id)).all()
        held_secrets = s.scalar(select(InboundMessage.id).where(InboundMessage.status == "new",
                                                                InboundMessage.secret.is_not(None)).limit(1))
    helper_rows = [(row_id, str(app.store.path(blob)), size) for row_id, blob, size, kind in pending
                   if kind != "too_large"]
    try:
        limits = replace(Limits.of(app.settings.limits), spool_min_run=spool_min_run)
        with prefetching(helper_rows, limits, str(app.store.root.parent), min_messages=prefetch_min) as helper:
            _process_ids(app, [row[0] for row in pending], now, result, helper, route=route, limits=limits)
            result.prefetched += helper.used if helper is not None else 0
    finally:
        app.store.clear_staging()
        if held_secrets is not None:
            scrub(app.engine)  # typed passwords were erased: leave no old page images behind


def _process_ids(app: App, ids: list[int], now: datetime, result: PollResult,
                 helper: Prefetcher | None = None, *, route: Route = route, limits: Limits | None = None) -> None:
    counted: int | None = None  # the row whose attempt the previous message's commit already counted
    for i, row_id in enumerate(ids):
        # Count the attempt before trying, so a message that kills the process (out of memory, a hang
        # ended by a watchdog, kill -9) is still quarantined after max_attempts restarts. In a backlog
        # the count rides on the previous message's commit; otherwise it has a transaction of its own.
        if counted != row_id:
            with transaction(app.factory) as s:
                row = s.get(InboundMessage, row_id)
                assert row is not None
                row.attempts += 1
                if row.attempts > app.settings.limits.max_attempts:
                    quarantine(s, app, row, f"processing did not finish in {row.attempts - 1} attempts "
                                            f"(last error: {row.reason or 'the process stopped'})", now)
                    row.secret = None
                    result.quarantined += 1
                    continue
        counted = None
        next_id = ids[i + 1] if i + 1 < len(ids) else None
        try:
            with transaction(app.factory) as s:
                row = s.get(InboundMessage, row_id)
                assert row is not None
                process_one(s, app, row, now, helper.take(row_id) if helper is not None else None,
                            route=route, limits=limits)
                row.secret = None  # whatever the route, a typed password is not kept past processing
                status = row.status
                counting = next_id if next_id is not None and _count_attempt(s, app, next_id) else None
            counted = counting
        except Exception as exc:  # noqa: BLE001 - any failure of one message is recorded, never fatal
            log.exception("message %d failed", row_id)
            status = _record_failure(app, row_id, f"{type(exc).__name__}: {exc}", now)
        result.processed += status == "processed"
        result.ignored += status in ("ignored", "not_a_request")  # recorded, no case change
        result.quarantined += status == "quarantined"


def _count_attempt(s: Session, app: App, row_id: int) -> bool:
    """Count the next message's attempt in this transaction, unless it is due for quarantine (that has
    its own transaction and alert) or no longer waiting."""
    row = s.get(InboundMessage, row_id)
    if row is None or row.status != "new" or row.attempts + 1 > app.settings.limits.max_attempts:
        return False
    row.attempts += 1
    return True


def process_one(s: Session, app: App, row: InboundMessage, now: datetime,
                prepared: Prepared | None = None, *, route: Route = route, limits: Limits | None = None) -> None:
    """Route one stored message; `prepared` is the helper process's parse of it, when it had one."""
    if row.kind == "too_large":
        reply_too_large(s, app, row, now)
        return
    if prepared is None:
        prepared = _parse_here(app, row, limits)
    if prepared.mail is None:
        row.kind = "unparseable"
        quarantine(s, app, row, f"parse error: {prepared.parse_error}", now)
        return
    route(s, app, row, prepared.mail, now, prepared.pdf_texts)


def _parse_here(app: App, row: InboundMessage, limits: Limits | None = None) -> Prepared:
    """What the helper process would have prepared, minus the PDF text (read later, when needed)."""
    return parse_stored(app.store.get(row.raw_blob), limits or Limits.of(app.settings.limits))


def _record_failure(app: App, row_id: int, reason: str, now: datetime) -> InboundStatus:
    with transaction(app.factory) as s:
        row = s.get(InboundMessage, row_id)
        assert row is not None
        row.reason = reason[:2000]
        if row.attempts >= app.settings.limits.max_attempts:
            quarantine(s, app, row, f"failed {row.attempts} times: {reason}", now)
            row.secret = None
        return row.status


def quarantine(s: Session, app: App, row: InboundMessage, reason: str, now: datetime) -> None:
    """Mark a message quarantined (the IMAP copy moves to the quarantine folder) and alert the admins."""
    row.status = InboundStatus.QUARANTINED
    row.reason = reason[:2000]
    add_event(s, s.get(Case, row.case_id) if row.case_id else None, "bot", "quarantined", now,
                message_id=row.id, detail=reason[:2000])
    ctx = base_context(app, now) | {"message_no": row.id, "sender": row.from_addr, "subject": row.subject,
                                      "received_at": row.received_at, "reason": reason}
    queue_to_admins(s, app, None, "quarantine_alert", ctx, (row.id, row.attempts), now)
    log.warning("message %d quarantined: %s", row.id, reason)


def reply_too_large(s: Session, app: App, row: InboundMessage, now: datetime) -> None:
    """A message over limits.max_message_bytes: kept on the server (quarantine), the sender told why."""
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
    # The subject is quoted back only to a sender in the registry by address: to anyone else (perhaps a
    # forged From) the office's mail carries none of the sender's words.
    verified = registry_for(s, mail.from_addr)[1]
    ctx = base_context(app, now) | {"size_mb": round(size / 1048576, 1), "limit_mb": round(limit / 1048576, 1),
                                      "original_subject": mail.subject if verified else None}
    auto_reply(s, app, None, "too_large", mail.from_addr, ctx, (row.id,), now,
               in_reply_to=mail.message_id, references=[mail.message_id] if mail.message_id else [])
