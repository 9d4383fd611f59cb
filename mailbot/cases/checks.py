"""Storing a request's files and checking the case: findings, completeness, the Decision that follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases import ocrcache
from mailbot.cases.documents import FileAnalysis, PdfTexts, analyse_file, sniff_type
from mailbot.cases.pdfworker import pdf_limits
from mailbot.cases.records import apply, registry_for, view
from mailbot.domain.findings import LETTER_KIND, TEXT_LAYER, CaseFacts, DocFacts, RegistryFacts, evaluate
from mailbot.domain.kinds import missing_kinds
from mailbot.domain.nip import nips_in
from mailbot.domain.states import OPEN_STATUSES, RequestType
from mailbot.domain.workflow import Decision, on_documents_checked
from mailbot.store.audit import add_event
from mailbot.store.models import Case, Document, Finding, InboundMessage, Ppk


# -- documents and checks --------------------------------------------------------------------
def store_documents(s: Session, app: App, case: Case, files: Sequence[tuple[str, str, bytes]],
                    now: datetime, message_id: int | None = None, prepared: PdfTexts | None = None) -> list[Document]:
    """Store each file content-addressed and record what it is; returns the new documents
    (`prepared`: PDF texts the helper process read ahead). A scan or photo, when OCR is available, is filled
    from its file's OCR result or waits for the OCR pass (cases/ocrjobs.py)."""
    out = []
    ocr = ocrcache.ocr_on(app.settings.ocr)
    limit = app.settings.limits.max_attachment_bytes
    for filename, content_type, data in files:
        sha = app.store.put(data)
        if len(data) > limit:
            analysis = FileAnalysis(sniff_type(data[:4096]), (), False,
                                         f"ukuran berkas melebihi batas {limit // (1024 * 1024)} MB", False, "")
        else:
            analysis = analyse_file(filename, data, app.kinds, sha, prepared, pdf_limits(app.settings.limits))
        doc = Document(case_id=case.id, message_id=message_id, filename=filename, content_type=content_type,
                       file_type=analysis.file_type, size=len(data), sha256=sha, kinds=list(analysis.kinds),
                       usable=analysis.usable, needs_manual_check=analysis.needs_manual_check,
                       problem=analysis.problem, text=analysis.text[:200_000], created_at=now,
                       text_source="text" if analysis.text.strip() else None)
        if analysis.needs_ocr and analysis.usable and ocr:
            doc.text_source = None
            ocrcache.attach(s, doc, app.kinds, now)
        s.add(doc)
        out.append(doc)
    s.flush()
    return out


@dataclass(frozen=True)
class CheckOutcome:
    complete: bool
    missing: list[str]  # labels
    unusable: list[dict[str, str]]  # {filename, reason}
    verified: bool = False  # the sender's address is in the registry


def _doc_facts(d: Document, confidence: float | None = None, low_confidence_words: Sequence[str] = ()) -> DocFacts:
    """A stored document as the rules see it: where its text came from (the OCR pass sets `text_source`
    "ocr"; a document with text and no source has a text layer) and, for OCR, its confidence and the
    words read with low confidence (from the file's OCR result)."""
    source = getattr(d, "text_source", None) or (TEXT_LAYER if (d.text or "").strip() else None)
    return DocFacts(d.filename, tuple(d.kinds), d.usable, d.needs_manual_check, d.problem, d.text or "",
                    source=source, confidence=confidence, low_confidence_words=tuple(low_confidence_words))


def _nips(body: str, docs: Sequence[DocFacts], today: date) -> list[str]:
    """The NIPs of the body and the documents' text layers, then the valid ones OCR read."""
    return nips_in([body] + [d.text for d in docs if not d.ocr], ocr_texts=[d.text for d in docs if d.ocr], today=today)


def check_case(s: Session, app: App, case: Case, body: str, now: datetime) -> CheckOutcome:
    """Run every rule, replace the case's findings, and say whether the file is complete."""
    documents = s.scalars(select(Document).where(Document.case_id == case.id)).all()
    today = now.astimezone(app.settings.tz).date()
    read = ocrcache.confidences(s, documents)
    facts_docs = tuple(_doc_facts(d, *read.get(d.sha256, (None, ()))) for d in documents)
    nips = _nips(body, facts_docs, today)
    ppk, by_sender = registry_for(s, case.sender, _nips(body, [d for d in facts_docs if LETTER_KIND in d.kinds], today))
    if ppk is None:  # the requester is who the mail or the letter names; else any NIP in the documents
        ppk, by_sender = registry_for(s, case.sender, nips)
    dups: tuple[str, ...] = ()
    if ppk is not None:
        dups = tuple(s.scalars(select(Case.number).where(Case.ppk_id == ppk.id, Case.id != case.id,
                                                         Case.status.in_(OPEN_STATUSES))))
    # The other registry entries whose NIPs the mail and documents carry (an SK naming another PPK).
    others = tuple(RegistryFacts(p.nama, p.nip, p.email, p.user_id) for p in s.scalars(
        select(Ppk).where(Ppk.nip.in_(nips), Ppk.id != (ppk.id if ppk else -1)).order_by(Ppk.id))) if nips else ()
    required = tuple((k.name, k.label) for k in app.kinds if k.required)
    facts = CaseFacts(
        sender=case.sender, request_type=case.request_type, body=body, documents=facts_docs,
        required=required,
        registry=RegistryFacts(ppk.nama, ppk.nip, ppk.email, ppk.user_id) if ppk else None,
        registry_by_sender=by_sender, open_duplicates=dups, today=today, others=others)
    results = evaluate(facts)
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
    missing = [k.label for k in missing_kinds(documents, app.kinds)]
    unusable = [{"filename": d.filename, "reason": d.problem or ""} for d in documents if not d.usable]
    return CheckOutcome(not missing, missing, unusable, verified=ppk is not None and by_sender)


def evaluate_and_apply(s: Session, app: App, case: Case, body: str, now: datetime, actor: str, *,
                       first_contact: bool, message_row: InboundMessage | None) -> Decision | None:
    """Check the case and apply what the workflow decides (ack, incomplete, a review round). While a file of
    the case waits for OCR nothing is decided (None): the OCR pass calls this again once all are read (an
    audit event says so; without a message, e.g. a walk-in, it keeps the text the checks are to use)."""
    if ocrcache.pending(s, case):
        add_event(s, case, actor, ocrcache.WAITING_EVENT, now, detail="" if message_row else body,
                  message_id=message_row.id if message_row else None)
        return None
    outcome = check_case(s, app, case, body, now)
    decision = on_documents_checked(view(s, case), outcome.complete, first_contact, outcome.missing)
    row_id = message_row.id if message_row else None
    # To a sender not in the registry by address (perhaps a forged From) the mail names none of the files
    # it got: a generic count, so the office never relays someone's chosen words to a third party.
    unusable = outcome.unusable if outcome.verified else []
    extra: dict[str, Any] = {"missing": outcome.missing, "unusable": unusable, "admin_note": None,
                             "unusable_count": 0 if outcome.verified else len(outcome.unusable),
                             "self_service_hint": case.request_type in (RequestType.RESET_PASSWORD, RequestType.BOTH)}
    apply(s, app, case, decision, "bot", now, key=f"m{row_id}" if row_id else f"t{now.timestamp():.0f}",
          extra=extra, message_id=row_id)
    return decision
