"""The case state machine: (case, event, now, policy) -> a complete Decision, with no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mailbot.domain.states import CaseStatus as S

# Every allowed transition, by event name. Anything else is refused.
TRANSITIONS: dict[tuple[S, str], S] = {
    (S.RECEIVED, "complete"): S.AWAITING_REVIEW,
    (S.RECEIVED, "incomplete"): S.AWAITING_DOCUMENTS,
    (S.AWAITING_DOCUMENTS, "complete"): S.AWAITING_REVIEW,
    (S.AWAITING_DOCUMENTS, "incomplete"): S.AWAITING_DOCUMENTS,
    (S.AWAITING_DOCUMENTS, "expire"): S.EXPIRED,
    (S.AWAITING_REVIEW, "complete"): S.AWAITING_REVIEW,
    (S.AWAITING_REVIEW, "incomplete"): S.AWAITING_REVIEW,
    (S.AWAITING_REVIEW, "approve"): S.APPROVED,
    (S.AWAITING_REVIEW, "reject"): S.REJECTED,
    (S.AWAITING_REVIEW, "request_docs"): S.AWAITING_DOCUMENTS,
    (S.APPROVED, "credentials_sent"): S.COMPLETED,
}

# Which SOP step (SPEC §1) the time spent in a state belongs to, keyed by (from, to).
SOP_STEP: dict[tuple[S, S], str] = {
    (S.RECEIVED, S.AWAITING_REVIEW): "step2_completeness",
    (S.RECEIVED, S.AWAITING_DOCUMENTS): "step3_request_documents",
    (S.AWAITING_REVIEW, S.APPROVED): "step5_validity",
    (S.AWAITING_REVIEW, S.REJECTED): "step5_validity",
    (S.AWAITING_REVIEW, S.AWAITING_DOCUMENTS): "step5_validity",
    (S.APPROVED, S.COMPLETED): "step8_notify",
}


class Calendar(Protocol):
    def add_working_days(self, start: datetime, n: int) -> datetime: ...


@dataclass(frozen=True)
class CaseView:
    """What the workflow needs to know about a case."""

    status: S
    reminders_sent: int
    documents_requested_at: datetime | None  # when the last incomplete/reminder mail was queued


@dataclass(frozen=True)
class Policy:
    remind_after_working_days: int = 2
    max_reminders: int = 2
    expire_after_working_days: int = 2


@dataclass(frozen=True)
class Send:
    template: str
    to: str  # "ppk" | "admins" | "actor"


@dataclass(frozen=True)
class Decision:
    event: str
    new_status: S
    sends: tuple[Send, ...] = ()
    reasons: tuple[str, ...] = ()
    review_round: bool = False  # start a new review round (new codes, review_request emails)


class TransitionRefused(Exception):
    """The event is not allowed in the case's current state."""


def next_status(status: S, event: str) -> S:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise TransitionRefused(f"{event} is not allowed in state {status.value}") from None


def on_documents_checked(case: CaseView, complete: bool, first_contact: bool,
                         missing: list[str]) -> Decision:
    """After a request or a follow-up added documents and the checks ran."""
    event = "complete" if complete else "incomplete"
    new = next_status(case.status, event)
    if case.status == S.AWAITING_REVIEW:
        # Extra documents while waiting for the admin: keep the round, tell nobody twice.
        return Decision(event, new, reasons=("documents added while awaiting review",))
    if complete:
        sends = (Send("ack", "ppk"),) if first_contact else ()
        return Decision(event, new, sends, ("all required documents present",), review_round=True)
    return Decision(event, new, (Send("incomplete", "ppk"),),
                    tuple(f"missing: {m}" for m in missing))


def on_timer(case: CaseView, now: datetime, calendar: Calendar, policy: Policy) -> Decision | None:
    """A reminder or expiry that is due at `now`, or None. Idempotent by construction: the caller
    records reminders_sent / the new state in the same transaction as the mail it queues."""
    if case.status != S.AWAITING_DOCUMENTS or case.documents_requested_at is None:
        return None
    if case.reminders_sent < policy.max_reminders:
        due = calendar.add_working_days(case.documents_requested_at, policy.remind_after_working_days)
        if now >= due:
            return Decision("remind", S.AWAITING_DOCUMENTS, (Send("reminder_documents", "ppk"),),
                            (f"reminder {case.reminders_sent + 1} of {policy.max_reminders}",))
        return None
    due = calendar.add_working_days(case.documents_requested_at, policy.expire_after_working_days)
    if now >= due:
        return Decision("expire", next_status(case.status, "expire"), (Send("expired", "ppk"),),
                        ("no documents after the last reminder",))
    return None


OUTCOME_TEMPLATE = {"approve": "credentials", "reject": "rejected", "request_docs": "incomplete"}


def on_admin_decision(case: CaseView, action: str) -> Decision:
    """An authenticated admin decision (email or CLI)."""
    new = next_status(case.status, action)
    sends = (Send(OUTCOME_TEMPLATE[action], "ppk"), Send("admin_confirmation", "actor"))
    return Decision(action, new, sends, (f"admin decision: {action}",))


def on_credentials_accepted(case: CaseView) -> Decision:
    return Decision("credentials_sent", next_status(case.status, "credentials_sent"))
