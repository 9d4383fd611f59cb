"""Issue 4 (points 2, 3, 6): admin decisions from real mail clients, several admins, authenticated
admin mail, PPKs missing from the registry, user-ID requests and the admin digest — on real servers."""

from __future__ import annotations

import base64
import dataclasses
import email
import quopri
import re
from collections.abc import Iterator
from datetime import datetime
from email.header import Header, decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.cases.commands import REVIEW_CODE_RE
from mailbot.demo import samplepdf
from mailbot.demo.servers import EmbeddedSmtp
from mailbot.demo.world import ADMIN, reply_email, request_email
from mailbot.intake.parse import parse_message
from mailbot.store.models import Case, Event, InboundMessage
from tests.conftest import PPK_A, PPK_B, Bot, make_bot

FIXTURES = Path(__file__).parent / "fixtures" / "replies"
FIXTURE_CASE = "LPSE-BYS-2026-00042"
ADMIN_B = "kepala.seksi@lpse-demo.go.id"
WIB = ZoneInfo("Asia/Jakarta")
NAME, NIP, EMAIL, USER_ID = PPK_A[0], PPK_A[1], PPK_A[2], PPK_A[3]
AUTH_OK = "mx.lpse-demo.go.id; dkim=pass header.d=lpse-demo.go.id; dmarc=pass"


# -- fixtures and helpers ---------------------------------------------------------------------
def _bot(tmp_path: Path, request: pytest.FixtureRequest, smtp: EmbeddedSmtp, monkeypatch: pytest.MonkeyPatch,
         **cfg: object) -> Bot:
    from tests.servers import find_dovecot

    imap = request.getfixturevalue("dovecot_server" if find_dovecot() else "pymap_server")
    return make_bot(tmp_path, imap, smtp, f"sqlite:///{tmp_path / 'mailbot.db'}", monkeypatch, **cfg)


@pytest.fixture
def two_admins(tmp_path: Path, request: pytest.FixtureRequest, smtp_server: EmbeddedSmtp,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    """A bot with two Admin Agency addresses configured."""
    b = _bot(tmp_path, request, smtp_server, monkeypatch, admins=(ADMIN, ADMIN_B))
    yield b
    b.app.engine.dispose()


@pytest.fixture
def strict_bot(any_bot: Bot) -> Bot:
    """require_authenticated_admin_mail = true, no trusted_authserv_ids."""
    set_auth(any_bot, True)
    return any_bot


def set_auth(bot: Bot, required: bool, trusted: tuple[str, ...] = ()) -> None:
    s = bot.app.settings
    bot.app.settings = dataclasses.replace(s, admins=dataclasses.replace(
        s.admins, require_authenticated_admin_mail=required, trusted_authserv_ids=trusted))


def submit(bot: Bot, sender: tuple[str, ...] = PPK_A, subject: str = "Permohonan reset password SPSE",
           now: datetime | None = None) -> Case:
    """The PPK mails a complete request; returns the case (now AWAITING_REVIEW)."""
    name, nip, addr = sender[0], sender[1], sender[2]
    bot.append(request_email(addr, name, subject, f"Dengan hormat, mohon {subject.lower()}. NIP. {nip}",
                             [("Surat Permohonan.pdf", samplepdf.sample_request_letter(name, nip)),
                              ("SK PPK.pdf", samplepdf.sample_sk(name, nip))]))
    bot.poll(now)
    with bot.app.factory() as s:
        case = s.scalars(select(Case).where(Case.sender == addr).order_by(Case.id.desc())).first()
    assert case is not None and case.status == "AWAITING_REVIEW", case and case.status
    return case


def review_for(bot: Bot, case: Case, admin: str = ADMIN):  # type: ignore[no-untyped-def]
    found = [m for m in bot.sent("review_request") if m.rcpt_tos == [admin] and case.number in m.header("Subject")]
    assert len(found) == 1, [m.header("Subject") for m in bot.sent("review_request")]
    return found[-1]


def code_of(review) -> str:  # type: ignore[no-untyped-def]
    m = REVIEW_CODE_RE.search(review.header("Subject"))
    assert m is not None
    return m.group(0)


def get_case(bot: Bot, case: Case) -> Case:
    with bot.app.factory() as s:
        found = s.get(Case, case.id)
        assert found is not None
        return found


def refusals(bot: Bot) -> list[Event]:
    with bot.app.factory() as s:
        return list(s.scalars(select(Event).where(Event.kind == "decision_refused").order_by(Event.id)))


def body(mail) -> str:  # type: ignore[no-untyped-def]
    return mail.message.get_body(("plain",)).get_content()


def recipients(bot: Bot) -> set[str]:
    return {r for m in bot.smtp.messages for r in m.rcpt_tos}


def with_headers(raw: bytes, **headers: str) -> bytes:
    """Prepend headers as a receiving MTA would (Authentication-Results goes on top)."""
    lines = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items())
    return lines.encode() + raw


