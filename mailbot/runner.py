"""One poll pass: IMAP intake (commit, then process, then move), timers, and the outbox flush."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import time
from email.utils import getaddresses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from mailbot import cases as C
from mailbot.app import App
from mailbot.commands import parse_command, redact_raw_message
from mailbot.db import make_durable, scrub, transaction
from mailbot.documents import prepared_pdf_texts
from mailbot.intake import quarantine, route
from mailbot.mailbox import ImapMailbox, MailboxError
from mailbot.models import Case, CaseStatus, InboundMessage, MailboxState, Outbox
from mailbot.outbox import Sender, flush
from mailbot.parse import parse_message
from mailbot.prefetch import Limits, Prefetcher, Prepared, parse_stored, prefetching
from mailbot.workflow import on_credentials_accepted, on_timer

log = logging.getLogger(__name__)
_FROM_RE = re.compile(rb"^from:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.I | re.M)
MAX_PASSWORD = 128
_MSGID_RE = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]{1,900}>)", re.I | re.M)


MOVE_CHUNK = 1000  # UIDs per MOVE command: servers limit command length (Dovecot refuses ~10 000)


class AlreadyRunning(Exception):
    """Another mailbot process holds the instance lock for this database."""


@dataclass
class PollResult:
    fetched: int = 0
    processed: int = 0
    ignored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    moved: int = 0
    timers: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    prefetched: int = 0  # messages whose parsing and PDF reading a helper process did (mailbot.prefetch)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"fetched={self.fetched} processed={self.processed} ignored={self.ignored} "
                f"duplicates={self.duplicates} quarantined={self.quarantined} moved={self.moved} "
                f"timers={self.timers} sent={self.sent} retried={self.retried} failed={self.failed}"
                + (f" prefetched={self.prefetched}" if self.prefetched else "")
                + (f" errors={len(self.errors)}" if self.errors else ""))


# -- single instance -----------------------------------------------------------------------
@contextmanager
def instance_lock(app: App) -> Iterator[None]:
    """A file lock for SQLite, an advisory lock for PostgreSQL: one poller per database."""
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect() as conn:
            key = int.from_bytes(hashlib.sha256(b"mailbot:" + app.settings.imap.username.encode()).digest()[:8],
                                 "big", signed=True)
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise AlreadyRunning("another mailbot holds the PostgreSQL advisory lock")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    app.settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(app.settings.data_dir / "mailbot.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another mailbot holds {app.settings.data_dir / 'mailbot.lock'}") from None
        yield
    finally:
        os.close(fd)


# -- intake --------------------------------------------------------------------------------
def _store_new(app: App, folder: str, uidvalidity: int, uid: int, raw: bytes, now: datetime,
               reason: str = "") -> str:
    """Commit one message (raw kept) and advance the sync point, in one transaction.

    Never raises for a bad message: if the row cannot be written as it is, a quarantined placeholder
    keeping the raw bytes is written instead, so one message can never stall the mailbox."""
    try:
        return _store_rows(app, folder, uidvalidity, [(uid, raw, reason)], now)[0]
    except Exception as exc:  # noqa: BLE001 - e.g. a value the database refuses: keep the bytes, say why
        log.exception("message UID %d could not be stored as is", uid)
        return _store_rows(app, folder, uidvalidity, [(uid, raw, reason)], now,
                           failure=f"could not be stored: {type(exc).__name__}")[0]


def _describe(app: App, raw: bytes, failure: str = "") -> tuple[str, str | None, str, str | None, bytes]:
    """(SHA-256, Message-ID, sender, typed password, bytes to keep) of a fetched message."""
    sha = hashlib.sha256(raw).hexdigest()
    m = _MSGID_RE.search(raw[:65536])
    message_id = m.group(1).decode("ascii", "replace")[:900] if m else None
    sender = _from_address(raw)
    secret = None
    if sender in app.settings.admins.emails:
        # SPEC §5: an admin's Password: line (and the proposal quoted from the review email) never
        # reaches the disk; the typed value waits in `secret` until the decision is applied.
        secret = _typed_password(raw)
        if secret is not None and (len(secret) > MAX_PASSWORD or failure):
            secret = ""  # unusable: the decision is refused, the value is not kept
        raw = redact_raw_message(raw, [v for v in [secret, *_open_proposals(app)] if v])
    if failure:
        message_id, sender = None, ""  # a placeholder is matched with nothing
    return sha, message_id, sender, secret, raw


def _from_address(raw: bytes) -> str:
    """The From address, exactly as the header gives it (lowercased), or ""."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    m = _FROM_RE.search(head)
    if not m:
        return ""
    value = re.sub(r"\r?\n[ \t]", " ", m.group(1).decode("latin-1"))
    addresses = [a for _, a in getaddresses([value]) if "@" in a]
    return addresses[0].strip().lower() if len(addresses) == 1 else ""


