"""Issue 11 in the pure workflow: files nobody can identify go to the admin, the admin decides any open
case, a hardcopy case is complete by the admin's word; and the domain's "unidentified" answer and finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest

from mailbot.domain.findings import CaseFacts, DocFacts, Result, documents_identified, evaluate, severity
from mailbot.domain.kinds import unidentified_files
from mailbot.domain.states import OPEN_STATUSES
from mailbot.domain.states import CaseStatus as S
from mailbot.domain.workflow import (
    DECIDABLE,
    CaseView,
    Password,
    Reminders,
    Send,
    To,
    TransitionRefused,
    on_admin_decision,
    on_documents_checked,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SK = "SK Pengangkatan sebagai PPK"


def view(status: S, wants_password: bool = True) -> CaseView:
    return CaseView(status, 0, T0 if status == S.AWAITING_DOCUMENTS else None, wants_password=wants_password)


# -- files nobody can identify -------------------------------------------------------------------
def test_an_unidentified_file_sends_an_otherwise_incomplete_request_to_the_admin() -> None:
    """Letter + a photo of unknown kind: no `incomplete` mail, review by the admin, the PPK acknowledged."""
    d = on_documents_checked(view(S.RECEIVED), complete=False, first_contact=True, missing=[SK], unidentified=1)
    assert (d.event, d.new_status) == ("manual_check", S.AWAITING_REVIEW)
    assert d.sends == (Send("ack", To.PPK),)
    assert all(s.template != "incomplete" for s in d.sends)
    assert d.review_round is True and d.password == Password.PROPOSE
    assert f"missing: {SK}" in d.reasons and any("unknown kind" in r for r in d.reasons)
    assert d.decided is False and d.reminders == Reminders.KEEP


def test_a_follow_up_with_an_unidentified_file_goes_to_review_without_a_second_ack() -> None:
    d = on_documents_checked(view(S.AWAITING_DOCUMENTS, wants_password=False), complete=False, first_contact=False,
                             missing=[SK], unidentified=2)
    assert (d.new_status, d.sends, d.review_round, d.password) == (S.AWAITING_REVIEW, (), True, Password.KEEP)


def test_without_unidentified_files_the_ppk_is_asked_as_before() -> None:
    d = on_documents_checked(view(S.RECEIVED), complete=False, first_contact=True, missing=[SK], unidentified=0)
    assert (d.event, d.new_status, d.sends) == ("incomplete", S.AWAITING_DOCUMENTS, (Send("incomplete", To.PPK),))


def test_a_complete_request_with_an_extra_unknown_file_is_simply_complete() -> None:
    d = on_documents_checked(view(S.RECEIVED), complete=True, first_contact=True, missing=[], unidentified=1)
    assert (d.event, d.new_status, d.review_round) == ("complete", S.AWAITING_REVIEW, True)


def test_unidentified_files_while_awaiting_review_change_nothing() -> None:
    d = on_documents_checked(view(S.AWAITING_REVIEW), complete=False, first_contact=False, missing=[SK],
                             unidentified=1)
    assert (d.new_status, d.sends, d.review_round) == (S.AWAITING_REVIEW, (), False)


# -- hardcopy: complete by the admin's word ---------------------------------------------------------
@pytest.mark.parametrize("missing", [[], [SK]])
def test_a_vouched_hardcopy_request_goes_straight_to_review(missing: list[str]) -> None:
    d = on_documents_checked(view(S.RECEIVED), complete=not missing, first_contact=True, missing=missing,
                             vouched=True)
    assert (d.event, d.new_status, d.review_round) == ("complete", S.AWAITING_REVIEW, True)
    assert all(s.template != "incomplete" for s in d.sends)


# -- the admin decides any open case ------------------------------------------------------------------
def test_decidable_states_are_the_open_undecided_ones() -> None:
    assert DECIDABLE == set(OPEN_STATUSES) - {S.APPROVED}


@pytest.mark.parametrize("status", [S.RECEIVED, S.AWAITING_DOCUMENTS], ids=lambda s: s.value)
@pytest.mark.parametrize(("action", "new", "template"), [
    ("approve", S.APPROVED, "credentials"), ("reject", S.REJECTED, "rejected"),
    ("request_docs", S.AWAITING_DOCUMENTS, "incomplete")])
def test_admin_decisions_apply_before_review_too(status: S, action: str, new: S, template: str) -> None:
    """SETUJU / TOLAK / LENGKAPI in AWAITING_DOCUMENTS (and RECEIVED): the same outcome as in review."""
    d = on_admin_decision(view(status), action)
    assert (d.event, d.new_status, d.decided) == (action, new, True)
    assert d.sends == (Send(template, To.PPK), Send("admin_confirmation", To.ACTOR))
    assert d.reminders == (Reminders.RESET if action == "request_docs" else Reminders.KEEP)


@pytest.mark.parametrize("status", [S.APPROVED, S.COMPLETED, S.REJECTED, S.EXPIRED], ids=lambda s: s.value)
def test_manual_check_needs_an_undecided_case(status: S) -> None:
    with pytest.raises(TransitionRefused):
        on_documents_checked(view(status), complete=False, first_contact=False, missing=[SK], unidentified=1)


# -- the domain: which files are unidentified, and the finding that names them --------------------------
@dataclass(frozen=True)
class F:
    filename: str
    kinds: tuple[str, ...]
    usable: bool = True


def test_unidentified_files_are_the_usable_ones_of_no_kind() -> None:
    files = [F("surat.pdf", ("surat_permohonan",)), F("IMG_0932.jpg", ()), F("x.docx", (), usable=False),
             F("scan0001.pdf", ())]
    assert unidentified_files(files) == ["IMG_0932.jpg", "scan0001.pdf"]


def test_the_finding_names_each_unidentified_file_for_a_manual_check() -> None:
    facts = CaseFacts(sender="a@b.c", request_type="reset_password", body="", required=(),
                      documents=(DocFacts("surat.pdf", ("surat_permohonan",), True, False, None, "x"),
                                 DocFacts("IMG_0932.jpg", (), True, True, None, ""),
                                 DocFacts("x.docx", (), False, False, "DOCX", "")),
                      registry=None, registry_by_sender=False, open_duplicates=(), today=date(2026, 3, 2))
    assert documents_identified(facts) == [
        Result("unidentified", False, "IMG_0932.jpg: jenis dokumen tidak dapat ditentukan, perlu diperiksa manual")]
    assert [r for r in evaluate(facts) if r.code == "unidentified"] == documents_identified(facts)
    assert severity("unidentified", False) == "check"
