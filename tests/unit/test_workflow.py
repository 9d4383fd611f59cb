"""The pure case state machine: transition table, document checks, timers and admin decisions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mailbot.domain.states import CLOSED
from mailbot.domain.states import CaseStatus as S
from mailbot.domain.workflow import (
    OUTCOME_TEMPLATE,
    SOP_STEP,
    TRANSITIONS,
    CaseView,
    Decision,
    Password,
    Policy,
    Reminders,
    Send,
    To,
    TransitionRefused,
    next_status,
    on_admin_decision,
    on_credentials_accepted,
    on_documents_checked,
    on_timer,
)

EVENTS = ("complete", "incomplete", "expire", "approve", "reject", "request_docs", "credentials_sent",
          "remind", "archive", "manual_check", "")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday

# The table of SPEC §2, written out independently of mailbot.workflow.TRANSITIONS.
EXPECTED = {
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
    # issue 11: unidentified files go to the admin; the admin decides any open, undecided case
    (S.RECEIVED, "manual_check"): S.AWAITING_REVIEW,
    (S.AWAITING_DOCUMENTS, "manual_check"): S.AWAITING_REVIEW,
    (S.RECEIVED, "approve"): S.APPROVED,
    (S.RECEIVED, "reject"): S.REJECTED,
    (S.RECEIVED, "request_docs"): S.AWAITING_DOCUMENTS,
    (S.AWAITING_DOCUMENTS, "approve"): S.APPROVED,
    (S.AWAITING_DOCUMENTS, "reject"): S.REJECTED,
    (S.AWAITING_DOCUMENTS, "request_docs"): S.AWAITING_DOCUMENTS,
}


class DayCalendar:
    """A fake calendar: every day is a working day (start + n days); records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[datetime, int]] = []

    def add_working_days(self, start: datetime, n: int) -> datetime:
        self.calls.append((start, n))
        return start + timedelta(days=n)


def view(status: S, reminders: int = 0, requested: datetime | None = T0) -> CaseView:
    return CaseView(status, reminders, requested)


# -- transition table ---------------------------------------------------------------------------
def test_the_table_is_the_spec_table() -> None:
    """The module's table holds exactly the SPEC §2 transitions, nothing more."""
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
@pytest.mark.parametrize("event", EVENTS)
def test_every_state_and_event(status: S, event: str) -> None:
    """Allowed (state, event) pairs give the table's next state; every other pair is refused."""
    if (status, event) in EXPECTED:
        assert next_status(status, event) == EXPECTED[(status, event)]
    else:
        with pytest.raises(TransitionRefused, match=status.value):
            next_status(status, event)


@pytest.mark.parametrize("status", sorted(CLOSED, key=lambda s: s.value), ids=lambda s: s.value)
def test_closed_states_accept_no_event(status: S) -> None:
    """A completed, rejected or expired case cannot be moved by anything."""
    for event in EVENTS:
        with pytest.raises(TransitionRefused):
            next_status(status, event)
    assert CLOSED == {S.COMPLETED, S.REJECTED, S.EXPIRED}


# -- on_documents_checked ------------------------------------------------------------------------
def test_first_contact_complete_acks_and_opens_a_review_round() -> None:
    """A first request with all documents: ack to the PPK and a review round for the admins."""
    d = on_documents_checked(view(S.RECEIVED, requested=None), complete=True, first_contact=True, missing=[])
    assert d.event == "complete"
    assert d.new_status == S.AWAITING_REVIEW
    assert d.sends == (Send("ack", "ppk"),)
    assert d.review_round is True


def test_first_contact_incomplete_asks_for_the_missing_documents() -> None:
    """A first request lacking documents: the 'incomplete' mail to the PPK, listing what is missing."""
    d = on_documents_checked(view(S.RECEIVED, requested=None), complete=False, first_contact=True,
                             missing=["SK Pengangkatan sebagai PPK"])
    assert d.new_status == S.AWAITING_DOCUMENTS
    assert d.sends == (Send("incomplete", "ppk"),)
    assert d.review_round is False
    assert d.reasons == ("missing: SK Pengangkatan sebagai PPK",)


def test_follow_up_completing_the_documents_starts_review_without_a_second_ack() -> None:
    """The PPK sends the missing SK: review round starts, the PPK gets the short `complete` mail, no ack."""
    d = on_documents_checked(view(S.AWAITING_DOCUMENTS), complete=True, first_contact=False, missing=[])
    assert d.new_status == S.AWAITING_REVIEW
    assert d.sends == (Send("complete", To.PPK),)
    assert d.review_round is True


