"""Whether an admin's mail counts as authenticated: what the receiving server's Authentication-Results say."""

from __future__ import annotations

from tests.support.mails import ADMIN, BOT


def test_dmarc_pass_for_another_domain_does_not_authenticate_admin() -> None:
    """Scenario: the receiving server says dmarc=pass for evil.example; mailbot read the From as the admin."""
    from mailbot.cases.decisions import authenticated
    from mailbot.intake.parse import parse_message

    raw = (f"Authentication-Results: mx.lpse-demo.go.id; dkim=pass header.d=evil.example; "
           f"dmarc=pass header.from=evil.example\r\nFrom: Admin <{ADMIN}>\r\nTo: {BOT}\r\n"
           "Subject: Re: x\r\nMessage-ID: <r1@evil.example>\r\n\r\nSETUJU\r\n").encode()
    ok, _why = authenticated(parse_message(raw), ("mx.lpse-demo.go.id",))
    assert not ok