def _set_text(part: Message, text: str, charset: str) -> None:
    """Re-encode a text part under its own Content-Transfer-Encoding."""
    data = text.encode(charset)
    cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte == "base64":
        part.set_payload(base64.encodebytes(data).decode("ascii"))
    elif cte == "quoted-printable":
        part.set_payload(quopri.encodestring(data).decode("ascii"))
    else:
        part.set_payload(data.decode("ascii", "surrogateescape"))


def rewrite_fixture(name: str, review, sender: str = ADMIN, number: str | None = None,  # type: ignore[no-untyped-def]
                    code: str | None = None) -> bytes:
    """A real client's reply fixture, re-addressed to a review_request the bot really sent: case number,
    review code (subject and every text part, re-encoded in its own CTE), From, In-Reply-To/References."""
    number = number or re.search(r"\[([A-Z0-9-]+-\d{4}-\d{5})\]", review.header("Subject")).group(1)
    code = code or code_of(review)
    msg = email.message_from_bytes((FIXTURES / name).read_bytes(), policy=compat32)

    def swap(text: str) -> str:
        return REVIEW_CODE_RE.sub(code, text.replace(FIXTURE_CASE, number))

    subject = swap(str(make_header(decode_header(msg["Subject"]))))
    for h in ("Subject", "From", "In-Reply-To", "References", "Message-ID", "Return-Path", "Authentication-Results"):
        del msg[h]
    msg["From"] = f"Admin Agency <{sender}>"
    msg["Subject"] = Header(subject, "utf-8").encode()
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["In-Reply-To"] = review.header("Message-ID")
    msg["References"] = review.header("Message-ID")
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        charset = part.get_content_charset() or "us-ascii"
        data = part.get_payload(decode=True)
        text = data.decode(charset, "surrogateescape")
        new = swap(text)
        if new != text:
            _set_text(part, new, charset)
    # Thread-Topic and the like carry the case number in plain ASCII.
    raw = msg.as_bytes(policy=compat32).replace(FIXTURE_CASE.encode(), number.encode())
    assert FIXTURE_CASE.encode() not in raw
    return raw


def assert_password_not_stored(bot: Bot, password: str) -> None:
    """The admin's typed password is nowhere on disk: not in any file, not in any decoded stored message."""
    for path in bot.workdir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    with bot.app.factory() as s:
        blobs = s.scalars(select(InboundMessage.raw_blob)).all()
    for blob in blobs:
        stored = parse_message(bot.app.store.get(blob))
        assert password not in (stored.text or "") + (stored.html or ""), blob


