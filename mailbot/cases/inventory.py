"""What the bot understood of a case's files, for the PPK's `incomplete` mail: each received file with
its kind (or "tidak dikenali", or why it could not be used), and the required kinds still missing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mailbot.app import App
from mailbot.domain.kinds import missing_kinds
from mailbot.store.models import Case, Document

UNIDENTIFIED = "tidak dikenali (jenis dokumen tidak dapat ditentukan)"


def understood(app: App, doc: Document) -> str:
    """One line: what the file was taken to be, or why it could not be used."""
    if not doc.usable:
        return "tidak dapat digunakan — " + (doc.problem or "berkas tidak dapat dibaca")
    if doc.kinds:
        return "; ".join(app.kind_label(k) for k in doc.kinds)
    return UNIDENTIFIED


def received_files(app: App, documents: Iterable[Document]) -> list[dict[str, str]]:
    """Every received file by name with what the bot understood it to be (for a verified sender only:
    file names are the sender's words)."""
    return [{"filename": d.filename, "understood": understood(app, d), "usable": "yes" if d.usable else ""}
            for d in documents]


def incomplete_context(app: App, case: Case, *, verified: bool, admin_note: str | None = None) -> dict[str, Any]:
    """The context of an `incomplete` mail for `case` as its files stand: what is really missing, and
    (to a sender verified by the registry) each received file, else only a count of unusable ones."""
    documents = list(case.documents)
    unusable = [{"filename": d.filename, "reason": d.problem or ""} for d in documents if not d.usable]
    return {"missing": [k.label for k in missing_kinds(documents, app.kinds)],
            "received": received_files(app, documents) if verified else [],
            "unusable": unusable if verified else [],
            "unusable_count": 0 if verified else len(unusable),
            "admin_note": admin_note}


def sender_verified(case: Case) -> bool:
    """The case's sender is the registry entry's own address (mail may name files back to it)."""
    return case.ppk is not None and case.ppk.email.lower() == case.sender.lower()
