"""Tests for mailbot.classify: which mail is automatic (and why), bounced Message-IDs, request types."""

from __future__ import annotations

import pytest

from mailbot.domain.mail import ParsedMail
from mailbot.intake.classify import (
    automatic_reason,
    bounced_message_ids,
    detect_request_type,
    is_bounce,
)
from mailbot.intake.parse import parse_message

OWN = ["lpse@lpse.example.go.id"]
OWN_DOMAIN = "mailbot.lpse.example.go.id"
HUMAN = ("From: Budi Santoso <budi@pu.example.go.id>\nTo: lpse@lpse.example.go.id\n"
         "Subject: Permohonan reset password\nMessage-ID: <req-1@pu.example.go.id>\n")


def mail(extra_headers: str = "", base: str = HUMAN, body: str = "Dengan hormat.\n") -> ParsedMail:
    headers = base + extra_headers.strip("\n") + ("\n" if extra_headers else "")
    return parse_message((headers + "\n" + body).encode("utf-8"))


def reason(m: ParsedMail) -> str | None:
    return automatic_reason(m, OWN, OWN_DOMAIN)


DSN = ("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: lpse@lpse.example.go.id\n"
       "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn-1@mx.example.net>\n"
       "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
       "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n")
DSN_BODY = ("--r\nContent-Type: text/plain\n\nThis is the mail system.\n"
            "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
            "Final-Recipient: rfc822; budi@pu.example.go.id\nAction: failed\nStatus: 5.1.1\n"
            "--r\nContent-Type: text/rfc822-headers\n\nFrom: lpse@lpse.example.go.id\n"
            "Message-ID:\n <out-42.LPSE-BYS-2026-00042@mailbot.lpse.example.go.id>\nSubject: [LPSE-BYS-2026-00042]\n"
            "--r--\n")


def test_a_person_writing_a_request_is_not_automatic() -> None:
    m = mail()

    assert reason(m) is None
    assert not is_bounce(m)


# --------------------------------------------------------------------------- bounces

def test_dsn_is_a_bounce_before_its_auto_submitted_header() -> None:
    m = mail(base=DSN, body=DSN_BODY)

    assert reason(m) == "bounce: Content-Type multipart/report (report-type=delivery-status)"
    assert is_bounce(m)


@pytest.mark.parametrize("headers, expected", [
    ("From: MAILER-DAEMON (Mail Delivery System)\nSubject: x\n", "bounce: From is mailer-daemon"),
    ("From: postmaster@mx.example.net\nSubject: x\n", "bounce: From is postmaster"),
    ("From: mta@mx.example.net\nX-Failed-Recipients: budi@pu.example.go.id\nSubject: x\n",
     "bounce: X-Failed-Recipients header"),
])
def test_bounce_senders_and_exim_header(headers: str, expected: str) -> None:
    m = mail(base=headers)

    assert reason(m) == expected
    assert is_bounce(m)


@pytest.mark.parametrize("subject", [
    "Undelivered Mail Returned to Sender",
    "Delivery Status Notification (Failure)",
    "failure notice",
    "Mail delivery failed: returning message to sender",
    "Undeliverable: Permohonan reset password",
    "Pemberitahuan Status Pengiriman (Gagal)",
    "Tidak dapat dikirim: Permohonan reset password",
])
def test_typical_bounce_subjects(subject: str) -> None:
    m = mail(base=f"From: robot@mx.example.net\nSubject: {subject}\n")

    assert (reason(m) or "").startswith("bounce: Subject")
    assert is_bounce(m)


def test_a_person_mentioning_a_failed_delivery_is_not_a_bounce() -> None:
    m = mail(base="From: budi@pu.example.go.id\n"
                  "Subject: Kirim ulang: email sebelumnya gagal terkirim (undelivered)\n")

    assert reason(m) is None


def test_empty_return_path_alone_is_a_bounce_but_not_on_an_auto_reply() -> None:
    bare = mail("Return-Path: <>")
    vacation = mail("Return-Path: <>\nAuto-Submitted: auto-replied")

    assert reason(bare) == "bounce: empty Return-Path (<>)"
    assert is_bounce(bare)
    # RFC 3834 auto-responders also send from the null sender: that is not a delivery failure.
    assert reason(vacation) == "auto-reply: Auto-Submitted auto-replied"
    assert not is_bounce(vacation)


