"""The audit trail: one event row per thing that happened to a case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailbot.store.models import Case, Event


# -- audit -----------------------------------------------------------------------------------
def add_event(s: Session, case: Case | None, actor: str, kind: str, now: datetime, *,
              detail: str = "", message_id: int | None = None, from_status: str | None = None,
              to_status: str | None = None) -> Event:
    ev = Event(case_id=case.id if case else None, at=now, actor=actor, kind=kind, detail=detail[:4000],
               message_id=message_id, from_status=from_status, to_status=to_status)
    s.add(ev)
    return ev
