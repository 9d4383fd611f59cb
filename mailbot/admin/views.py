"""Read models for the CLI: case lists, one case in full, the quarantine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mailbot.app import App
from mailbot.cases.records import by_number
from mailbot.domain.states import REQUEST_TYPE_LABELS, InboundStatus
from mailbot.store.db import transaction
from mailbot.store.models import Case, Event, InboundMessage, Outbox, SlaRecord


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt is not None else None


def list_cases(app: App, status: str | None = None) -> list[dict[str, Any]]:
    with transaction(app.factory) as s:
        q = select(Case).order_by(Case.id)
        if status:
            q = q.where(Case.status == status)
        return [{"number": c.number, "status": c.status, "request_type": c.request_type, "sender": c.sender,
                 "channel": c.channel, "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at)}
                for c in s.scalars(q)]


def case_detail(app: App, number: str) -> dict[str, Any] | None:
    with transaction(app.factory) as s:
        c = by_number(s, number)
        if c is None:
            return None
        sla = s.scalars(select(SlaRecord).where(SlaRecord.case_id == c.id).order_by(SlaRecord.id)).all()
        outbox = s.scalars(select(Outbox).where(Outbox.case_id == c.id).order_by(Outbox.id)).all()
        return {
            "number": c.number, "status": c.status, "request_type": c.request_type,
            "request_type_label": REQUEST_TYPE_LABELS.get(c.request_type, c.request_type),
            "channel": c.channel, "sender": c.sender, "sender_name": c.sender_name, "subject": c.subject,
            "created_at": _iso(c.created_at), "status_since": _iso(c.status_since),
            "closed_at": _iso(c.closed_at), "review_round": c.review_round, "reminders_sent": c.reminders_sent,
            "decided_by": c.decided_by,
            "ppk": c.ppk.as_dict() if c.ppk else None,
            "events": [{"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "from_status": e.from_status,
                        "to_status": e.to_status, "detail": e.detail, "message": e.message_id}
                       for e in c.events],
            "messages": [{"id": m.id, "direction": "in", "kind": m.kind, "status": m.status,
                          "from": m.from_addr, "subject": m.subject, "message_id": m.message_id,
                          "received_at": _iso(m.received_at), "size": m.size, "sha256": m.sha256}
                         for m in c.messages]
                        + [{"id": o.id, "direction": "out", "template": o.template, "status": o.status,
                            "to": list(o.recipients), "subject": o.subject, "message_id": o.message_id,
                            "created_at": _iso(o.created_at), "sent_at": _iso(o.sent_at)} for o in outbox],
            "documents": [{"filename": d.filename, "kind": ",".join(d.kinds) or None, "kinds": list(d.kinds),
                           "size": d.size, "sha256": d.sha256, "file_type": d.file_type, "usable": d.usable,
                           "needs_manual_check": d.needs_manual_check, "problem": d.problem}
                          for d in c.documents],
            "findings": [{"code": f.code, "ok": f.ok, "message": f.message} for f in c.findings],
            "sla": [{"step": r.step, "working_minutes": r.working_minutes, "standard_minutes": r.standard_minutes,
                     "within_standard": r.working_minutes <= r.standard_minutes,
                     "started_at": _iso(r.started_at), "ended_at": _iso(r.ended_at)} for r in sla],
        }


def format_case(d: dict[str, Any]) -> str:
    lines = [f"{d['number']}  {d['status']}  ({d['request_type_label']}, via {d['channel']})",
             f"  sender: {d['sender_name']} <{d['sender']}>", f"  created: {d['created_at']}"]
    if d["ppk"]:
        p = d["ppk"]
        lines.append(f"  PPK: {p['nama']} NIP {p['nip']} <{p['email']}> user ID {p['user_id'] or '-'}")
    else:
        lines.append("  PPK: not in the registry")
    lines.append("Documents:")
    for doc in d["documents"]:
        flag = "ok" if doc["usable"] else f"NOT USABLE: {doc['problem']}"
        lines.append(f"  - {doc['filename']} [{doc['kind'] or 'unrecognised'}] {doc['size']} bytes, {flag}")
    lines.append("Findings:")
    for f in d["findings"]:
        lines.append(f"  {'✔' if f['ok'] else '✖'} {f['message']}")
    lines.append("Messages:")
    for m in d["messages"]:
        if m["direction"] == "in":
            lines.append(f"  <- #{m['id']} {m['kind']:<12} {m['status']:<10} {m['from']}: {m['subject']}")
        else:
            lines.append(f"  -> {m['template']:<20} {m['status']:<8} to {', '.join(m['to'])}")
    lines.append("Events:")
    for e in d["events"]:
        move = f" {e['from_status'] or ''}->{e['to_status']}" if e["to_status"] else ""
        lines.append(f"  {e['at']} {e['actor']:<30} {e['kind']}{move} {e['detail']}")
    lines.append("SLA (working minutes vs standard):")
    for r in d["sla"] or []:
        mark = "within" if r["within_standard"] else "OVER"
        lines.append(f"  {r['step']:<26} {r['working_minutes']:>8.1f} / {r['standard_minutes']} min  {mark}")
    if not d["sla"]:
        lines.append("  (no step finished yet)")
    return "\n".join(lines)


def quarantine_list(app: App) -> list[dict[str, Any]]:
    with transaction(app.factory) as s:
        rows = s.scalars(select(InboundMessage).where(InboundMessage.status == InboundStatus.QUARANTINED,
                                                      InboundMessage.purged_at.is_(None))  # retention: nothing left
                         .order_by(InboundMessage.id)).all()
        return [{"id": r.id, "received_at": _iso(r.received_at), "from_addr": r.from_addr, "subject": r.subject,
                 "reason": r.reason, "attempts": r.attempts, "size": r.size, "sha256": r.sha256,
                 "raw_path": str(app.store.path(r.raw_blob))} for r in rows]


def quarantine_requeue(app: App, row_id: int) -> bool:
    with transaction(app.factory) as s:
        row = s.get(InboundMessage, row_id)
        if row is None or row.status != InboundStatus.QUARANTINED or row.purged_at is not None:  # purged: no raw left
            return False
        row.status, row.attempts = InboundStatus.NEW, 0
        if row.kind == "unparseable":
            row.kind = ""
        s.add(Event(case_id=row.case_id, actor="cli", kind="requeued", message_id=row.id,
                    detail=f"previous reason: {row.reason}"))
        return True
