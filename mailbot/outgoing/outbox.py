"""The outbox: mail queued in the caller's transaction, flushed with retries, secrets erased once sent."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailbot.domain.states import OutboxStatus
from mailbot.outgoing.compose import Outgoing, build_raw, headers_only, make_message_id
from mailbot.outgoing.smtp import PermanentFailure, Sender, TemporaryFailure
from mailbot.store.db import transaction
from mailbot.store.models import Outbox

log = logging.getLogger(__name__)

SECRET_PLACEHOLDER = (
    "Isi surat ini memuat kata sandi dan telah dihapus dari basis data setelah diterima server SMTP.\n"
)


def mail_key(template: str, *parts: object) -> str:
    """The idempotency key of an outbox row: the template and what makes this mail unique, joined by ':'.
    Queueing the same key twice is a no-op, so every mail is queued at most once per key."""
    return ":".join([template, *(str(p) for p in parts)])


def mark_bounced(row: Outbox, reason: str) -> bool:
    """A bounce says the mail never arrived: the row becomes failed; False when it already was."""
    if row.status == OutboxStatus.FAILED:
        return False
    row.status = OutboxStatus.FAILED
    row.last_error = f"bounced: {reason}"[:2000]
    return True


@dataclass(frozen=True)
class OutboxIdentity:
    from_address: str
    from_name: str
    secret: bytes

    @property
    def domain(self) -> str:
        """Our Message-ID domain: a subdomain no person's mail client uses, so own mail is recognisable."""
        return "mailbot." + self.from_address.rsplit("@", 1)[-1]


def enqueue(session: Session, ident: OutboxIdentity, out: Outgoing, *, key: str, now: datetime,
            case_id: int | None = None, contains_secret: bool = False) -> int | None:
    """Add one mail to the outbox in the caller's transaction; returns its row id, or None when the key
    was queued before (a repeated key is a no-op)."""
    # Every Outbox row is inserted at once (below), so the check needs no autoflush of the caller's
    # other pending changes; the insert flushes them.
    with session.no_autoflush:
        existing = session.scalar(select(Outbox.id).where(Outbox.idempotency_key == key))
    if existing is not None:
        return None
    message_id = make_message_id(ident.secret, key, out.case_number, ident.domain)
    subject, raw = build_raw(out, from_address=ident.from_address, from_name=ident.from_name,
                             message_id=message_id, date=now)
    # A plain INSERT, not an ORM object: nothing reads the row back in this transaction, and the unit
    # of work costs more than the statement on every request's path.
    return session.scalar(insert(Outbox).values(
        idempotency_key=key, case_id=case_id, template=out.template, recipients=list(out.to),
        message_id=message_id, subject=subject, raw=raw, contains_secret=contains_secret, status=OutboxStatus.PENDING,
        attempts=0, last_error="", next_attempt_at=now, created_at=now).returning(Outbox.id))


def due_now(session: Session, template: str, now: datetime) -> int:
    """Pending mail of `template` waiting for a retry becomes due now (e.g. an ops_alert whose problem
    is over goes out before its recovery mail, not after); how many rows."""
    result = session.execute(update(Outbox).where(Outbox.template == template, Outbox.status == OutboxStatus.PENDING,
                                                  Outbox.next_attempt_at > now)
                             .values(next_attempt_at=now), execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0))


@dataclass
class FlushResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    failed_rows: list[int] | None = None
    secrets_erased: int = 0
    reconciled: int = 0
    smtp_error: str = ""  # the SMTP server could not be reached (or refused the login): why


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes, capped at one hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def _erase_secret(raw: bytes) -> bytes:
    """A sent (or never deliverable) mail that carried a password: its identifying headers, no body."""
    return headers_only(raw, SECRET_PLACEHOLDER)


