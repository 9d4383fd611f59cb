"""Admin decisions by email reply and their outcomes — with several admins, for PPKs missing from the
registry, for user-ID requests, racing a CLI decision — and the attacks that must change nothing."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.store.models import Case, Event
from tests.support.bot import Bot, submit
from tests.support.documents import sample_sk
from tests.support.mails import ADMIN, ADMIN_B, PPK_A, PPK_B, reply_email, request_email
from tests.support.replies import code_of, rewrite_fixture
from tests.support.review import (
    assert_password_not_stored,
    body,
    get_case,
    refusals,
    review_for,
    submit_case,
)

NAME, NIP, EMAIL, USER_ID = PPK_A[0], PPK_A[1], PPK_A[2], PPK_A[3]


def case_of(bot: Bot) -> Case:
    with bot.app.factory() as s:
        return s.scalars(select(Case).order_by(Case.id.desc())).first()


def test_setuju_sends_credentials_to_registered_address(any_bot: Bot) -> None:
    """Scenario: the admin replies SETUJU from Gmail → one credentials email → COMPLETED."""
    review = submit(any_bot)
    assert review.rcpt_tos == [ADMIN]
    assert "RV-" in review.header("Subject")
    assert len(review.message.get_payload()) >= 3  # body + the two documents attached
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    creds = any_bot.sent("credentials")
    assert [m.rcpt_tos for m in creds] == [[EMAIL]]
    assert case_of(any_bot).status == "COMPLETED"
    assert case_of(any_bot).proposed_password is None
    conf = any_bot.sent("admin_confirmation")
    assert [m.rcpt_tos for m in conf] == [[ADMIN]]


def test_tolak_sends_rejection_with_reason(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "TOLAK NIP tidak sesuai data SPSE"))
    any_bot.poll()
    rejected = any_bot.sent("rejected")
    assert [m.rcpt_tos for m in rejected] == [[EMAIL]]
    assert "NIP tidak sesuai data SPSE" in rejected[0].message.get_body(("plain",)).get_content()
    assert case_of(any_bot).status == "REJECTED"
    assert any_bot.sent("credentials") == []


def test_lengkapi_goes_back_to_documents_with_note(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "LENGKAPI SK yang sudah ditandatangani"))
    any_bot.poll()
    assert case_of(any_bot).status == "AWAITING_DOCUMENTS"
    inc = any_bot.sent("incomplete")
    assert len(inc) == 1 and "SK yang sudah ditandatangani" in inc[0].message.get_body(("plain",)).get_content()


def _unchanged(bot: Bot, before: int, attacker: str | None = None) -> None:
    assert case_of(bot).status == "AWAITING_REVIEW"
    assert bot.sent("credentials") == [] and bot.sent("rejected") == []
    if attacker:
        assert all(attacker not in m.rcpt_tos for m in bot.smtp.messages)
    with bot.app.factory() as s:
        refusals = s.scalars(select(Event).where(Event.kind == "decision_refused")).all()
    assert len(refusals) >= 1


def test_forged_from_without_code_is_refused(any_bot: Bot) -> None:
    submit(any_bot)
    number = case_of(any_bot).number
    any_bot.append(request_email(ADMIN, "Admin", f"Re: [{number}] Tinjauan", "SETUJU"))
    any_bot.poll()
    _unchanged(any_bot, 0)
    errors = any_bot.sent("admin_command_error")
    assert [m.rcpt_tos for m in errors] == [[ADMIN]]


def test_stranger_replaying_review_email_gets_nothing(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, "mallory@evil.example", "Mallory", "SETUJU"))
    any_bot.poll()
    _unchanged(any_bot, 0, attacker="mallory@evil.example")
    assert any_bot.sent("admin_command_error") == []


def test_keyword_only_in_quote_is_not_a_decision(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "OK, saya cek dulu"))
    any_bot.poll()
    _unchanged(any_bot, 0)
    assert len(any_bot.sent("admin_command_error")) == 1


def test_second_decision_after_first_is_refused(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin", "TOLAK dokumen tidak sah"))
    any_bot.poll()
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    assert case_of(any_bot).status == "REJECTED"
    assert any_bot.sent("credentials") == []
    errors = any_bot.sent("admin_command_error")
    assert len(errors) == 1
    assert ADMIN in errors[0].message.get_body(("plain",)).get_content()


def test_code_from_earlier_round_is_refused(any_bot: Bot) -> None:
    review1 = submit(any_bot)
    any_bot.append(reply_email(review1, ADMIN, "Admin", "LENGKAPI mohon SK terbaru"))
    any_bot.poll()
    inc = any_bot.sent("incomplete")[-1]
    any_bot.append(request_email(EMAIL, NAME, "Re: " + inc.header("Subject"), "SK terbaru terlampir",
                                 [("SK terbaru.pdf", sample_sk(NAME, NIP))],
                                 in_reply_to=inc.header("Message-ID")))
    any_bot.poll()
    assert case_of(any_bot).status == "AWAITING_REVIEW"
    assert len(any_bot.sent("review_request")) == 2
    any_bot.append(reply_email(review1, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    _unchanged(any_bot, 0)


def test_header_and_html_injection_in_reason(any_bot: Bot) -> None:
    review = submit(any_bot)
    any_bot.append(reply_email(review, ADMIN, "Admin",
                               "TOLAK <script>alert(1)</script> Bcc: victim@example.org"))
    any_bot.poll()
    rejected = any_bot.sent("rejected")
    assert len(rejected) == 1 and rejected[0].rcpt_tos == [EMAIL]
    html = rejected[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert rejected[0].header("Bcc") is None


def test_password_absent_everywhere_after_delivery(any_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """Scenario: the admin types a Password: line; after delivery it exists only in the credentials mail."""
    caplog.set_level(logging.INFO)  # what an operator's journal holds (DEBUG of the test servers excluded)
    caplog.set_level(logging.DEBUG, logger="mailbot")
    review = submit(any_bot)
    typed = "Sandi9Baru2026x"
    any_bot.append(reply_email(review, ADMIN, "Admin", f"SETUJU\nPassword: {typed}"))
    any_bot.poll()
    creds = any_bot.sent("credentials")
    assert len(creds) == 1 and typed in creds[0].data.decode()
    with any_bot.app.factory() as s:
        s.scalars(select(Case)).one()  # exactly one case
    assert case_of(any_bot).status == "COMPLETED"
    for m in any_bot.smtp.messages:
        if m.header("X-Mailbot-Template") != "credentials":
            assert typed.encode() not in m.data, m.header("X-Mailbot-Template")
    for path in Path(any_bot.workdir).rglob("*"):
        if path.is_file():
            assert typed.encode() not in path.read_bytes(), path
    assert typed not in caplog.text


def test_generated_password_only_in_review_and_credentials(any_bot: Bot) -> None:
    """Scenario: SETUJU without a Password: line; the proposed password reaches the admin (review_request)
    and the PPK (credentials) and nothing else — not the database, the data directory or other mail."""
    review = submit(any_bot)
    with any_bot.app.factory() as s:
        proposed = s.scalars(select(Case)).one().proposed_password
    assert proposed and len(proposed) >= 12 and proposed.isalnum()
    assert proposed in review.data.decode("utf-8", "replace") or proposed in review.message.get_body(("plain",)).get_content()
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))  # quotes the review, password included
    any_bot.poll()
    [creds] = any_bot.sent("credentials")
    assert proposed in creds.message.get_body(("plain",)).get_content()
    for m in any_bot.smtp.messages:
        if m.header("X-Mailbot-Template") not in ("credentials", "review_request"):
            assert proposed not in m.message.as_string(), m.header("X-Mailbot-Template")
    for path in Path(any_bot.workdir).rglob("*"):
        if path.is_file():
            assert proposed.encode() not in path.read_bytes(), path


# -- a CLI decision racing an email decision -------------------------------------------------------
def test_cli_reject_racing_email_approve_applies_one_decision(any_bot: Bot,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: the operator runs `mailbot reject` while the daemon applies the admin's SETUJU reply
    (the daemon's poll runs to completion between the CLI's read and its write)."""
    import threading

    import mailbot.cases.decisions as D

    review = submit(any_bot)
    number = case_of(any_bot).number
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    real = D.on_admin_decision
    raced: list[bool] = []

    def racing(view, action, **kw):  # type: ignore[no-untyped-def]
        if action == "reject" and not raced:
            raced.append(True)
            daemon = threading.Thread(target=any_bot.poll)
            daemon.start()
            daemon.join()
        return real(view, action, **kw)

    monkeypatch.setattr(D, "on_admin_decision", racing)
    try:
        D.decide_from_cli(any_bot.app, number, D.CliCommand.make("reject", "NIP tidak sesuai"), "operator",
                          datetime.now(timezone.utc))
    except D.DecisionRefused:
        pass  # the correct outcome: the case was decided meanwhile
    any_bot.poll()
    assert raced
    outcomes = [t for t in ("credentials", "rejected") if any_bot.sent(t)]
    assert len(outcomes) == 1, outcomes


