"""Remembering, as a keyed hash, each password a Decision sends to a PPK in its credentials mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.domain.workflow import Decision
from mailbot.store.issued import record_issued
from mailbot.store.models import Case


def remember_issued(s: Session, app: App, case: Case, decision: Decision, extra: dict[str, Any],
                    now: datetime) -> None:
    """If the Decision sends credentials with a password, record its HMAC (in the caller's transaction)."""
    password = extra.get("password")
    if password and any(send.template == "credentials" for send in decision.sends):
        record_issued(s, app.secret, case.id, str(password), now)
