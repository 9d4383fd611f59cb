"""Fetching new mail: each batch committed with its raw bytes and sync point, duplicates recognised, then moved."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from mailbot.app import App
from mailbot.domain.redaction import secret_digest
from mailbot.domain.results import PollResult
from mailbot.domain.states import InboundStatus
from mailbot.intake.mailbox import ImapMailbox, ImapParams
from mailbot.intake.prefetch import Limits, parse_stored
from mailbot.intake.redact import (
    MAX_PASSWORD,
    _from_address,
    maybe_admin,
    redact_raw_message,
    typed_password,
)
from mailbot.store.db import make_durable, transaction
from mailbot.store.issued import issued_digests
from mailbot.store.models import Case, InboundMessage, MailboxState

log = logging.getLogger(__name__)


_MSGID_RE = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]{1,900}>)", re.I | re.M)


MOVE_CHUNK = 1000  # UIDs per MOVE command: servers limit command length (Dovecot refuses ~10 000)


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


@dataclass(frozen=True)
class _Known:
    """The passwords redaction must recognise: open proposals (in clear) and issued ones (keyed hashes)."""

    proposals: list[str]
    is_issued: Callable[[str], bool] | None


def _known_secrets(app: App) -> _Known:
    with transaction(app.factory) as s:
        proposals = [p for p in s.scalars(select(Case.proposed_password).where(Case.proposed_password.is_not(None)))
                     if p]
        digests = issued_digests(s)
    key = app.secrets.key
    if key is None or not digests:
        return _Known(proposals, None)
    return _Known(proposals, lambda token: secret_digest(key, token) in digests)


def _describe(app: App, raw: bytes, failure: str = "",
              known: _Known | None = None) -> tuple[str, str | None, str, str | None, bytes]:
    """(SHA-256, Message-ID, sender, typed password, bytes to keep) of a fetched message."""
    sha = hashlib.sha256(raw).hexdigest()
    m = _MSGID_RE.search(raw[:65536])
    message_id = m.group(1).decode("ascii", "replace")[:900] if m else None
    sender = _from_address(raw)
    known = known or _known_secrets(app)
    # Parsed as processing will parse it, so the gate reads the same From as routing does.
    mail = parse_stored(raw, Limits.of(app.settings.limits)).mail
    secret = None
    if maybe_admin(mail, raw, app.settings.admins.emails):
        # SPEC §5: an admin's Password: line (and the proposal quoted from the review email) never
        # reaches the disk; the typed value waits in `secret` until the decision is applied.
        secret = typed_password(mail)
        if secret is not None and (len(secret) > MAX_PASSWORD or failure):
            secret = ""  # unusable: the decision is refused, the value is not kept
        raw = redact_raw_message(raw, [v for v in [secret, *known.proposals] if v], is_secret=known.is_issued)
    else:
        # Anyone else (a PPK's thank-you quoting the credentials mail): the bot's own password lines,
        # the open proposals and every password it ever sent are cut.
        raw = redact_raw_message(raw, known.proposals, bot_only=True, is_secret=known.is_issued)
    if failure:
        message_id, sender = None, ""  # a placeholder is matched with nothing
    return sha, message_id, sender, secret, raw


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
    recognised = _known_secrets(app)
    described = [(uid, reason, *_describe(app, raw, failure, recognised)) for uid, raw, reason in items]
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
                if message_id:
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
                row.status, row.kind, row.reason = InboundStatus.QUARANTINED, "unstorable", failure
            elif dup is not None:
                if isinstance(dup, InboundMessage):  # the first copy came in this same batch
                    s.flush()
                    dup = dup.id
                row.status, row.kind, row.reason = InboundStatus.DUPLICATE, "duplicate", f"same message as #{dup}"
            elif reason:
                row.kind, row.reason = "too_large", reason
            s.add(row)
            known.add(uid)
            by_sha.setdefault(sha, row)
            if message_id and sender:
                by_id.setdefault((message_id, sender), row)
            statuses.append(row.status or InboundStatus.NEW)
    return statuses


def move_done(app: App, mb: ImapMailbox, folder: str, uidvalidity: int, result: PollResult) -> None:
    """Move committed messages out of the inbox: processed → processed_folder, quarantined → quarantine."""
    imap = app.settings.imap
    targets = {InboundStatus.PROCESSED: imap.processed_folder, InboundStatus.IGNORED: imap.processed_folder,
               InboundStatus.DUPLICATE: imap.processed_folder, InboundStatus.QUARANTINED: imap.quarantine_folder}
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


def open_mailbox(app: App) -> ImapMailbox:
    """An (unconnected) mailbox for the configured IMAP account."""
    s = app.settings.imap
    password = app.secrets.imap_password
    if password is None:
        password = app.settings.imap_password()  # raises the one-line error naming imap.password_env
    token = app.oauth.access_token if app.oauth is not None and s.auth == "oauth2" else None
    return ImapMailbox(ImapParams(s.host, s.port, s.security, s.username, password,
                                  float(s.timeout_seconds), app.verify_tls, s.ca_file, token=token))