# -- two admins -----------------------------------------------------------------------------------
def test_two_admins_each_get_own_review_code(two_admins: Bot) -> None:
    """Scenario: with two admins configured, each gets one review_request with a different code."""
    case = submit_case(two_admins)
    a, b = review_for(two_admins, case, ADMIN), review_for(two_admins, case, ADMIN_B)
    assert code_of(a) != code_of(b)


def test_admin_using_other_admins_code_is_refused(two_admins: Bot) -> None:
    """Scenario: admin A replies SETUJU to B's review email (B's code) → refused, error to A only."""
    case = submit_case(two_admins)
    review_b = review_for(two_admins, case, ADMIN_B)
    before = len(two_admins.smtp.messages)
    two_admins.append(reply_email(review_b, ADMIN, "Admin A", "SETUJU"))
    two_admins.poll()
    assert get_case(two_admins, case).status == "AWAITING_REVIEW"
    new = two_admins.smtp.messages[before:]
    assert [(m.header("X-Mailbot-Template"), m.rcpt_tos) for m in new] == [("admin_command_error", [ADMIN])]
    assert "bukan milik alamat Anda" in body(new[0])
    assert [e.detail for e in refusals(two_admins)] == [
        "kode tinjauan pada email ini bukan milik alamat Anda atau bukan untuk perkara ini"]
    # B's own code still works afterwards: the refused attempt spent nothing.
    two_admins.append(reply_email(review_b, ADMIN_B, "Admin B", "SETUJU"))
    two_admins.poll()
    assert get_case(two_admins, case).status == "COMPLETED"
    assert [m.rcpt_tos for m in two_admins.sent("credentials")] == [[EMAIL]]