# -- real client reply formats, end to end ------------------------------------------------------
# (fixture, expected outcome template, text the outcome mail must carry, password the PPK must get)
CLIENT_REPLIES = [
    ("gmail_id_setuju.eml", "credentials", None, "proposed"),
    ("outlook_desktop_en_approve_password.eml", "credentials", None, "Tmp#2026=bys"),
    ("outlook_id_lengkapi.eml", "incomplete", "SK pengangkatan PPK yang sudah ditandatangani dan distempel.", None),
    ("outlook_id_windows1252_tolak.eml", "rejected", "SK tahun anggaran 2024 \u2013 mohon PPK mengirim SK", None),
    ("zimbra_id_tolak.eml", "rejected", "surat permohonan tidak ditandatangani PPK", None),
    ("apple_mail_en_approve_note.eml", "credentials", "Verified by phone with the PPK this morning.", "proposed"),
    ("html_only_webmail_approve_base64.eml", "credentials", "budi.ppk", "Rc!2026-Bys"),
    ("owa_en_html_only_reject.eml", "rejected", "does not match the registry", None),
    ("thunderbird_id_bottom_post_setuju.eml", "credentials", None, "proposed"),
    ("yahoo_en_incomplete.eml", "incomplete", "the SK attached is for a different satker.", None),
    ("trap_keyword_only_in_quote.eml", "admin_command_error", "tidak memuat keputusan", None),
    ("trap_setuju_kalau_datanya_benar.eml", "admin_command_error", "sendiri pada barisnya", None),
    ("tolak_without_reason.eml", "admin_command_error", "harus disertai alasan", None),
]
STATUS_AFTER = {"credentials": "COMPLETED", "rejected": "REJECTED", "incomplete": "AWAITING_DOCUMENTS",
                "admin_command_error": "AWAITING_REVIEW"}


@pytest.mark.parametrize(("fixture", "outcome", "text", "password"), CLIENT_REPLIES,
                         ids=[c[0].removesuffix(".eml") for c in CLIENT_REPLIES])
def test_real_client_reply_end_to_end(any_bot: Bot, fixture: str, outcome: str, text: str | None,
                                      password: str | None) -> None:
    """Scenario: the admin answers a real review_request from a real mail client; the PPK gets the outcome."""
    case = submit(any_bot)
    proposed = get_case(any_bot, case).proposed_password
    review = review_for(any_bot, case)
    any_bot.append(rewrite_fixture(fixture, review))
    any_bot.poll()
    after = get_case(any_bot, case)
    assert after.status == STATUS_AFTER[outcome]
    outcomes = [m for m in any_bot.smtp.messages
                if m.header("X-Mailbot-Template") in ("credentials", "rejected", "incomplete", "admin_command_error")]
    assert [m.header("X-Mailbot-Template") for m in outcomes] == [outcome]
    sent = outcomes[0]
    assert sent.rcpt_tos == ([ADMIN] if outcome == "admin_command_error" else [EMAIL])
    content = body(sent)
    if text:
        assert text in content
    if password:
        expected = proposed if password == "proposed" else password
        assert expected and expected in content
        assert after.proposed_password is None
        assert [m.rcpt_tos for m in any_bot.sent("admin_confirmation")] == [[ADMIN]]
        assert expected.encode() not in any_bot.sent("admin_confirmation")[0].data
        if password != "proposed":
            assert_password_not_stored(any_bot, expected)
    if outcome == "admin_command_error":  # a refusal: audited with its reason, the case untouched
        assert [(e.case_id, text in e.detail) for e in refusals(any_bot)] == [(case.id, True)]
        assert (after.review_round, after.decided_by, after.proposed_password) == (1, None, proposed)
    else:
        assert refusals(any_bot) == []
    assert recipients(any_bot) <= {EMAIL, ADMIN}


# -- two admins -----------------------------------------------------------------------------------
def test_two_admins_each_get_own_review_code(two_admins: Bot) -> None:
    """Scenario: with two admins configured, each gets one review_request with a different code."""
    case = submit(two_admins)
    a, b = review_for(two_admins, case, ADMIN), review_for(two_admins, case, ADMIN_B)
    assert code_of(a) != code_of(b)


def test_admin_using_other_admins_code_is_refused(two_admins: Bot) -> None:
    """Scenario: admin A replies SETUJU to B's review email (B's code) → refused, error to A only."""
    case = submit(two_admins)
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
    case1 = submit(two_admins, PPK_A)
    case2 = submit(two_admins, PPK_B)
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
    case = submit(two_admins)
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


