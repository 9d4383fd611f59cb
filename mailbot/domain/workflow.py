"""The case state machine: (case, event, now, policy) -> a complete Decision, with no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mailbot.domain.errors import MailbotError
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
    # A file nobody could identify: the admin judges it, the PPK is never asked to resend it (issue 11).
    (S.RECEIVED, "manual_check"): S.AWAITING_REVIEW,
    (S.AWAITING_DOCUMENTS, "manual_check"): S.AWAITING_REVIEW,
    # The admin may decide any open case that is not yet decided (SPEC §2).
    (S.RECEIVED, "approve"): S.APPROVED,
    (S.RECEIVED, "reject"): S.REJECTED,
    (S.RECEIVED, "request_docs"): S.AWAITING_DOCUMENTS,
    (S.AWAITING_DOCUMENTS, "approve"): S.APPROVED,
    (S.AWAITING_DOCUMENTS, "reject"): S.REJECTED,
    (S.AWAITING_DOCUMENTS, "request_docs"): S.AWAITING_DOCUMENTS,
}

# The states in which an admin's decision (SETUJU / TOLAK / LENGKAPI) applies.
DECIDABLE = frozenset({S.RECEIVED, S.AWAITING_DOCUMENTS, S.AWAITING_REVIEW})

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
    wants_password: bool = True  # the request type gets a temporary password (reset_password, both, unknown)
    registered: bool = False  # the case is matched to a registry entry (credentials go to its address)
    sender_registered: bool = True  # the request came from that registry address (else the requester is told)


@dataclass(frozen=True)
class Policy:
    remind_after_working_days: int = 2
    max_reminders: int = 2
    expire_after_working_days: int = 2


class To(enum.StrEnum):
    """Who a mail of a decision goes to."""

    PPK = "ppk"  # the address the request came from (for hardcopy cases: the address given at the desk)
    REGISTERED = "registered"  # the PPK's address in the registry
    ADMINS = "admins"  # every configured admin
    ACTOR = "actor"  # the admin whose email decided


@dataclass(frozen=True)
class Send:
    template: str
    to: str  # a To value


class Reminders(enum.StrEnum):
    KEEP = "keep"
    COUNT = "count"  # one more reminder was sent
    RESET = "reset"  # the documents are asked for again: reminders start at 1


class Password(enum.StrEnum):
    KEEP = "keep"
    PROPOSE = "propose"  # propose a temporary password if the request wants one and none is proposed
    ADMIN_TYPED = "admin_typed"  # the admin's own Password: line replaces the proposal (when given)
    ERASE = "erase"  # no password is kept any more


@dataclass(frozen=True)
class Decision:
    """Everything that follows from an event: the new state, which templates go to whom, what happens to
    the reminder count and the proposed password, whether a review round starts and whether it is an
    admin's decision (which claims the case). cases.records.apply carries it out; no caller decides."""

    event: str
    new_status: S
    sends: tuple[Send, ...] = ()
    reasons: tuple[str, ...] = ()
    review_round: bool = False  # start a new review round (new codes, review_request emails)
    reminders: Reminders = Reminders.KEEP
    password: Password = Password.KEEP
    decided: bool = False  # an admin's decision: claims the case, records the decider, spends the codes

    @property
    def outcome(self) -> str | None:
        """The template of the mail to the PPK (or the registered address), if any."""
        return next((s.template for s in self.sends if s.to in (To.PPK, To.REGISTERED)), None)


class TransitionRefused(MailbotError):
    """The event is not allowed in the case's current state."""


def next_status(status: S, event: str) -> S:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise TransitionRefused(f"{event} is not allowed in state {status.value}") from None