def _open_proposals(app: App) -> list[str]:
    with transaction(app.factory) as s:
        return [p for p in s.scalars(select(Case.proposed_password).where(Case.proposed_password.is_not(None)))
                if p]


def _typed_password(raw: bytes) -> str | None:
    try:
        mail = parse_message(raw)
    except Exception:  # noqa: BLE001 - unreadable: nothing to keep; processing will quarantine it
        return None
    return parse_command(mail.text or "", mail.html).password


def fetch_new(app: App, mb: ImapMailbox, now: datetime, result: PollResult) -> tuple[str, int]:
    """Commit every message newer than the sync point; returns (folder, uidvalidity)."""
    imap = app.settings.imap
    folder = imap.folder
    st = mb.select(folder)
    with transaction(app.factory) as s:
        state = s.get(MailboxState, folder)
        if state is None or state.uidvalidity != st.uidvalidity:
            if state is not None:
                log.warning("UIDVALIDITY of %s changed (%s -> %s): resyncing; duplicates are recognised "
                            "by SHA-256", folder, state.uidvalidity, st.uidvalidity)
                s.delete(state)
                s.flush()
            state = MailboxState(folder=folder, uidvalidity=st.uidvalidity, last_uid=0, updated_at=now)
            s.add(state)
        last_uid = state.last_uid
    if st.uidnext and st.uidnext - 1 <= last_uid:
        return folder, st.uidvalidity  # nothing new: no SEARCH, no FETCH
    uids = mb.uids_after(last_uid)
    limit = app.settings.limits.max_message_bytes
    for i in range(0, len(uids), imap.batch_size):
        batch = uids[i:i + imap.batch_size]
        sizes = mb.sizes(batch)
        small = [u for u in batch if sizes.get(u, 0) <= limit]
        raws = mb.fetch_raw(small, sizes)
        heads = mb.fetch_headers([u for u in batch if u not in raws])
        items = [(uid, raws[uid], "") if uid in raws else
                 (uid, heads.get(uid, b""), f"message of {sizes.get(uid, 0)} bytes exceeds "
                                            f"limits.max_message_bytes ({limit})") for uid in batch]
        del raws, heads
        for status in _store_batch(app, folder, st.uidvalidity, items, now):
            result.fetched += status != "known"
            result.duplicates += status == "duplicate"
    return folder, st.uidvalidity


def _store_batch(app: App, folder: str, uidvalidity: int, items: list[tuple[int, bytes, str]],
                 now: datetime) -> list[str]:
    """Commit a batch of fetched messages ((uid, raw, too-large reason)) in one transaction, with one
    query each for known UIDs and duplicates; if anything in it fails, store them one by one instead
    (where one bad message becomes a quarantined placeholder and cannot stall the others)."""
    if len(items) > 1:
        try:
            return _store_rows(app, folder, uidvalidity, items, now)
        except Exception:  # noqa: BLE001 - nothing of the batch was committed: take the careful path
            log.warning("storing %d messages together failed; storing them one by one", len(items), exc_info=True)
    return [_store_new(app, folder, uidvalidity, uid, raw, now, reason) for uid, raw, reason in items]


