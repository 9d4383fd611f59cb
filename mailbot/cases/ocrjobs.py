"""The OCR pass: read the files waiting for OCR in the worker pool, store each result by SHA-256, fill the
documents, and check each case whose files are now all read (the Decision the checks did not take while it
waited) — one transaction per file read, with the cases it completes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from mailbot import metrics
from mailbot.app import App
from mailbot.cases import ocrcache
from mailbot.cases.checks import evaluate_and_apply
from mailbot.cases.ocr import UNAVAILABLE, UNREADABLE, OcrOutcome, engine_version
from mailbot.cases.ocrpool import shared_pool
from mailbot.domain.results import PollResult
from mailbot.domain.states import CaseStatus
from mailbot.store.db import transaction
from mailbot.store.models import Case, Document, InboundMessage, OcrResult

log = logging.getLogger(__name__)

# The text of the message that brought a case's files (its body, for the checks); the runner gives the one
# that parses the stored copy (the cases layer does not parse mail).
BodyOf = Callable[[App, InboundMessage], str]
WAITING = (CaseStatus.RECEIVED, CaseStatus.AWAITING_DOCUMENTS, CaseStatus.AWAITING_REVIEW)


@dataclass
class OcrCounts:
    read: int = 0  # files read
    failed: int = 0  # files not read (a limit, unreadable): manual checks
    cases: int = 0  # cases checked because their files were all read

    def __bool__(self) -> bool:
        return bool(self.read or self.failed or self.cases)


def run_ocr(app: App, now: datetime, result: PollResult | None = None, body_of: BodyOf | None = None) -> OcrCounts:
    """Read every pending file (in batches that keep all workers busy) and carry out what follows."""
    counts = OcrCounts()
    settings = app.settings.ocr
    if not ocrcache.ocr_on(settings):
        _give_up(app, now, counts, body_of)  # files left pending when OCR was available: manual checks now
        return counts
    pool = shared_pool(settings)
    tried: set[str] = set()
    while True:
        with transaction(app.factory) as s:
            rows = s.execute(select(OcrResult.sha256, Document.file_type)
                             .join(Document, Document.sha256 == OcrResult.sha256)
                             .where(OcrResult.status == ocrcache.PENDING)
                             .order_by(OcrResult.created_at, OcrResult.sha256)).all()
        todo: dict[str, str] = {}
        for sha, file_type in rows:
            if sha not in tried and sha not in todo:
                todo[sha] = file_type
            if len(todo) >= 2 * settings.workers:
                break
        if not todo:
            break
        tried.update(todo)
        jobs = []
        outcomes: dict[str, OcrOutcome] = {}
        for sha, file_type in todo.items():
            try:
                jobs.append((sha, app.store.get(sha), file_type))
            except OSError as exc:
                log.error("OCR: blob %s unreadable: %s", sha, exc)
                outcomes[sha] = OcrOutcome(problem=UNREADABLE)
        outcomes.update(pool.read(jobs))
        for sha, outcome in outcomes.items():
            try:
                _store(app, sha, outcome, now, body_of, counts)
            except Exception as exc:  # noqa: BLE001 - the next file and the poll go on; it is retried next pass
                log.exception("OCR result of %s not stored", sha)
                if result is not None:
                    result.errors.append(f"ocr: {type(exc).__name__}: {exc}")
    if result is not None:
        result.ocr += counts.read + counts.failed
    if counts:
        log.info("OCR: %d file(s) read, %d not, %d case(s) checked", counts.read, counts.failed, counts.cases)
    return counts


def _store(app: App, sha: str, outcome: OcrOutcome, now: datetime, body_of: BodyOf | None,
           counts: OcrCounts) -> None:
    with transaction(app.factory) as s:
        row = s.get(OcrResult, sha)
        if row is None or row.status != ocrcache.PENDING:
            return
        row.status = ocrcache.FAILED if outcome.problem else ocrcache.DONE
        row.text = outcome.text
        row.confidence = outcome.confidence
        row.words = [[w, c] for w, c in outcome.words]
        row.low_confidence_words = list(outcome.low_confidence_words)
        row.pages, row.seconds, row.problem = outcome.pages, outcome.seconds, outcome.problem
        metrics.observe_ocr_seconds(outcome.seconds)
        row.engine_version = _version()
        row.done_at = now
        if outcome.problem:
            counts.failed += 1
            log.warning("OCR of %s not done: %s", sha[:12], outcome.problem)
        else:
            counts.read += 1
        docs = s.scalars(select(Document).where(Document.sha256 == sha, Document.text_source.is_(None))
                         .order_by(Document.id)).all()
        for doc in docs:
            ocrcache.fill(doc, row, app.kinds)
        s.flush()
        for case_id in sorted({d.case_id for d in docs}):
            case = s.get(Case, case_id)
            if case is None or case.status not in WAITING or ocrcache.pending(s, case):
                continue
            message_ids = [d.message_id for d in docs if d.case_id == case_id and d.message_id is not None]
            message = s.get(InboundMessage, max(message_ids)) if message_ids else None
            if message is None:
                body = ocrcache.deferred_body(s, case)
            else:
                body = body_of(app, message) if body_of is not None else ""
            evaluate_and_apply(s, app, case, body, now, f"ppk:{case.sender}",
                               first_contact=case.status == CaseStatus.RECEIVED, message_row=message,
                               vouched=case.channel == "hardcopy" and case.status == CaseStatus.RECEIVED)
            counts.cases += 1


def _give_up(app: App, now: datetime, counts: OcrCounts, body_of: BodyOf | None) -> None:
    """OCR is unavailable now: each pending file becomes a manual check and its cases are checked."""
    with transaction(app.factory) as s:
        shas = list(s.scalars(select(OcrResult.sha256).where(OcrResult.status == ocrcache.PENDING)))
    for sha in shas:
        _store(app, sha, OcrOutcome(problem=UNAVAILABLE), now, body_of, counts)


_engine_version: str | None = None


def _version() -> str:
    global _engine_version
    if _engine_version is None:
        try:
            _engine_version = engine_version()
        except ImportError:
            _engine_version = "unavailable"
    return _engine_version