def on_documents_checked(case: CaseView, complete: bool, first_contact: bool,
                         missing: list[str], *, unidentified: int = 0, vouched: bool = False) -> Decision:
    """After a request or a follow-up added documents and the checks ran.

    `unidentified`: how many usable files no kind could be determined for (no kind by name or text, a
    scan or photo only a person can read). With at least one, a file that otherwise lacks a document
    goes to the admin ("perlu diperiksa manual") instead of asking the PPK to resend what may have been
    sent. `vouched`: an admin registered the request with its files (hardcopy, the originals seen at the
    desk): complete by the admin's word."""
    if case.status == S.AWAITING_REVIEW:
        # Extra documents while waiting for the admin: keep the round, tell nobody twice.
        event = "complete" if complete else "incomplete"
        return Decision(event, next_status(case.status, event), reasons=("documents added while awaiting review",))
    password = Password.PROPOSE if case.wants_password else Password.KEEP
    # The first contact gets the ack; a follow-up that brought the file to the admin gets "complete"
    # ("sedang diperiksa"), so the PPK always knows where the file stands.
    told = (Send("ack" if first_contact else "complete", To.PPK),)
    if complete or vouched:
        reason = "all required documents present" if complete else "complete by the admin's word (hardcopy)"
        return Decision("complete", next_status(case.status, "complete"), told, (reason,), review_round=True,
                        password=password)
    if unidentified > 0:
        # Not "complete" (the file may lack a document): the first contact's ack says the admin checks it.
        ack = (Send("ack", To.PPK),) if first_contact else ()
        return Decision("manual_check", next_status(case.status, "manual_check"), ack,
                        (f"{unidentified} file(s) of unknown kind: the admin checks them",)
                        + tuple(f"missing: {m}" for m in missing), review_round=True, password=password)
    return Decision("incomplete", next_status(case.status, "incomplete"), (Send("incomplete", To.PPK),),
                    tuple(f"missing: {m}" for m in missing))


def on_timer(case: CaseView, now: datetime, calendar: Calendar, policy: Policy) -> Decision | None:
    """A reminder or expiry that is due at `now`, or None. Idempotent by construction: the reminder
    count and the new state are recorded in the same transaction as the mail that is queued."""
    if case.status != S.AWAITING_DOCUMENTS or case.documents_requested_at is None:
        return None
    if case.reminders_sent < policy.max_reminders:
        due = calendar.add_working_days(case.documents_requested_at, policy.remind_after_working_days)
        if now >= due:
            return Decision("remind", S.AWAITING_DOCUMENTS, (Send("reminder_documents", To.PPK),),
                            (f"reminder {case.reminders_sent + 1} of {policy.max_reminders}",),
                            reminders=Reminders.COUNT)
        return None
    due = calendar.add_working_days(case.documents_requested_at, policy.expire_after_working_days)
    if now >= due:
        return Decision("expire", next_status(case.status, "expire"), (Send("expired", To.PPK),),
                        ("no documents after the last reminder",))
    return None


OUTCOME_TEMPLATE = {"approve": "credentials", "reject": "rejected", "request_docs": "incomplete"}


def on_admin_decision(case: CaseView, action: str, *, by_email: bool = True) -> Decision:
    """An authenticated admin decision (email, or the CLI when `by_email` is false).

    Credentials go to the registry address when the case has one (else to the requester, which the
    caller allows only on the admin's explicit "Kirim ke pengirim: ya"), and a requester writing from
    another address is told so (`sent_to_registered`); the other outcomes go to the requester. An admin who decided by email is told what was done; a CLI user sees it on screen.
    Approval keeps the proposal (or the admin's typed password); any other outcome erases it; asking
    for documents again restarts the reminders."""
    new = next_status(case.status, action)
    to = To.REGISTERED if action == "approve" and case.registered else To.PPK
    sends: tuple[Send, ...] = (Send(OUTCOME_TEMPLATE[action], to),)
    if to == To.REGISTERED and not case.sender_registered:
        # The request came from another address: its sender learns where the credentials went (not the address).
        sends += (Send("sent_to_registered", To.PPK),)
    if by_email:
        sends += (Send("admin_confirmation", To.ACTOR),)
    return Decision(action, new, sends, (f"admin decision: {action}",),
                    reminders=Reminders.RESET if action == "request_docs" else Reminders.KEEP,
                    password=Password.ADMIN_TYPED if action == "approve" else Password.ERASE,
                    decided=True)


def on_credentials_accepted(case: CaseView) -> Decision:
    """The SMTP server accepted the credentials mail: the case is done and the password forgotten."""
    return Decision("credentials_sent", next_status(case.status, "credentials_sent"), password=Password.ERASE)