def _store_rows(app: App, folder: str, uidvalidity: int, items: list[tuple[int, bytes, str]],
                now: datetime, failure: str = "") -> list[str]:
    """Commit messages ((uid, raw, too-large reason)) and the advanced sync point in one transaction;
    copies of stored messages (same bytes, or same Message-ID from the same sender) become `duplicate`.
    With `failure`, each is written as a quarantined placeholder keeping its bytes."""
    described = [(uid, reason, *_describe(app, raw, failure)) for uid, raw, reason in items]
    shas = {d[2] for d in described}
    ids = {(d[3], d[4]) for d in described if d[3] and d[4]}
    statuses: list[str] = []
    with transaction(app.factory) as s:
        state = s.get(MailboxState, folder)
        assert state is not None
        state.last_uid = max(state.last_uid, *(uid for uid, *_ in described))
        state.updated_at = now
        known = set(s.scalars(select(InboundMessage.uid).where(
            InboundMessage.mailbox == folder, InboundMessage.uidvalidity == uidvalidity,
            InboundMessage.uid.in_([uid for uid, *_ in described]))))
        by_sha: dict[str, int | InboundMessage] = {}
        for sha, row_id in s.execute(select(InboundMessage.sha256, func.min(InboundMessage.id))
                                     .where(InboundMessage.sha256.in_(shas)).group_by(InboundMessage.sha256)):
            by_sha[sha] = row_id
        by_id: dict[tuple[str, str], int | InboundMessage] = {}
        if ids:
            for message_id, sender, row_id in s.execute(
                    select(InboundMessage.message_id, InboundMessage.from_addr, func.min(InboundMessage.id))
                    .where(InboundMessage.message_id.in_({m for m, _ in ids}))
                    .group_by(InboundMessage.message_id, InboundMessage.from_addr)):
                by_id.setdefault((message_id, sender), row_id)
        for uid, reason, sha, message_id, sender, secret, raw in described:
            if uid in known:
                statuses.append("known")
                continue
            dup = by_sha.get(sha)
            if dup is None and message_id and sender:
                dup = by_id.get((message_id, sender))
            row = InboundMessage(mailbox=folder, uidvalidity=uidvalidity, uid=uid, sha256=sha, secret=secret,
                                 raw_blob=app.store.put(raw), size=len(raw), received_at=now,
                                 message_id=message_id, from_addr=sender)
            if failure:
                row.status, row.kind, row.reason = "quarantined", "unstorable", failure
            elif dup is not None:
                if isinstance(dup, InboundMessage):  # the first copy came in this same batch
                    s.flush()
                    dup = dup.id
                row.status, row.kind, row.reason = "duplicate", "duplicate", f"same message as #{dup}"
            elif reason:
                row.kind, row.reason = "too_large", reason
            s.add(row)
            known.add(uid)
            by_sha.setdefault(sha, row)
            if message_id and sender:
                by_id.setdefault((message_id, sender), row)
            statuses.append(row.status or "new")
    return statuses


def process_pending(app: App, now: datetime, result: PollResult) -> None:
    """Process every committed-but-unprocessed message, one transaction each; failures are retried,
    then quarantined with the reason. One bad message never blocks the others."""
    with transaction(app.factory) as s:
        pending = s.execute(select(InboundMessage.id, InboundMessage.raw_blob, InboundMessage.size,
                                   InboundMessage.kind).where(InboundMessage.status == "new")
                            .order_by(InboundMessage.id)).all()
        held_secrets = s.scalar(select(InboundMessage.id).where(InboundMessage.status == "new",
                                                                InboundMessage.secret.is_not(None)).limit(1))
    helper_rows = [(row_id, str(app.store.path(blob)), size) for row_id, blob, size, kind in pending
                   if kind != "too_large"]
    try:
        with prefetching(helper_rows, Limits.of(app.settings.limits), str(app.store.root.parent)) as helper:
            _process_ids(app, [row[0] for row in pending], now, result, helper)
            result.prefetched += helper.used if helper is not None else 0
    finally:
        app.store.clear_staging()
        if held_secrets is not None:
            scrub(app.engine)  # typed passwords were erased: leave no old page images behind