def test_follow_up_still_incomplete_asks_again() -> None:
    """A follow-up that still lacks a document stays AWAITING_DOCUMENTS and asks again."""
    d = on_documents_checked(view(S.AWAITING_DOCUMENTS), complete=False, first_contact=False,
                             missing=["Surat permohonan", "SK"])
    assert d.new_status == S.AWAITING_DOCUMENTS
    assert d.sends == (Send("incomplete", "ppk"),)
    assert d.review_round is False
    assert d.reasons == ("missing: Surat permohonan", "missing: SK")


@pytest.mark.parametrize("complete", [True, False])
def test_extra_documents_while_awaiting_review_send_nothing(complete: bool) -> None:
    """More documents while the admin is deciding: no mail, no new review round, state kept."""
    d = on_documents_checked(view(S.AWAITING_REVIEW, requested=None), complete=complete,
                             first_contact=False, missing=[] if complete else ["SK"])
    assert d.new_status == S.AWAITING_REVIEW
    assert d.sends == ()
    assert d.review_round is False


@pytest.mark.parametrize("status", [S.APPROVED, S.COMPLETED, S.REJECTED, S.EXPIRED], ids=lambda s: s.value)
@pytest.mark.parametrize("complete", [True, False])
def test_documents_for_a_decided_case_are_refused(status: S, complete: bool) -> None:
    """Documents arriving after the decision cannot reopen or move the case."""
    with pytest.raises(TransitionRefused):
        on_documents_checked(view(status), complete=complete, first_contact=False, missing=[])


# -- on_timer ------------------------------------------------------------------------------------
POLICY = Policy(remind_after_working_days=2, max_reminders=2, expire_after_working_days=3)


def test_no_reminder_before_it_is_due() -> None:
    """Just before two working days have passed, nothing happens."""
    cal = DayCalendar()
    assert on_timer(view(S.AWAITING_DOCUMENTS), T0 + timedelta(days=2, seconds=-1), cal, POLICY) is None
    assert cal.calls == [(T0, 2)]


def test_reminders_then_expiry() -> None:
    """Reminder 1 and 2 each after two working days of silence, then expiry after three more."""
    cal = DayCalendar()
    first = on_timer(view(S.AWAITING_DOCUMENTS, 0, T0), T0 + timedelta(days=2), cal, POLICY)
    assert first is not None
    assert (first.event, first.new_status) == ("remind", S.AWAITING_DOCUMENTS)
    assert first.sends == (Send("reminder_documents", "ppk"),)
    assert first.reasons == ("reminder 1 of 2",)

    t1 = T0 + timedelta(days=2, hours=1)  # when reminder 1 was queued
    assert on_timer(view(S.AWAITING_DOCUMENTS, 1, t1), t1 + timedelta(days=1), cal, POLICY) is None
    second = on_timer(view(S.AWAITING_DOCUMENTS, 1, t1), t1 + timedelta(days=2), cal, POLICY)
    assert second is not None and second.event == "remind"
    assert second.reasons == ("reminder 2 of 2",)

    t2 = t1 + timedelta(days=2)  # when reminder 2 was queued
    assert on_timer(view(S.AWAITING_DOCUMENTS, 2, t2), t2 + timedelta(days=2), cal, POLICY) is None
    expiry = on_timer(view(S.AWAITING_DOCUMENTS, 2, t2), t2 + timedelta(days=3), cal, POLICY)
    assert expiry is not None
    assert (expiry.event, expiry.new_status) == ("expire", S.EXPIRED)
    assert expiry.sends == (Send("expired", "ppk"),)


def test_timer_is_idempotent_given_reminders_sent() -> None:
    """Asking twice with the same view gives the same decision; once counted, the next is not due."""
    cal = DayCalendar()
    now = T0 + timedelta(days=2)
    a = on_timer(view(S.AWAITING_DOCUMENTS, 0, T0), now, cal, POLICY)
    b = on_timer(view(S.AWAITING_DOCUMENTS, 0, T0), now, cal, POLICY)
    assert a == b and a is not None and a.event == "remind"
    # After the caller recorded reminder 1 (reminders_sent=1, requested_at=now), nothing is due now.
    assert on_timer(view(S.AWAITING_DOCUMENTS, 1, now), now, cal, POLICY) is None
    assert on_timer(view(S.AWAITING_DOCUMENTS, 1, now), now + timedelta(hours=47), cal, POLICY) is None


def test_zero_reminders_policy_expires_directly() -> None:
    """With max_reminders = 0 the first due timer is the expiry."""
    d = on_timer(view(S.AWAITING_DOCUMENTS, 0, T0), T0 + timedelta(days=3), DayCalendar(),
                 Policy(max_reminders=0, expire_after_working_days=3))
    assert d is not None and d.event == "expire" and d.new_status == S.EXPIRED