def test_admin_using_code_of_another_case_is_refused(two_admins: Bot) -> None:
    """Scenario: A replies in case 1's thread but with A's code of case 2 → neither case changes."""
    case1 = submit_case(two_admins, PPK_A)
    case2 = submit_case(two_admins, PPK_B)
    review1 = review_for(two_admins, case1, ADMIN)
    code2 = code_of(review_for(two_admins, case2, ADMIN))
    raw = reply_email(review1, ADMIN, "Admin A", "SETUJU").replace(code_of(review1).encode(), code2.encode())
    assert code2.encode() in raw and code_of(review1).encode() not in raw
    before = len(two_admins.smtp.messages)
    two_admins.append(raw)
    two_admins.poll()
    assert get_case(two_admins, case1).status == "AWAITING_REVIEW"
    assert get_case(two_admins, case2).status == "AWAITING_REVIEW"
    new = two_admins.smtp.messages[before:]
    assert [(m.header("X-Mailbot-Template"), m.rcpt_tos) for m in new] == [("admin_command_error", [ADMIN])]
    assert [(e.case_id, "milik permohonan lain" in e.detail) for e in refusals(two_admins)] == [(case1.id, True)]
    # Both codes are still unspent: A's own reply in each thread decides that case only.
    two_admins.append(reply_email(review1, ADMIN, "Admin A", "TOLAK SK tidak sah"))
    two_admins.poll()
    assert (get_case(two_admins, case1).status, get_case(two_admins, case2).status) == ("REJECTED", "AWAITING_REVIEW")


def test_later_decision_by_second_admin_names_who_decided(two_admins: Bot) -> None:
    """Scenario: A rejects first; B's later SETUJU gets admin_command_error to B naming A."""
    case = submit_case(two_admins)
    two_admins.append(reply_email(review_for(two_admins, case, ADMIN), ADMIN, "Admin A", "TOLAK SK kedaluwarsa"))
    two_admins.poll()
    assert get_case(two_admins, case).status == "REJECTED"
    before = len(two_admins.smtp.messages)
    two_admins.append(reply_email(review_for(two_admins, case, ADMIN_B), ADMIN_B, "Admin B", "SETUJU"))
    two_admins.poll()
    assert get_case(two_admins, case).status == "REJECTED"
    new = two_admins.smtp.messages[before:]
    assert [(m.header("X-Mailbot-Template"), m.rcpt_tos) for m in new] == [("admin_command_error", [ADMIN_B])]
    assert f"sudah diputuskan oleh {ADMIN}" in body(new[0])
    assert two_admins.sent("credentials") == []
    assert len(two_admins.sent("rejected")) == 1
    assert "sudah diputuskan" in refusals(two_admins)[-1].detail


# -- PPK missing from the registry -------------------------------------------------------------------
STRANGER_PPK = ("Joko Prasetyo", "199002142015031004", "joko.prasetyo@desa-demo.go.id")