def flush(factory: sessionmaker[Session], sender: Sender | Sequence[Sender], from_address: str, now: datetime,
          max_attempts: int = 8, on_sent: Callable[[Session, Outbox], None] | None = None,
          on_sent_templates: frozenset[str] | None = None,
          on_failed: Callable[[Session, Outbox], None] | None = None,
          limit: int = 500) -> FlushResult:
    """Send due rows. Each row: mark `sending` and commit, send, then mark `sent` in a later commit.

    With several senders (one SMTP connection each, `smtp.connections`), that many mails are on the
    wire at once, once the first one of the flush has gone through (so an unreachable server costs one
    attempt, as with one connection). The database work stays in the calling thread.

    A crash between SMTP acceptance and the recording commit leaves the row in `sending`; the next
    flush resends it with the same Message-ID (receivers collapse duplicates by Message-ID). This
    is the only window where a duplicate is possible: one SMTP round-trip wide, for each connection.
    """
    senders = [sender] if not isinstance(sender, Sequence) else list(sender)
    result = FlushResult(failed_rows=[])
    with transaction(factory) as s:
        for row in s.scalars(select(Outbox).where(Outbox.status == OutboxStatus.SENDING)):
            # Left by a process that died mid-send: the server may or may not have accepted it.
            # Resend (same Message-ID) rather than risk losing it, and say so in the log.
            result.reconciled += 1
            log.warning("outbox %d (%s) was being sent when the process stopped; resending with the "
                        "same Message-ID %s", row.id, row.template, row.message_id)
    pool = ThreadPoolExecutor(max_workers=len(senders), thread_name_prefix="mailbot-smtp") \
        if len(senders) > 1 else None
    try:
        while True:
            sent_before = result.sent + result.retried + result.failed
            more = _flush_batch(factory, _Wire(senders, pool, from_address), now, max_attempts,
                                _SentHook(on_sent, on_sent_templates), on_failed, limit, result)
            if not more or result.sent + result.retried + result.failed == sent_before:
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        for one in senders:
            one.close()
    return result


class _Wire:
    """Hands mails to idle senders: in the calling thread with one sender, in a thread pool with more."""

    def __init__(self, senders: list[Sender], pool: ThreadPoolExecutor | None, from_address: str) -> None:
        self.idle: queue.SimpleQueue[Sender] = queue.SimpleQueue()
        for one in senders:
            self.idle.put(one)
        self.width = len(senders)
        self.pool = pool
        self.from_address = from_address

    def _send(self, recipients: list[str], raw: bytes) -> Exception | None:
        one = self.idle.get()
        try:
            one.send(self.from_address, recipients, raw)
            return None
        except (TemporaryFailure, PermanentFailure) as exc:
            return exc
        finally:
            self.idle.put(one)

    def submit(self, recipients: list[str], raw: bytes) -> Future[Exception | None]:
        if self.pool is not None:
            return self.pool.submit(self._send, recipients, raw)
        done: Future[Exception | None] = Future()
        done.set_result(self._send(recipients, raw))
        return done