@pytest.mark.parametrize("report_type", ["disposition-notification", "feedback-report"])
def test_read_receipts_and_abuse_reports_are_automatic_but_not_bounces(report_type: str) -> None:
    m = mail(base=f"From: budi@pu.example.go.id\nSubject: Dibaca: permohonan\nMIME-Version: 1.0\n"
                  f"Content-Type: multipart/report; report-type={report_type}; boundary=r\n",
             body="--r\nContent-Type: text/plain\n\nDibaca.\n--r--\n")

    assert reason(m) == f"auto-reply: multipart/report (report-type={report_type})"
    assert not is_bounce(m)


# --------------------------------------------------------------------------- auto-replies

@pytest.mark.parametrize("header, expected", [
    ("Auto-Submitted: auto-replied", "auto-reply: Auto-Submitted auto-replied"),
    ("Auto-Submitted: auto-generated; owner-email=x@y", "auto-reply: Auto-Submitted auto-generated"),
    ("X-Autoreply: yes", "auto-reply: X-Autoreply header"),
    ("X-Autorespond: Sedang cuti", "auto-reply: X-Autorespond header"),
    ("X-Auto-Response-Suppress: All", "auto-reply: X-Auto-Response-Suppress header"),
    ("X-MS-Exchange-Inbox-Rules-Loop: budi@pu.example.go.id", "auto-reply: X-Ms-Exchange-Inbox-Rules-Loop header"),
    ("Precedence: bulk", "auto-reply: Precedence bulk"),
    ("Precedence: junk", "auto-reply: Precedence junk"),
    ("Precedence: list", "auto-reply: Precedence list"),
    ("Precedence: auto_reply", "auto-reply: Precedence auto_reply"),
])
def test_auto_reply_headers(header: str, expected: str) -> None:
    assert reason(mail(header)) == expected


def test_auto_submitted_no_and_precedence_first_class_are_human() -> None:
    assert reason(mail("Auto-Submitted: no\nPrecedence: first-class")) is None


@pytest.mark.parametrize("subject", [
    "Automatic reply: Permohonan reset password",
    "Out of Office: Permohonan reset password",
    "Balasan otomatis: Permohonan reset password",
    "Auto: Permohonan",
])
def test_auto_reply_subjects(subject: str) -> None:
    m = mail(base=f"From: budi@pu.example.go.id\nSubject: {subject}\n")

    assert (reason(m) or "").startswith("auto-reply: Subject")
    assert not is_bounce(m)


def test_out_of_office_words_anywhere_count_only_from_the_null_sender() -> None:
    subject = "Re: Permohonan reset password - sedang cuti"
    assert reason(mail(base=f"From: budi@pu.example.go.id\nSubject: {subject}\n")) is None
    nulled = mail(base=f"From: budi@pu.example.go.id\nReturn-Path: <>\nSubject: {subject}\n")
    assert (reason(nulled) or "").startswith("auto-reply: Subject")


@pytest.mark.parametrize("subject", [
    "Permohonan reset password - PPK sedang dinas di luar kantor",
    "Permohonan user ID (sedang cuti, mohon dibantu)",
])
def test_request_subjects_with_auto_reply_words_are_human(subject: str) -> None:
    assert reason(mail(base=f"From: budi@pu.example.go.id\nSubject: {subject}\n")) is None


# --------------------------------------------------------------------------- lists and own mail

@pytest.mark.parametrize("header, expected", [
    ("List-Id: <pengumuman.lpse.example.go.id>", "list: List-Id header"),
    ("List-Unsubscribe: <mailto:leave@example.go.id>", "list: List-Unsubscribe header"),
])
def test_mailing_lists(header: str, expected: str) -> None:
    assert reason(mail(header)) == expected