def test_unregistered_ppk_needs_explicit_send_to_sender(any_bot: Bot) -> None:
    """Scenario: a PPK not in the registry; SETUJU alone is refused, with 'Kirim ke pengirim: ya' → credentials."""
    case = submit_case(any_bot, STRANGER_PPK)
    assert get_case(any_bot, case).ppk_id is None
    review = review_for(any_bot, case)
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    assert get_case(any_bot, case).status == "AWAITING_REVIEW"
    assert any_bot.sent("credentials") == []
    errors = any_bot.sent("admin_command_error")
    assert [m.rcpt_tos for m in errors] == [[ADMIN]]
    assert "Kirim ke pengirim: ya" in body(errors[0])
    assert "tidak terdaftar" in refusals(any_bot)[-1].detail
    any_bot.append(reply_email(review, ADMIN, "Admin", "SETUJU\nKirim ke pengirim: ya"))
    any_bot.poll()
    assert get_case(any_bot, case).status == "COMPLETED"
    assert [m.rcpt_tos for m in any_bot.sent("credentials")] == [[STRANGER_PPK[2]]]


def test_unregistered_ppk_gmail_reply_with_options(any_bot: Bot) -> None:
    """Scenario: Gmail base64 reply with Password:, User ID: and 'Kirim ke pengirim: ya' for an unregistered PPK."""
    case = submit_case(any_bot, STRANGER_PPK)
    any_bot.append(rewrite_fixture("gmail_id_setuju_options_base64.eml", review_for(any_bot, case)))
    any_bot.poll()
    assert get_case(any_bot, case).status == "COMPLETED"
    creds = any_bot.sent("credentials")
    assert [m.rcpt_tos for m in creds] == [[STRANGER_PPK[2]]]
    content = body(creds[0])
    assert "Lpse2026Bys" in content and "budi.ppk" in content
    assert "PPK belum ada di registri" in content
    assert_password_not_stored(any_bot, "Lpse2026Bys")


# -- user-ID requests ---------------------------------------------------------------------------------
def test_user_id_request_approved_sends_registry_user_id_without_password(any_bot: Bot) -> None:
    """Scenario: a user-ID request; SETUJU → credentials with the registry user ID and no password line."""
    case = submit_case(any_bot, subject="Permohonan informasi user ID SPSE")
    assert get_case(any_bot, case).request_type == "user_id_info"
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU"))
    any_bot.poll()
    assert get_case(any_bot, case).status == "COMPLETED"
    creds = any_bot.sent("credentials")
    assert [m.rcpt_tos for m in creds] == [[EMAIL]]
    content = body(creds[0])
    assert f"User ID SPSE: {USER_ID}" in content
    assert "Password sementara" not in content
    assert "Password sementara" not in creds[0].message.get_body(("html",)).get_content()


def test_user_id_request_user_id_line_overrides_registry(any_bot: Bot) -> None:
    """Scenario: a user-ID request; 'SETUJU' + 'User ID: xyz' → credentials carry xyz, not the registry ID."""
    case = submit_case(any_bot, subject="Permohonan informasi user ID SPSE")
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU\nUser ID: budi.ppk.2026"))
    any_bot.poll()
    content = body(any_bot.sent("credentials")[0])
    assert "User ID SPSE: budi.ppk.2026" in content
    assert f"User ID SPSE: {USER_ID}\n" not in content
    assert "Password sementara" not in content


# -- refusals: audited, case unchanged, nothing to strangers ------------------------------------------------
REFUSED_REPLIES = [
    ("stranger", "mallory@evil.example", "Mallory"),
    ("lookalike_address", ADMIN + ".evil.example", "Admin Agency"),
    ("admin_in_display_name", "mallory@evil.example", ADMIN),
]


@pytest.mark.parametrize(("sender", "name"), [r[1:] for r in REFUSED_REPLIES], ids=[r[0] for r in REFUSED_REPLIES])
def test_stranger_replaying_review_is_audited_and_answered_never(any_bot: Bot, sender: str, name: str) -> None:
    """Scenario: a non-admin replays a real review email with SETUJU → audited refusal, case unchanged, no mail."""
    case = submit_case(any_bot)
    before = get_case(any_bot, case)
    sent_before = len(any_bot.smtp.messages)
    any_bot.append(reply_email(review_for(any_bot, case), sender, name, "SETUJU"))
    any_bot.poll()
    after = get_case(any_bot, case)
    assert (after.status, after.review_round, after.decided_by, after.proposed_password) == (
        before.status, before.review_round, before.decided_by, before.proposed_password)
    events = refusals(any_bot)
    assert len(events) == 1 and events[0].case_id == case.id
    assert sender in events[0].detail and "non-admin" in events[0].detail
    assert any_bot.smtp.messages[sent_before:] == []
