"""A review round: one code per admin, a proposed password, and the review_request mails."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.notify import case_context, queue_to_admins
from mailbot.domain.states import WANTS_PASSWORD
from mailbot.outgoing.compose import OutgoingAttachment
from mailbot.store.models import Case, ReviewCode

# The accepted types (documents.ACCEPTED_TYPES, not imported: listing commands must not load pypdf; a
# test keeps the two equal) and the MIME type each is attached under.
MIME_OF_ACCEPTED = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic"}
REVIEW_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


_EXTENSIONS = {"pdf": (".pdf",), "jpeg": (".jpg", ".jpeg"), "png": (".png",), "heic": (".heic", ".heif")}


def _safe_name(filename: str, file_type: str) -> str:
    """The file's name ending in the extension of the type it was sniffed as ("x.exe" → "x.exe.pdf"), so
    a mail client opens it as what it is."""
    name = filename or "dokumen"
    return name if name.lower().endswith(_EXTENSIONS[file_type]) else name + _EXTENSIONS[file_type][0]


def generate_password(length: int = 14) -> str:
    """SPSE-compatible temporary password: letters and digits, at least one of each class."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def new_review_code() -> str:
    raw = "".join(secrets.choice(REVIEW_ALPHABET) for _ in range(16))
    return "RV-" + "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def issue_review_codes(s: Session, app: App, case: Case, now: datetime) -> dict[str, str]:
    """Start a new review round: one fresh code per admin; older rounds' codes stop counting."""
    case.review_round += 1
    codes = {}
    for admin in app.settings.admins.emails:
        code = new_review_code()
        s.add(ReviewCode(code=code, case_id=case.id, round=case.review_round, admin_email=admin, created_at=now))
        codes[admin] = code
    return codes


def start_review(s: Session, app: App, case: Case, now: datetime, *, propose_password: bool) -> None:
    """New review round: one review_request per admin, with its own code and the documents attached;
    with `propose_password`, a temporary password is proposed unless one already is."""
    codes = issue_review_codes(s, app, case, now)
    if propose_password and not case.proposed_password:
        case.proposed_password = generate_password()
    password = case.proposed_password if case.request_type in WANTS_PASSWORD else None
    user_id = case.ppk.user_id if case.ppk is not None and case.ppk.user_id else None
    # Only files that passed sniffing as an accepted type ride along from the bot's trusted address, under
    # the type they were sniffed as; the rest (HTML forms, executables, macro documents) are listed by name.
    attach = [d for d in case.documents if d.usable and d.file_type in MIME_OF_ACCEPTED]
    documents = [{"filename": d.filename, "kinds": [app.kind_label(k) for k in d.kinds], "size": d.size,
                  "problem": d.problem, "needs_manual_check": d.needs_manual_check, "attached": d in attach}
                 for d in case.documents]
    attachments = [OutgoingAttachment(_safe_name(d.filename, d.file_type), MIME_OF_ACCEPTED[d.file_type], app.store.get(d.sha256))
                   for d in attach]
    findings = [{"ok": f.ok, "message": f.message} for f in case.findings]
    base = case_context(app, case, now, show_registry=True) | {
        "round": case.review_round, "findings": findings, "documents": documents,
        "proposed_password": password, "user_id": user_id}
    queue_to_admins(s, app, case, "review_request",
                    lambda admin: base | {"admin_email": admin, "review_code": codes[admin]},
                    (case.number, case.review_round), now, attachments=attachments,
                    contains_secret=password is not None)
