"""SOP step 9: one case as a ZIP with a SHA-256 manifest, never holding a password."""

from __future__ import annotations

import email
import getpass
import hashlib
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.records import by_number
from mailbot.domain.errors import MailbotError
from mailbot.domain.redaction import contains_digest, secret_digest
from mailbot.domain.states import CLOSED, OutboxStatus
from mailbot.domain.text import sanitize_filename
from mailbot.outgoing.compose import headers_only
from mailbot.store.audit import add_event
from mailbot.store.db import transaction
from mailbot.store.issued import issued_digests
from mailbot.store.models import Case, Event, InboundMessage, Outbox, SlaRecord

REDACTED_BODY = ("[Isi email ini tidak diarsipkan karena memuat kata sandi (SPEC §5). "
                 "Hanya header yang disimpan.]")
_SAFE_PART = re.compile(r"[^A-Za-z0-9._-]+")


class ArchiveError(MailbotError):
    """The archive cannot be written; str() says why and what to do."""


class CaseNotFound(ArchiveError):
    pass


@dataclass(frozen=True)
class _Member:
    name: str
    data: bytes


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _slug(text: str, fallback: str) -> str:
    """An ASCII token for generated member names (case number, template, kind)."""
    out = _SAFE_PART.sub("-", text or "").strip("-.")[:60]
    return out or fallback


def safe_member_name(name: str, taken: set[str]) -> str:
    """A sanitised file name that is a single path component and not yet in `taken` (case-insensitive);
    duplicates become `name (2).ext`, `name (3).ext`, … The chosen name is added to `taken`."""
    clean = sanitize_filename(name, "dokumen")
    # sanitize_filename already keeps only the last path component; be strict anyway for zip members.
    clean = clean.replace("/", "_").replace("\\", "_").replace("\x00", "")
    if clean in ("", ".", ".."):
        clean = "dokumen"
    stem, dot, ext = clean.rpartition(".")
    if not dot or not stem:
        stem, ext, dot = clean, "", ""
    candidate, n = clean, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate.lower())
    return candidate


def _case_metadata(case: Case) -> dict[str, Any]:
    return {
        "number": case.number, "status": case.status, "request_type": case.request_type,
        "channel": case.channel, "sender": case.sender, "sender_name": case.sender_name,
        "subject": case.subject, "created_at": _iso(case.created_at), "closed_at": _iso(case.closed_at),
        "archived_at": _iso(case.archived_at), "review_round": case.review_round,
        "reminders_sent": case.reminders_sent, "decided_by": case.decided_by,
        "decision_note": case.decision_note,
        "ppk": case.ppk.as_dict() if case.ppk else None,
    }


def _json(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _events_text(app: App, case: Case, events: list[Event]) -> bytes:
    tz = app.settings.tz
    lines = [f"Jejak audit perkara {case.number} (waktu {app.settings.office.timezone})", ""]
    for e in events:
        at = e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        move = f" {e.from_status or '-'} -> {e.to_status}" if e.to_status else ""
        detail = " ".join((e.detail or "").split())
        lines.append(f"{at}  {e.actor}  {e.kind}{move}" + (f"  | {detail}" if detail else ""))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _collect(s: Session, app: App, case: Case, now: datetime) -> list[_Member]:
    """Every member except the manifest, in a stable order."""
    root = _slug(case.number, "case")
    members: list[_Member] = [_Member(f"{root}/case.json", _json(_case_metadata(case)))]

    inbound = s.scalars(select(InboundMessage).where(InboundMessage.case_id == case.id)
                        .order_by(InboundMessage.id)).all()
    missing: list[str] = []
    for i, m in enumerate(inbound, 1):
        if not app.store.exists(m.raw_blob):
            missing.append(f"inbound message #{m.id} (blob {m.raw_blob})")
            continue
        members.append(_Member(f"{root}/emails/inbound/{i:03d}-{_slug(m.kind, 'mail')}.eml",
                               app.store.get(m.raw_blob)))

    outbound = s.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    for i, o in enumerate(outbound, 1):
        # A sent credentials/review_request row already had its body replaced by the outbox; one that
        # was never accepted (pending/failed) still holds the password, so only its headers go in.
        raw = headers_only(o.raw, REDACTED_BODY) if o.contains_secret and o.status != OutboxStatus.SENT else o.raw
        members.append(_Member(f"{root}/emails/outbound/{i:03d}-{_slug(o.template, 'mail')}.eml", raw))

    taken: set[str] = set()
    for d in case.documents:
        if not app.store.exists(d.sha256):
            missing.append(f"document {d.filename!r} (blob {d.sha256})")
            continue
        members.append(_Member(f"{root}/documents/{safe_member_name(d.filename, taken)}", app.store.get(d.sha256)))
    if missing:
        raise ArchiveError(f"case {case.number}: stored file(s) missing from {app.store.root}: "
                           + "; ".join(missing) + " — restore the data directory from backup")

    events = s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id)).all()
    members.append(_Member(f"{root}/audit/events.json", _json([
        {"id": e.id, "at": _iso(e.at), "actor": e.actor, "kind": e.kind, "from_status": e.from_status,
         "to_status": e.to_status, "inbound_message": e.message_id, "detail": e.detail} for e in events])))
    members.append(_Member(f"{root}/audit/events.txt", _events_text(app, case, list(events))))
    members.append(_Member(f"{root}/findings.json", _json([
        {"code": f.code, "ok": f.ok, "message": f.message, "created_at": _iso(f.created_at)}
        for f in case.findings])))
    sla = s.scalars(select(SlaRecord).where(SlaRecord.case_id == case.id).order_by(SlaRecord.id)).all()
    members.append(_Member(f"{root}/sla.json", _json([
        {"step": r.step, "started_at": _iso(r.started_at), "ended_at": _iso(r.ended_at),
         "working_minutes": r.working_minutes, "standard_minutes": r.standard_minutes,
         "within_standard": r.working_minutes <= r.standard_minutes} for r in sla])))
    return members