@pytest.mark.parametrize("status", [s for s in S if s != S.AWAITING_DOCUMENTS], ids=lambda s: s.value)
@pytest.mark.parametrize("reminders", [0, 1, 2, 5])
def test_timers_never_fire_in_other_states(status: S, reminders: int) -> None:
    """Only a case waiting for documents is ever reminded or expired."""
    far = T0 + timedelta(days=365)
    assert on_timer(view(status, reminders, T0), far, DayCalendar(), POLICY) is None


def test_timer_without_a_request_time_does_nothing() -> None:
    """A case waiting for documents but with no incomplete mail queued yet is not reminded."""
    assert on_timer(view(S.AWAITING_DOCUMENTS, 0, None), T0 + timedelta(days=365), DayCalendar(), POLICY) is None


# -- on_admin_decision ---------------------------------------------------------------------------
@pytest.mark.parametrize(("action", "status", "template"), [
    ("approve", S.APPROVED, "credentials"),
    ("reject", S.REJECTED, "rejected"),
    ("request_docs", S.AWAITING_DOCUMENTS, "incomplete"),
])
def test_admin_decision_outcomes(action: str, status: S, template: str) -> None:
    """Each admin decision moves the case and mails the PPK the outcome and the admin a confirmation."""
    d = on_admin_decision(view(S.AWAITING_REVIEW), action)
    assert d.event == action
    assert d.new_status == status
    assert d.sends == (Send(template, "ppk"), Send("admin_confirmation", "actor"))
    assert d.review_round is False
    assert OUTCOME_TEMPLATE[action] == template


@pytest.mark.parametrize("status", [S.APPROVED, S.COMPLETED, S.REJECTED, S.EXPIRED], ids=lambda s: s.value)
@pytest.mark.parametrize("action", ["approve", "reject", "request_docs"])
def test_admin_decision_on_a_decided_case_is_refused(status: S, action: str) -> None:
    """A second decision, or one on a case already decided or closed, is refused."""
    with pytest.raises(TransitionRefused):
        on_admin_decision(view(status), action)


def test_credentials_accepted_completes_an_approved_case_only() -> None:
    """Once the credentials mail is accepted by SMTP, an approved case is completed."""
    d = on_credentials_accepted(view(S.APPROVED))
    assert (d.event, d.new_status, d.sends) == ("credentials_sent", S.COMPLETED, ())
    for status in S:
        if status != S.APPROVED:
            with pytest.raises(TransitionRefused):
                on_credentials_accepted(view(status))


# -- SOP steps -----------------------------------------------------------------------------------
def test_sop_step_mapping() -> None:
    """Time spent in a state is booked to the SOP step of SPEC §1 that the transition ends."""
    assert SOP_STEP == {
        (S.RECEIVED, S.AWAITING_REVIEW): "step2_completeness",
        (S.RECEIVED, S.AWAITING_DOCUMENTS): "step3_request_documents",
        (S.AWAITING_REVIEW, S.APPROVED): "step5_validity",
        (S.AWAITING_REVIEW, S.REJECTED): "step5_validity",
        (S.AWAITING_REVIEW, S.AWAITING_DOCUMENTS): "step5_validity",
        (S.APPROVED, S.COMPLETED): "step8_notify",
    }
    # Every step belongs to a real transition of the table.
    reachable = {(a, b) for (a, _), b in TRANSITIONS.items()}
    assert set(SOP_STEP) <= reachable


# -- the side rules of a Decision ------------------------------------------------------------------
def test_a_review_round_proposes_a_password_only_when_the_request_wants_one() -> None:
    """Complete documents start a review round; a temporary password is proposed for reset requests
    (and unknown ones), never for a user-ID-only request."""
    wants = on_documents_checked(CaseView(S.RECEIVED, 0, None, wants_password=True), True, True, [])
    assert (wants.review_round, wants.password) == (True, Password.PROPOSE)
    user_id_only = on_documents_checked(CaseView(S.RECEIVED, 0, None, wants_password=False), True, True, [])
    assert (user_id_only.review_round, user_id_only.password) == (True, Password.KEEP)


@pytest.mark.parametrize("complete", [True, False])
def test_document_decisions_leave_reminders_and_password_alone(complete: bool) -> None:
    """Checking documents never counts or resets reminders, is never an admin's decision, and only a
    new review round touches the password."""
    for status in (S.RECEIVED, S.AWAITING_DOCUMENTS, S.AWAITING_REVIEW):
        d = on_documents_checked(view(status), complete, status == S.RECEIVED, [] if complete else ["SK"])
        assert d.reminders == Reminders.KEEP and d.decided is False
        assert d.password == (Password.PROPOSE if d.review_round else Password.KEEP)