def _process_ids(app: App, ids: list[int], now: datetime, result: PollResult,
                 helper: Prefetcher | None = None) -> None:
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
                process_one(s, app, row, now, helper.take(row_id) if helper is not None else None)
                row.secret = None  # whatever the route, a typed password is not kept past processing
                status = row.status
                counting = next_id if next_id is not None and _count_attempt(s, app, next_id) else None
            counted = counting
        except Exception as exc:  # noqa: BLE001 - any failure of one message is recorded, never fatal
            log.exception("message %d failed", row_id)
            status = _record_failure(app, row_id, f"{type(exc).__name__}: {exc}", now)
        result.processed += status == "processed"
        result.ignored += status == "ignored"
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
                prepared: Prepared | None = None) -> None:
    """Route one stored message; `prepared` is the helper process's parse of it, when it had one."""
    if row.kind == "too_large":
        from mailbot.intake import reply_too_large

        reply_too_large(s, app, row, now)
        return
    if prepared is None:
        prepared = _parse_here(app, row)
    if prepared.mail is None:
        row.kind = "unparseable"
        quarantine(s, app, row, f"parse error: {prepared.parse_error}", now)
        return
    with prepared_pdf_texts(prepared.pdf_texts):
        route(s, app, row, prepared.mail, now)


def _parse_here(app: App, row: InboundMessage) -> Prepared:
    """What the helper process would have prepared, minus the PDF text (read later, when needed)."""
    return parse_stored(app.store.get(row.raw_blob), Limits.of(app.settings.limits))


def _record_failure(app: App, row_id: int, reason: str, now: datetime) -> str:
    with transaction(app.factory) as s:
        row = s.get(InboundMessage, row_id)
        assert row is not None
        row.reason = reason[:2000]
        if row.attempts >= app.settings.limits.max_attempts:
            quarantine(s, app, row, f"failed {row.attempts} times: {reason}", now)
            row.secret = None
        return row.status


def move_done(app: App, mb: ImapMailbox, folder: str, uidvalidity: int, result: PollResult) -> None:
    """Move committed messages out of the inbox: processed → processed_folder, quarantined → quarantine."""
    imap = app.settings.imap
    targets = {"processed": imap.processed_folder, "ignored": imap.processed_folder,
               "duplicate": imap.processed_folder, "quarantined": imap.quarantine_folder}
    with transaction(app.factory) as s:
        rows = s.execute(select(InboundMessage.id, InboundMessage.uid, InboundMessage.status).where(
            InboundMessage.mailbox == folder, InboundMessage.uidvalidity == uidvalidity,
            InboundMessage.moved.is_(False), InboundMessage.status.in_(list(targets)))).all()
    if rows:
        make_durable(app.engine)  # the server copy leaves the INBOX only once ours survives a power loss
    by_target: dict[str, list[tuple[int, int]]] = {}
    for row_id, uid, status in rows:
        by_target.setdefault(targets[status], []).append((row_id, uid))
    for target, items in by_target.items():
        mb.ensure_folder(target)
        mb.select(folder)
        for i in range(0, len(items), MOVE_CHUNK):
            chunk = items[i:i + MOVE_CHUNK]
            mb.move([uid for _, uid in chunk], target)
            with transaction(app.factory) as s:
                s.execute(update(InboundMessage).where(InboundMessage.id.in_([r for r, _ in chunk]))
                          .values(moved=True))
            result.moved += len(chunk)


# -- timers --------------------------------------------------------------------------------
def run_timers(app: App, now: datetime, result: PollResult) -> None:
    """Reminders and expiry as of `now`; each case in its own transaction, each mail keyed once."""
    with transaction(app.factory) as s:
        ids = s.scalars(select(Case.id).where(Case.status == CaseStatus.AWAITING_DOCUMENTS.value)).all()
    for case_id in ids:
        with transaction(app.factory) as s:
            case = s.get(Case, case_id)
            assert case is not None
            decision = on_timer(C.view(s, case), now, app.calendar, app.policy)
            if decision is None:
                continue
            from mailbot.intake import send_decision_mail

            missing = [app.kind_label(n) for n in _missing_kinds(s, app, case)]
            extra = {"missing": missing, "reminder_no": case.reminders_sent + 1,
                     "max_reminders": app.policy.max_reminders,
                     "expires_at": _expiry(app, case, now), "unusable": [], "admin_note": None}
            # The review round is part of the key: after LENGKAPI the reminders start again at 1.
            key = (f"r{case.review_round}-{case.reminders_sent + 1}" if decision.event == "remind"
                   else f"expired{case.review_round}")
            C.transition(s, app, case, decision, "bot", now)
            if decision.event == "remind":
                case.reminders_sent += 1
            send_decision_mail(s, app, case, decision, extra, key, now)
            result.timers += 1
    from mailbot.decisions import queue_admin_digest

    result.timers += queue_admin_digest(app, now)