# -- authenticated admin mail ----------------------------------------------------------------------
def test_unauthenticated_reply_refused_when_required(strict_bot: Bot) -> None:
    """Scenario: authentication required, reply without Authentication-Results → refused, case unchanged."""
    case = submit(strict_bot)
    strict_bot.append(reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU"))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "AWAITING_REVIEW"
    assert strict_bot.sent("credentials") == []
    assert [m.rcpt_tos for m in strict_bot.sent("admin_command_error")] == [[ADMIN]]
    assert "autentikasi" in refusals(strict_bot)[-1].detail


def test_authenticated_reply_applied_when_required(strict_bot: Bot) -> None:
    """Scenario: authentication required, the receiving server says dkim=pass, dmarc=pass → applied."""
    case = submit(strict_bot)
    raw = reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU")
    strict_bot.append(with_headers(raw, Authentication_Results=AUTH_OK))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "COMPLETED"
    assert [m.rcpt_tos for m in strict_bot.sent("credentials")] == [[EMAIL]]
    assert refusals(strict_bot) == []


def test_dkim_pass_of_another_domain_is_not_enough(strict_bot: Bot) -> None:
    """Scenario: only dkim=pass for a domain unrelated to the admin's From (no dmarc) → refused."""
    case = submit(strict_bot)
    raw = reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU")
    strict_bot.append(with_headers(raw, Authentication_Results="mx.lpse-demo.go.id; dkim=pass header.d=evil.example;"
                                                               " dmarc=fail"))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "AWAITING_REVIEW"
    assert strict_bot.sent("credentials") == []


def test_forged_authentication_results_from_untrusted_authserv_refused(strict_bot: Bot) -> None:
    """Scenario: trusted_authserv_ids set; the sender forged a dmarc=pass header from another authserv-id."""
    set_auth(strict_bot, True, ("mx.lpse-demo.go.id",))
    case = submit(strict_bot)
    raw = reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU")
    forged = with_headers(raw, Authentication_Results="mx.attacker.example; dkim=pass header.d=lpse-demo.go.id; "
                                                      "dmarc=pass")
    strict_bot.append(forged)
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "AWAITING_REVIEW"
    assert strict_bot.sent("credentials") == []
    assert [m.rcpt_tos for m in strict_bot.sent("admin_command_error")] == [[ADMIN]]
    assert "autentikasi" in refusals(strict_bot)[-1].detail
    # The same reply as stamped by the trusted receiving server is applied.
    strict_bot.append(with_headers(raw.replace(b"Message-ID: <", b"Message-ID: <x"), Authentication_Results=AUTH_OK))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "COMPLETED"


def test_forged_pass_below_receiving_servers_fail_is_refused(strict_bot: Bot) -> None:
    """Scenario: our MX stamps dmarc=fail on top; the sender's own forged dmarc=pass header sits below → refused."""
    case = submit(strict_bot)
    raw = reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU")
    forged = with_headers(raw, Authentication_Results=AUTH_OK)  # written by the sender
    stamped = with_headers(forged, Authentication_Results="mx.lpse-demo.go.id; spf=fail; dkim=none; dmarc=fail")
    strict_bot.append(stamped)
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "AWAITING_REVIEW"
    assert strict_bot.sent("credentials") == []
    assert "autentikasi" in refusals(strict_bot)[-1].detail


def test_real_client_reply_with_authentication(strict_bot: Bot) -> None:
    """Scenario: authentication required, a Zimbra reply stamped dmarc=pass by our MX → rejected with reason."""
    case = submit(strict_bot)
    raw = rewrite_fixture("zimbra_id_tolak.eml", review_for(strict_bot, case))
    strict_bot.append(with_headers(raw, Authentication_Results=AUTH_OK))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "REJECTED"
    assert "tidak mencantumkan nomor surat" in body(strict_bot.sent("rejected")[0])


# -- PPK missing from the registry -------------------------------------------------------------------
STRANGER_PPK = ("Joko Prasetyo", "199002142015031004", "joko.prasetyo@desa-demo.go.id")


def test_unregistered_ppk_needs_explicit_send_to_sender(any_bot: Bot) -> None:
    """Scenario: a PPK not in the registry; SETUJU alone is refused, with 'Kirim ke pengirim: ya' → credentials."""
    case = submit(any_bot, STRANGER_PPK)
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
    case = submit(any_bot, STRANGER_PPK)
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
    case = submit(any_bot, subject="Permohonan informasi user ID SPSE")
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
    case = submit(any_bot, subject="Permohonan informasi user ID SPSE")
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "SETUJU\nUser ID: budi.ppk.2026"))
    any_bot.poll()
    content = body(any_bot.sent("credentials")[0])
    assert "User ID SPSE: budi.ppk.2026" in content
    assert f"User ID SPSE: {USER_ID}\n" not in content
    assert "Password sementara" not in content