def test_own_address_and_own_message_id_domain() -> None:
    from_self = mail(base="From: LPSE <LPSE@lpse.example.go.id>\nSubject: [LPSE-BYS-2026-00001] Diterima\n")
    own_id = mail(base="From: someone@example.org\nMessage-ID: <x.1@Mailbot.LPSE.example.go.id>\n")

    assert reason(from_self) == "own mail: From is own address lpse@lpse.example.go.id"
    assert reason(own_id) == "own mail: Message-ID domain is mailbot.lpse.example.go.id"
    assert automatic_reason(own_id, OWN, "") is None  # no own domain configured


def test_rules_are_applied_in_order_bounce_auto_reply_list_own() -> None:
    everything = "Auto-Submitted: auto-replied\nList-Id: <l.example>\n"

    assert reason(mail(everything, base=DSN, body=DSN_BODY)).startswith("bounce:")
    assert reason(mail(everything)).startswith("auto-reply:")
    assert reason(mail("List-Id: <l.example>", base="From: lpse@lpse.example.go.id\n")).startswith("list:")


# --------------------------------------------------------------------------- bounced message-ids

def test_bounced_message_id_from_rfc822_headers_part() -> None:
    m = mail(base=DSN, body=DSN_BODY)

    assert bounced_message_ids(m) == ["<out-42.LPSE-BYS-2026-00042@mailbot.lpse.example.go.id>"]


def test_bounced_message_id_from_attached_message_ignores_its_body() -> None:
    body = ("--r\nContent-Type: text/plain\n\nGagal.\n--r\nContent-Type: message/rfc822\n\n"
            "From: lpse@lpse.example.go.id\nMessage-ID: <out-7@mailbot.lpse.example.go.id>\n\n"
            "Message-ID: <quoted-in-body@elsewhere.example>\n--r--\n")
    m = mail(base=DSN, body=body)

    assert bounced_message_ids(m) == ["<out-7@mailbot.lpse.example.go.id>"]


def test_bounced_message_id_from_body_lines_of_a_plain_bounce() -> None:
    body = ("Hi. This is the qmail-send program.\n\n--- Below this line is a copy of the message.\n\n"
            "Return-Path: <>\n  Message-ID: <out-9@mailbot.lpse.example.go.id>\n"
            "> message-id: <out-10@mailbot.lpse.example.go.id>\n")
    m = mail(base="From: MAILER-DAEMON@mx.example.net\nMessage-ID: <own-bounce@mx.example.net>\n", body=body)

    assert bounced_message_ids(m) == ["<out-9@mailbot.lpse.example.go.id>", "<out-10@mailbot.lpse.example.go.id>"]


def test_no_bounced_message_id_in_a_human_mail() -> None:
    assert bounced_message_ids(mail()) == []


# --------------------------------------------------------------------------- request type

@pytest.mark.parametrize("subject, body, expected", [
    ("Permohonan Reset Password SPSE", "", "reset_password"),
    ("Permohonan", "Saya lupa password akun SPSE.", "reset_password"),
    ("Permohonan", "Saya LUPA KATA SANDI akun SPSE.", "reset_password"),
    ("Perubahan Password PPK", "", "reset_password"),
    ("Mohon ganti password", "", "reset_password"),
    ("Permohonan", "mohon diberikan password baru", "reset_password"),
    ("Forgot password", "", "reset_password"),
    ("Mohon akun saya direset", "", "reset_password"),
    ("Permohonan Informasi User ID", "", "user_id_info"),
    ("Permohonan", "saya lupa userid SPSE", "user_id_info"),
    ("Permohonan", "mohon info user-id saya", "user_id_info"),
    ("Permohonan", "mohon informasi nama pengguna SPSE", "user_id_info"),
    ("Forgot username", "", "user_id_info"),
    ("Permohonan", "lupa user dan tidak bisa login", "user_id_info"),
    ("Reset Password dan Informasi User ID", "", "both"),
    ("Permohonan reset password", "sekalian mohon informasi user id", "both"),
    ("Permohonan", "Dengan hormat, terlampir dokumen.", "unknown"),
    ("", "", "unknown"),
])
def test_detect_request_type(subject: str, body: str, expected: str) -> None:
    assert detect_request_type(subject, body) == expected