def _flush_batch(factory: sessionmaker[Session], wire: _Wire, now: datetime, max_attempts: int,
                 on_sent: _SentHook, on_failed: Callable[[Session, Outbox], None] | None, limit: int,
                 result: FlushResult) -> bool:
    """One batch of due rows; True when the batch was full and SMTP is reachable (look for more)."""
    with transaction(factory) as s:
        due = s.scalars(select(Outbox.id).where(Outbox.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
                                                 Outbox.next_attempt_at <= now)
                        .order_by(Outbox.id).limit(limit)).all()
    # Sent rows are recorded in the transaction that marks the next row `sending`: one commit per mail,
    # and the crash window (accepted by SMTP, not yet recorded) stays as narrow as the sending itself.
    sent_rows: list[tuple[int, str, bool]] = []  # (id, template, contains_secret)
    in_flight: dict[Future[Exception | None], tuple[int, str, bool, frozenset[str]]] = {}
    unreachable = False

    def settle(futures: Iterable[Future[Exception | None]]) -> None:
        nonlocal unreachable
        for future in futures:
            row_id, template, contains_secret, to = in_flight.pop(future)
            exc = future.result()
            if exc is None:
                sent_rows.append((row_id, template, contains_secret))
                result.sent += 1
                log.info("sent %s to %d recipient(s) (outbox %d)", template, len(to), row_id)
            elif isinstance(exc, TemporaryFailure):
                _after_failure(factory, row_id, str(exc), now, max_attempts, on_failed, result)
                unreachable = unreachable or exc.connection
                if exc.connection:
                    result.smtp_error = str(exc)
            else:
                _after_failure(factory, row_id, str(exc), now, 0, on_failed, result)

    def record(s: Session) -> None:
        for row in sent_rows:
            _record_sent(s, *row, now, on_sent, result)

    try:
        for row_id in due:
            # One mail at a time until one has gone through, then as many as there are connections.
            width = wire.width if result.sent else 1
            while in_flight and (len(in_flight) >= width or unreachable):
                settle(wait(in_flight, return_when=FIRST_COMPLETED)[0])
            if unreachable:
                break
            with transaction(factory) as s:
                record(s)
                # One statement, no ORM object: the outbox flush is on every request's path.
                picked = s.execute(
                    update(Outbox).where(Outbox.id == row_id, Outbox.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
                    .values(status=OutboxStatus.SENDING, attempts=Outbox.attempts + 1)
                    .returning(Outbox.recipients, Outbox.template, Outbox.contains_secret),
                    execution_options={"synchronize_session": False}).first()
                # Read separately: SQLite buffers RETURNING values, which would be one more copy of a
                # large mail.
                raw = s.scalar(select(Outbox.raw).where(Outbox.id == row_id)) if picked is not None else None
            sent_rows.clear()
            if picked is None or raw is None:
                continue
            recipients, template, contains_secret = list(picked[0]), picked[1], picked[2]
            # Mail to one person arrives in the order it was queued: wait for any still on the wire to them.
            waiting_for = {f for f, (_, _, _, to) in in_flight.items() if to & set(recipients)}
            if waiting_for:
                settle(wait(waiting_for)[0])
            future = wire.submit(recipients, raw)
            del picked, raw  # only the sender holds the mail now
            in_flight[future] = (row_id, template, contains_secret, frozenset(recipients))
        while in_flight:
            settle(wait(in_flight, return_when=FIRST_COMPLETED)[0])
    finally:
        if in_flight:  # an exception ends the loop: whatever is on the wire still gets its outcome
            settle(wait(in_flight)[0])
        if sent_rows:
            with transaction(factory) as s:
                record(s)
    if unreachable:
        log.warning("SMTP unreachable: the remaining mail waits for the next flush")
        return False
    return len(due) == limit


@dataclass(frozen=True)
class _SentHook:
    """What to call once a row is sent; `templates` limits it to rows of those templates (None: all)."""

    call: Callable[[Session, Outbox], None] | None
    templates: frozenset[str] | None

    def wants(self, template: str) -> bool:
        return self.call is not None and (self.templates is None or template in self.templates)


def _record_sent(s: Session, row_id: int, template: str, contains_secret: bool, now: datetime,
                 on_sent: _SentHook, result: FlushResult) -> None:
    if not contains_secret and not on_sent.wants(template):
        s.execute(update(Outbox).where(Outbox.id == row_id).values(status=OutboxStatus.SENT, sent_at=now, last_error=""),
                  execution_options={"synchronize_session": False})
        return
    row = s.get(Outbox, row_id)
    assert row is not None
    row.status = OutboxStatus.SENT
    row.sent_at = now
    row.last_error = ""
    if row.contains_secret:
        row.raw = _erase_secret(row.raw)
        result.secrets_erased += 1
    if on_sent.wants(template) and on_sent.call is not None:
        on_sent.call(s, row)


def _after_failure(factory: sessionmaker[Session], row_id: int, error: str, now: datetime,
                   max_attempts: int, on_failed: Callable[[Session, Outbox], None] | None,
                   result: FlushResult) -> None:
    with transaction(factory) as s:
        row = s.get(Outbox, row_id)
        assert row is not None
        row.last_error = error[:2000]
        if row.attempts >= max_attempts:
            row.status = OutboxStatus.FAILED
            if row.contains_secret:
                row.raw = _erase_secret(row.raw)  # never delivered: the password must not stay behind
                result.secrets_erased += 1
            result.failed += 1
            assert result.failed_rows is not None
            result.failed_rows.append(row_id)
            log.error("outbox %d (%s) failed permanently: %s", row_id, row.template, error)
            if on_failed is not None:
                on_failed(s, row)
        else:
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = now + backoff(row.attempts)
            result.retried += 1
            log.warning("outbox %d (%s) will be retried: %s", row_id, row.template, error)