def test_a_reminder_is_counted_and_an_expiry_is_not() -> None:
    """The reminder Decision counts itself (so the next one is not due at once); the expiry does not."""
    cal = DayCalendar()
    remind = on_timer(view(S.AWAITING_DOCUMENTS, 0, T0), T0 + timedelta(days=2), cal, POLICY)
    expire = on_timer(view(S.AWAITING_DOCUMENTS, 2, T0), T0 + timedelta(days=3), cal, POLICY)
    assert remind is not None and remind.reminders == Reminders.COUNT
    assert expire is not None and expire.reminders == Reminders.KEEP
    assert remind.password == expire.password == Password.KEEP
    assert not remind.decided and not expire.decided


@pytest.mark.parametrize(("action", "reminders", "password"), [
    ("approve", Reminders.KEEP, Password.ADMIN_TYPED),
    ("reject", Reminders.KEEP, Password.ERASE),
    ("request_docs", Reminders.RESET, Password.ERASE),
])
def test_admin_decisions_claim_the_case_and_settle_reminders_and_password(
        action: str, reminders: Reminders, password: Password) -> None:
    """Every admin decision claims the case; approval keeps the proposal (or takes the admin's typed
    password), the others erase it; asking for documents again restarts the reminders at 1."""
    d = on_admin_decision(view(S.AWAITING_REVIEW), action)
    assert d.decided is True
    assert (d.reminders, d.password) == (reminders, password)
    assert d.review_round is False
    assert d.outcome == OUTCOME_TEMPLATE[action]


@pytest.mark.parametrize("action", ["approve", "reject", "request_docs"])
def test_the_deciding_admin_is_told_only_when_deciding_by_email(action: str) -> None:
    """An admin who decided by email gets a confirmation; a CLI decision shows its result on screen."""
    by_mail = on_admin_decision(view(S.AWAITING_REVIEW), action, by_email=True)
    by_cli = on_admin_decision(view(S.AWAITING_REVIEW), action, by_email=False)
    assert Send("admin_confirmation", To.ACTOR) in by_mail.sends
    assert [s.to for s in by_cli.sends] == [To.PPK]
    assert by_cli.outcome == by_mail.outcome


def test_credentials_go_to_the_registered_address_when_there_is_one() -> None:
    """Approval of a registered PPK's case mails the credentials to the registry address; every other
    outcome goes to the address the request came from."""
    registered = CaseView(S.AWAITING_REVIEW, 0, None, registered=True)
    assert on_admin_decision(registered, "approve").sends[0] == Send("credentials", To.REGISTERED)
    assert on_admin_decision(registered, "reject").sends[0] == Send("rejected", To.PPK)
    assert on_admin_decision(registered, "request_docs").sends[0] == Send("incomplete", To.PPK)
    assert on_admin_decision(view(S.AWAITING_REVIEW), "approve").sends[0] == Send("credentials", To.PPK)


def test_accepted_credentials_erase_the_password_and_send_nothing() -> None:
    """Once the SMTP server accepted the credentials, the password is forgotten (SPEC §5)."""
    d = on_credentials_accepted(view(S.APPROVED))
    assert (d.password, d.sends, d.decided, d.reminders) == (Password.ERASE, (), False, Reminders.KEEP)


def test_requester_from_another_address_is_told_where_the_credentials_went() -> None:
    """Approval of a case whose request came from another address than the registry's: the credentials
    go to the registry address and the requester gets `sent_to_registered`; only on approval."""
    elsewhere = CaseView(S.AWAITING_REVIEW, 0, None, registered=True, sender_registered=False)
    assert on_admin_decision(elsewhere, "approve").sends == (
        Send("credentials", To.REGISTERED), Send("sent_to_registered", To.PPK), Send("admin_confirmation", To.ACTOR))
    assert on_admin_decision(elsewhere, "approve").outcome == "credentials"
    for action in ("reject", "request_docs"):
        assert all(s.template != "sent_to_registered" for s in on_admin_decision(elsewhere, action).sends)
    same = CaseView(S.AWAITING_REVIEW, 0, None, registered=True, sender_registered=True)
    assert [s.template for s in on_admin_decision(same, "approve", by_email=False).sends] == ["credentials"]
    unregistered = CaseView(S.AWAITING_REVIEW, 0, None, registered=False, sender_registered=False)
    assert [s.template for s in on_admin_decision(unregistered, "approve", by_email=False).sends] == ["credentials"]


def test_outcome_is_the_mail_to_the_requester_or_registered_address() -> None:
    """Decision.outcome names the PPK-facing template, whatever else the Decision sends."""
    assert Decision("x", S.APPROVED, (Send("admin_confirmation", To.ACTOR), Send("credentials", To.REGISTERED))
                    ).outcome == "credentials"
    assert Decision("x", S.APPROVED, (Send("admin_digest", To.ADMINS),)).outcome is None