# -- admin digest ---------------------------------------------------------------------------------------
def test_admin_digest_on_working_mornings(two_admins: Bot) -> None:
    """Scenario: a case waiting since yesterday → one digest per admin at 08:05, overdue marked; not twice, not
    on Saturday."""
    tue = datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
    old = submit(two_admins, PPK_A, now=tue)
    fresh = submit(two_admins, PPK_B, now=datetime(2026, 11, 25, 7, 30, tzinfo=WIB))  # before office hours
    assert two_admins.sent("admin_digest") == []
    two_admins.poll(datetime(2026, 11, 25, 7, 59, tzinfo=WIB))
    assert two_admins.sent("admin_digest") == []  # not before admin_digest_time
    two_admins.poll(datetime(2026, 11, 25, 8, 5, tzinfo=WIB))
    digests = two_admins.sent("admin_digest")
    assert sorted(r for m in digests for r in m.rcpt_tos) == sorted([ADMIN, ADMIN_B])
    assert all(len(m.rcpt_tos) == 1 for m in digests)
    text = body(digests[0])
    old_line = next(line for line in text.splitlines() if old.number in line)
    fresh_line = next(line for line in text.splitlines() if fresh.number in line)
    assert "MELEWATI SLA" in old_line
    assert "MELEWATI SLA" not in fresh_line
    assert "1 di antaranya melewati" in text
    assert "(1 melewati SLA)" in digests[0].header("Subject")
    two_admins.poll(datetime(2026, 11, 25, 11, 0, tzinfo=WIB))
    assert len(two_admins.sent("admin_digest")) == 2
    two_admins.poll(datetime(2026, 11, 28, 9, 0, tzinfo=WIB))  # Saturday
    assert len(two_admins.sent("admin_digest")) == 2
    two_admins.poll(datetime(2026, 11, 30, 8, 30, tzinfo=WIB))  # Monday: still waiting → a new digest
    assert len(two_admins.sent("admin_digest")) == 4


def test_no_digest_when_nothing_waits(any_bot: Bot) -> None:
    """Scenario: the only case was decided yesterday → no digest the next working morning."""
    case = submit(any_bot, now=datetime(2026, 11, 24, 10, 0, tzinfo=WIB))
    any_bot.append(reply_email(review_for(any_bot, case), ADMIN, "Admin", "TOLAK SK tidak sah"))
    any_bot.poll(datetime(2026, 11, 24, 10, 30, tzinfo=WIB))
    any_bot.poll(datetime(2026, 11, 25, 8, 30, tzinfo=WIB))
    assert any_bot.sent("admin_digest") == []


# -- refusals: audited, case unchanged, nothing to strangers ------------------------------------------------
REFUSED_REPLIES = [
    ("stranger", "mallory@evil.example", "Mallory"),
    ("lookalike_address", ADMIN + ".evil.example", "Admin Agency"),
    ("admin_in_display_name", "mallory@evil.example", ADMIN),
]


@pytest.mark.parametrize(("sender", "name"), [r[1:] for r in REFUSED_REPLIES], ids=[r[0] for r in REFUSED_REPLIES])
def test_stranger_replaying_review_is_audited_and_answered_never(any_bot: Bot, sender: str, name: str) -> None:
    """Scenario: a non-admin replays a real review email with SETUJU → audited refusal, case unchanged, no mail."""
    case = submit(any_bot)
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
