"""Authenticated admin mail (admins.require_authenticated_admin_mail): a decision counts only when the
receiving server's Authentication-Results pass for the admin's own domain."""

from __future__ import annotations

import pytest

from tests.support.bot import Bot
from tests.support.mails import ADMIN, PPK_A, reply_email
from tests.support.replies import AUTH_OK, rewrite_fixture, with_headers
from tests.support.review import (
    body,
    get_case,
    refusals,
    review_for,
    set_auth,
    submit_case,
)

NAME, NIP, EMAIL, USER_ID = PPK_A[0], PPK_A[1], PPK_A[2], PPK_A[3]


@pytest.fixture
def strict_bot(any_bot: Bot) -> Bot:
    """require_authenticated_admin_mail = true; trusted_authserv_ids (mandatory with it): our MX."""
    set_auth(any_bot, True, ("mx.lpse-demo.go.id",))
    return any_bot


# -- authenticated admin mail ----------------------------------------------------------------------
def test_unauthenticated_reply_refused_when_required(strict_bot: Bot) -> None:
    """Scenario: authentication required, reply without Authentication-Results → refused, case unchanged."""
    case = submit_case(strict_bot)
    strict_bot.append(reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU"))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "AWAITING_REVIEW"
    assert strict_bot.sent("credentials") == []
    assert [m.rcpt_tos for m in strict_bot.sent("admin_command_error")] == [[ADMIN]]
    assert "autentikasi" in refusals(strict_bot)[-1].detail


def test_authenticated_reply_applied_when_required(strict_bot: Bot) -> None:
    """Scenario: authentication required, the receiving server says dkim=pass, dmarc=pass → applied."""
    case = submit_case(strict_bot)
    raw = reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU")
    strict_bot.append(with_headers(raw, Authentication_Results=AUTH_OK))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "COMPLETED"
    assert [m.rcpt_tos for m in strict_bot.sent("credentials")] == [[EMAIL]]
    assert refusals(strict_bot) == []


def test_dkim_pass_of_another_domain_is_not_enough(strict_bot: Bot) -> None:
    """Scenario: only dkim=pass for a domain unrelated to the admin's From (no dmarc) → refused."""
    case = submit_case(strict_bot)
    raw = reply_email(review_for(strict_bot, case), ADMIN, "Admin", "SETUJU")
    strict_bot.append(with_headers(raw, Authentication_Results="mx.lpse-demo.go.id; dkim=pass header.d=evil.example;"
                                                               " dmarc=fail"))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "AWAITING_REVIEW"
    assert strict_bot.sent("credentials") == []


def test_forged_authentication_results_from_untrusted_authserv_refused(strict_bot: Bot) -> None:
    """Scenario: trusted_authserv_ids set; the sender forged a dmarc=pass header from another authserv-id."""
    set_auth(strict_bot, True, ("mx.lpse-demo.go.id",))
    case = submit_case(strict_bot)
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
    case = submit_case(strict_bot)
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
    case = submit_case(strict_bot)
    raw = rewrite_fixture("zimbra_id_tolak.eml", review_for(strict_bot, case))
    strict_bot.append(with_headers(raw, Authentication_Results=AUTH_OK))
    strict_bot.poll()
    assert get_case(strict_bot, case).status == "REJECTED"
    assert "tidak mencantumkan nomor surat" in body(strict_bot.sent("rejected")[0])