def _missing_kinds(s: Session, app: App, case: Case) -> list[str]:
    have = {k for d in case.documents if d.usable for k in d.kinds}
    return [k.name for k in app.kinds if k.required and k.name not in have]


def _expiry(app: App, case: Case, now: datetime) -> datetime:
    p = app.policy
    remaining = max(0, p.max_reminders - case.reminders_sent - 1)
    return app.calendar.add_working_days(now, remaining * p.remind_after_working_days
                                         + p.expire_after_working_days)


# -- outbox --------------------------------------------------------------------------------
def _on_sent(app: App, now: datetime):  # type: ignore[no-untyped-def]
    def hook(s: Session, row: Outbox) -> None:
        if row.template != "credentials" or row.case_id is None:
            return
        case = s.get(Case, row.case_id)
        if case is None or case.status != CaseStatus.APPROVED.value:
            return
        case.proposed_password = None  # SPEC §5: erased once the SMTP server accepted the mail
        C.transition(s, app, case, on_credentials_accepted(C.view(s, case)), "bot", now,
                     detail="credentials accepted by the SMTP server")
    return hook


def _on_failed(app: App, now: datetime):  # type: ignore[no-untyped-def]
    def hook(s: Session, row: Outbox) -> None:
        from mailbot.decisions import report_delivery_failure

        report_delivery_failure(s, app, row, now)
    return hook


def flush_outbox(app: App, now: datetime, result: PollResult, sender: Sender | None = None) -> None:
    senders = [sender] if sender is not None else [app.smtp_sender() for _ in range(app.settings.smtp.connections)]
    r = flush(app.factory, senders, app.settings.smtp.from_address, now,
              max_attempts=app.settings.limits.smtp_max_attempts, on_sent=_on_sent(app, now),
              on_sent_templates=frozenset({"credentials"}),
              on_failed=_on_failed(app, now))
    result.sent += r.sent
    result.retried += r.retried
    result.failed += r.failed
    if r.secrets_erased:
        scrub(app.engine)


# -- the whole pass ------------------------------------------------------------------------
def poll_once(app: App, now: datetime | None = None, *, mailbox: ImapMailbox | None = None) -> PollResult:
    """Fetch+process+move, timers, flush. A failing part is logged and the others still run."""
    now = now or datetime.now(timezone.utc)
    result = PollResult()
    delay = 1.0
    for attempt in range(1, app.settings.imap.reconnect_attempts + 1):
        try:
            intake(app, now, result, mailbox)
            break
        except MailboxError as exc:
            if attempt == app.settings.imap.reconnect_attempts:
                log.error("IMAP intake failed: %s", exc)
                result.errors.append(str(exc))
                process_pending(app, now, result)  # messages committed earlier still get processed
                break
            # A restarting server or a dropped connection: what was committed stays committed, so a
            # reconnect simply carries on from the sync point.
            log.warning("IMAP intake failed (%s); reconnecting in %.0f s", exc, delay)
            time.sleep(delay)
            delay *= 2
        except Exception as exc:  # noqa: BLE001 - e.g. the database: timers and the outbox still run
            log.exception("intake failed")
            result.errors.append(f"intake: {type(exc).__name__}: {exc}")
            break
    run_timers(app, now, result)
    flush_outbox(app, now, result)
    log.info("poll: %s", result.summary())
    return result


def intake(app: App, now: datetime, result: PollResult, mailbox: ImapMailbox | None = None) -> None:
    own = mailbox is None
    mb = mailbox or app.mailbox()
    if own:
        mb.connect()
    try:
        folder, uidvalidity = fetch_new(app, mb, now, result)
        process_pending(app, now, result)
        move_done(app, mb, folder, uidvalidity, result)
    finally:
        if own:
            mb.close()
