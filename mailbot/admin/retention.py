"""Retention (UU 27/2022 PDP, SPEC §6): `[storage] retention_days` after a case is closed, its personal data
goes — raw mails and document files deleted (unless another case or message still needs the same bytes),
extracted text blanked, outgoing mail reduced to its headers — while the case row, its events and its SLA
records stay, so registers and monthly reports still add up. Unlinked messages (ignored, quarantined, not a
request) older than the same period lose their raw copy too. `purge(app, now)` is the daily job; with
`dry_run` it only says what would go."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.domain.states import CLOSED, InboundStatus
from mailbot.outgoing.compose import headers_only
from mailbot.store.audit import add_event
from mailbot.store.db import scrub
from mailbot.store.models import Case, Document, InboundMessage, OcrResult, Outbox

log = logging.getLogger(__name__)

ACTOR = "retention"
PURGED_BODY = ("[Isi email ini telah dihapus sesuai masa retensi data pribadi (UU 27/2022). "
               "Hanya header yang disimpan.]")


@dataclass
class PurgedCase:
    number: str
    closed_at: datetime
    messages: int
    documents: int


@dataclass
class PurgedMessage:
    id: int
    status: str
    received_at: datetime


@dataclass
class PurgeResult:
    retention_days: int
    dry_run: bool
    cases: list[PurgedCase] = field(default_factory=list)
    messages: list[PurgedMessage] = field(default_factory=list)
    files: int = 0  # blob files deleted (or that would be)
    bytes: int = 0

    def lines(self) -> list[str]:
        """What went (or would go), a line per case and message, then the summary line."""
        if self.retention_days == 0:
            return ["retention is off (storage.retention_days = 0): nothing purged"]
        verb = "would purge" if self.dry_run else "purged"
        out = [f"{verb} {c.number} (closed {c.closed_at:%Y-%m-%d}): {c.messages} mail(s), "
               f"{c.documents} document(s)" for c in self.cases]
        out += [f"{verb} message #{m.id} ({m.status}, received {m.received_at:%Y-%m-%d}): raw mail"
                for m in self.messages]
        out.append(self.summary())
        return out

    def summary(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        return (f"retention {self.retention_days} days: {verb} {len(self.cases)} case(s) and "
                f"{len(self.messages)} unlinked message(s); {self.files} file(s), {self.bytes} bytes")


def _still_referenced(s: Session, digests: set[str]) -> set[str]:
    """The digests that a row not purged still needs (the rows being purged are already marked)."""
    if not digests:
        return set()
    keep = set(s.scalars(select(InboundMessage.raw_blob).where(InboundMessage.raw_blob.in_(digests),
                                                             InboundMessage.purged_at.is_(None))))
    keep |= set(s.scalars(select(Document.sha256).join(Case, Document.case_id == Case.id)
                          .where(Document.sha256.in_(digests), Case.purged_at.is_(None))))
    return keep


def _purge_case(s: Session, case: Case, now: datetime, days: int) -> tuple[PurgedCase, set[str]]:
    messages = list(s.scalars(select(InboundMessage).where(InboundMessage.case_id == case.id)))
    digests = {m.raw_blob for m in messages} | {d.sha256 for d in case.documents}
    for m in messages:
        m.purged_at, m.secret = now, None
    for d in case.documents:
        d.text = ""
    for o in s.scalars(select(Outbox).where(Outbox.case_id == case.id)):
        o.raw = headers_only(o.raw, PURGED_BODY)
    case.purged_at, case.proposed_password = now, None
    add_event(s, case, ACTOR, "purged", now,
              detail=f"{len(messages)} mail(s) and {len(case.documents)} document(s) deleted, {days} days after "
                     f"closing (storage.retention_days)")
    closed = case.closed_at or case.status_since
    return PurgedCase(case.number, closed, len(messages), len(case.documents)), digests


def purge(app: App, now: datetime, *, dry_run: bool = False) -> PurgeResult:
    """Purge what is past `[storage] retention_days` as of `now` (idempotent: what is purged is skipped);
    with `dry_run` nothing changes. The files go before the commit: a crash in between leaves rows that
    the next run purges again, never personal data on disk that no row points to."""
    days = app.settings.retention_days
    result = PurgeResult(days, dry_run)
    if days == 0:
        return result
    cutoff = now - timedelta(days=days)
    with app.factory() as s:
        digests: set[str] = set()
        cases = s.scalars(select(Case).where(Case.status.in_(sorted(CLOSED)), Case.purged_at.is_(None),
                                             func.coalesce(Case.closed_at, Case.status_since) < cutoff)
                          .order_by(Case.id)).all()
        for case in cases:
            done, blobs = _purge_case(s, case, now, days)
            result.cases.append(done)
            digests |= blobs
        unlinked = s.scalars(select(InboundMessage).where(InboundMessage.case_id.is_(None),
                                                          InboundMessage.status != InboundStatus.NEW,
                                                          InboundMessage.purged_at.is_(None),
                                                          InboundMessage.received_at < cutoff)
                             .order_by(InboundMessage.id)).all()
        for m in unlinked:
            m.purged_at, m.secret = now, None
            add_event(s, None, ACTOR, "purged", now, message_id=m.id,
                      detail=f"raw mail ({m.status}) deleted {days} days after it arrived (storage.retention_days)")
            result.messages.append(PurgedMessage(m.id, str(m.status), m.received_at))
            digests.add(m.raw_blob)
        s.flush()
        doomed = sorted(digests - _still_referenced(s, digests))
        for digest in doomed:
            path = app.store.path(digest)
            if path.exists():
                result.files += 1
                result.bytes += path.stat().st_size
        if dry_run:
            s.rollback()
            return result
        if doomed:  # what OCR read from those files is personal data too
            s.execute(delete(OcrResult).where(OcrResult.sha256.in_(doomed)))
        for digest in doomed:
            app.store.path(digest).unlink(missing_ok=True)
        s.commit()
    if result.cases or result.messages:
        scrub(app.engine)  # the blanked texts leave the SQLite WAL too
    log.info(result.summary())  # the daily job's one line of counts
    return result