def _texts(member: _Member) -> list[str]:
    """The member as text, and for a mail also each decoded text/* part (base64 or quoted-printable)."""
    texts = [member.data.decode("utf-8", "replace")]
    if member.name.endswith(".eml"):
        try:
            for part in email.message_from_bytes(member.data).walk():
                payload = part.get_payload(decode=True) if part.get_content_maintype() == "text" else None
                if isinstance(payload, bytes):
                    texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        except (LookupError, ValueError):
            texts.append(member.data.decode("latin-1"))
    return texts


def _holds_issued(s: Session, app: App, members: list[_Member]) -> bool:
    """True when a member carries a password the bot ever sent, recognised by its keyed hash (the
    password itself was erased from the database once the credentials mail was accepted)."""
    digests = issued_digests(s)
    if not digests:
        return False
    key = app.secrets.key
    if key is None:
        raise ArchiveError(f"security.secret_env: environment variable {app.settings.security.secret_env} is "
                           f"not set; it is needed to check the archive for passwords — export it and retry")
    return any(contains_digest(text, lambda token: secret_digest(key, token) in digests)
               for m in members for text in _texts(m))


def _secrets_of(s: Session, case: Case) -> list[str]:
    values = [case.proposed_password or ""]
    values += [v or "" for v in s.scalars(select(InboundMessage.secret).where(InboundMessage.case_id == case.id))]
    return [v for v in values if len(v) >= 4]


def _write_zip(path: Path, members: list[_Member], when: datetime) -> None:
    stamp = when.timetuple()[:6]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            info = zipfile.ZipInfo(m.name, date_time=max(stamp, (1980, 1, 1, 0, 0, 0)))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zf.writestr(info, m.data)


def _place(tmp: Path, dest: Path, force: bool) -> None:
    """Move the finished temp file to dest: atomically replacing it with force, else never clobbering."""
    if force:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)  # fails if dest appeared meanwhile: no overwrite race
    except FileExistsError:
        raise FileExistsError(f"{dest} already exists; choose another file name or use --force") from None
    except OSError:
        if dest.exists():
            raise FileExistsError(f"{dest} already exists; choose another file name or use --force") from None
        os.replace(tmp, dest)  # a file system without hard links
        return
    tmp.unlink(missing_ok=True)


def export_case(app: App, number: str, dest: Path, *, force: bool = False, now: datetime | None = None,
                user: str | None = None) -> Path:
    """Write the case's archive to `dest` (a .zip) and return its path.

    Raises CaseNotFound, FileExistsError (dest exists and not force) or ArchiveError (a stored file is
    missing, or — defensively — a known password would end up in the archive)."""
    now = now or datetime.now(timezone.utc)
    dest = Path(dest)
    if dest.exists() and not force:
        raise FileExistsError(f"{dest} already exists; choose another file name or use --force")
    if dest.exists() and dest.is_dir():
        raise ArchiveError(f"{dest} is a directory; give a file name such as {dest / (number + '.zip')}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    actor = f"cli:{user or getpass.getuser()}"
    with transaction(app.factory) as s:
        case = by_number(s, number)
        if case is None:
            raise CaseNotFound(f"case {number} not found")
        if case.purged_at is not None:
            raise ArchiveError(f"case {number} was purged on {case.purged_at:%Y-%m-%d} (storage.retention_days): "
                               f"its mails and documents are gone, there is nothing to archive")
        closed = case.status in CLOSED
        # The event goes in first so that the archive's own audit trail shows the archiving.
        if closed:
            if case.archived_at is None:
                case.archived_at = now
            add_event(s, case, actor, "archived", now, detail=f"archive {dest.name}")
        else:
            add_event(s, case, actor, "archive_exported", now,
                        detail=f"archive {dest.name} (case still {case.status}; not marked archived)")
        s.flush()
        members = _collect(s, app, case, now)
        for secret in _secrets_of(s, case):
            if any(secret.encode() in m.data for m in members):
                raise ArchiveError(f"case {number}: a password would be written to the archive; nothing written")
        if _holds_issued(s, app, members):
            raise ArchiveError(f"case {number}: a password would be written to the archive; nothing written")
        meta = _case_metadata(case)
        manifest = {
            "format": "mailbot-case-archive/1",
            "generated_at": now.isoformat(),
            "generated_by": actor,
            "office": app.settings.office.name,
            "case": meta,
            "files": [{"path": m.name, "size": len(m.data), "sha256": hashlib.sha256(m.data).hexdigest()}
                      for m in members],
        }
        root = PurePosixPath(members[0].name).parts[0]
        members.append(_Member(f"{root}/manifest.json", _json(manifest)))
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _write_zip(tmp, members, now.astimezone(app.settings.tz))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            _place(tmp, dest, force)
        finally:
            tmp.unlink(missing_ok=True)
    return dest
