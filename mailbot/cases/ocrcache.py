"""OCR results by SHA-256 (table ocr_results): a document that needs OCR waits on its file's row (pending),
or is filled at once from a row already read; the pending gate of the checks."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases.documents import kinds_in, text_too_thin
from mailbot.cases.ocr import LIMIT_MEMORY, LIMIT_PAGES, LIMIT_PIXELS, LIMIT_TIME, UNREADABLE, ocr_available
from mailbot.config import OcrSettings
from mailbot.domain.kinds import DocumentKind
from mailbot.store.models import Case, Document, Event, OcrResult

PENDING, DONE, FAILED = "pending", "done", "failed"
WAITING_EVENT = "ocr_pending"  # the audit event of checks deferred until the case's files are read

_MANUAL = "Berkas perlu diperiksa manual: "
PROBLEMS: dict[str, str] = {
    LIMIT_TIME: _MANUAL + "OCR melebihi batas waktu.",
    LIMIT_MEMORY: _MANUAL + "OCR melebihi batas memori.",
    LIMIT_PAGES: _MANUAL + "OCR melebihi batas halaman.",
    LIMIT_PIXELS: _MANUAL + "gambar melebihi batas ukuran (piksel) untuk OCR.",
    UNREADABLE: _MANUAL + "gambar atau halaman tidak dapat dibuka untuk OCR.",
}
OTHER_PROBLEM = _MANUAL + "OCR tidak dapat dijalankan."
NOTHING_READ = "OCR tidak menemukan teks yang cukup; perlu diperiksa manual"


@functools.lru_cache(maxsize=8)
def ocr_on(settings: OcrSettings) -> bool:
    """Whether this process can OCR with these settings (checked once per settings)."""
    return ocr_available(settings)[0]


def attach(s: Session, doc: Document, kinds: Sequence[DocumentKind], now: datetime) -> None:
    """A document that needs OCR: filled from its file's result when that was read before (in any case),
    else it waits on the file's pending row (created here, once per file)."""
    row = s.get(OcrResult, doc.sha256)
    if row is None:
        s.add(OcrResult(sha256=doc.sha256, status=PENDING, text="", low_confidence_words=[], words=[], pages=0,
                        seconds=0.0, engine_version="", created_at=now))
        s.flush()  # the next file of the same message with the same bytes finds it
    elif row.status != PENDING:
        fill(doc, row, kinds)


def fill(doc: Document, row: OcrResult, kinds: Sequence[DocumentKind]) -> None:
    """Put what OCR read into the document: its text, the kinds recognised from it (the same rules as for a
    text layer, plus the file name), and whether a person must still look; a limit hit is that finding."""
    if row.status == DONE:
        thin = text_too_thin(row.text)
        doc.text = row.text[:200_000]
        doc.text_source = "ocr"
        doc.kinds = list(kinds_in(doc.filename, row.text, kinds))
        doc.needs_manual_check = thin
        doc.problem = NOTHING_READ if thin else None
    else:
        doc.needs_manual_check = True
        doc.problem = PROBLEMS.get(row.problem or "", OTHER_PROBLEM)


def pending(s: Session, case: Case) -> bool:
    """Whether a document of the case waits for OCR (then the checks take no decision)."""
    return s.scalar(select(Document.id).join(OcrResult, OcrResult.sha256 == Document.sha256)
                    .where(Document.case_id == case.id, Document.text_source.is_(None),
                           OcrResult.status == PENDING).limit(1)) is not None


def deferred_body(s: Session, case: Case) -> str:
    """The text the deferred checks of a case without a message were given (its latest WAITING_EVENT)."""
    return s.scalar(select(Event.detail).where(Event.case_id == case.id, Event.kind == WAITING_EVENT)
                    .order_by(Event.id.desc()).limit(1)) or ""


def confidences(s: Session, documents: Sequence[Document]) -> dict[str, tuple[float | None, tuple[str, ...]]]:
    """(mean confidence, low-confidence words) of the OCR-read files among `documents`, by SHA-256."""
    shas = {d.sha256 for d in documents if d.text_source == "ocr"}
    if not shas:
        return {}
    rows = s.execute(select(OcrResult.sha256, OcrResult.confidence, OcrResult.low_confidence_words)
                     .where(OcrResult.sha256.in_(shas)))
    return {sha: (conf, tuple(words or ())) for sha, conf, words in rows}
