"""The RFC 8601 reading of Authentication-Results on real headers, the decision's authentication rule
on it, and the config rule that trusted authserv-ids come with require_authenticated_admin_mail."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.cases.authresults import parse, tokenize
from mailbot.cases.decisions import authenticated
from mailbot.cli import main
from mailbot.domain.mail import ParsedMail
from tests.support.config import write_config

# Headers as real receiving servers write them (RFC 8601 appendix B, Gmail, OpenDKIM, Microsoft 365).
GMAIL = ("mx.google.com; dkim=pass header.i=@lpse-demo.go.id header.s=sel1 header.b=Ab12Cd34; "
         "spf=pass (google.com: domain of admin@lpse-demo.go.id designates 203.0.113.5 as permitted sender) "
         "smtp.mailfrom=admin@lpse-demo.go.id; dmarc=pass (p=QUARANTINE sp=NONE dis=NONE) header.from=lpse-demo.go.id")
OPENDKIM = ("mx.lpse-demo.go.id; dkim=pass (2048-bit key; unprotected) header.d=lpse-demo.go.id "
            "header.i=@lpse-demo.go.id header.a=rsa-sha256 header.s=mail header.b=kJ7mPq2x")
M365 = ("spf=pass (sender IP is 203.0.113.5) smtp.mailfrom=lpse-demo.go.id; dkim=pass (signature was verified) "
        "header.d=lpse-demo.go.id;dmarc=pass action=none header.from=lpse-demo.go.id;compauth=pass reason=100")
RFC_B4 = ('example.com; spf=pass smtp.mailfrom=example.net; auth=pass (cram-md5) smtp.auth=sender@example.net')
SMUGGLED = ('mx.lpse-demo.go.id; spf=pass smtp.mailfrom="x;dmarc=pass"@evil.example; '
            "dmarc=fail header.from=lpse-demo.go.id")
SMUGGLED_COMMENT = ("mx.lpse-demo.go.id; dmarc=fail (nested (comment; dmarc=pass) here) "
                    "header.from=lpse-demo.go.id")


def test_tokenizer_quoted_strings_and_nested_comments() -> None:
    assert tokenize('a; b="x;y=z"@c (d; (e) f) g=h') == ["a", ";", "b", "=", "x;y=z@c", "g", "=", "h"]
    with pytest.raises(ValueError):
        tokenize("a; b=(unterminated")
    with pytest.raises(ValueError):
        tokenize('a; b="unterminated')


def test_opendkim_comment_with_semicolon_is_one_result() -> None:
    ar = parse(OPENDKIM)
    assert ar.ok and ar.authserv_id == "mx.lpse-demo.go.id"
    assert [(r.method, r.result) for r in ar.results] == [("dkim", "pass")]
    assert ar.results[0].props["header.d"] == "lpse-demo.go.id"


def test_gmail_and_rfc_examples() -> None:
    ar = parse(GMAIL)
    assert [(r.method, r.result) for r in ar.results] == [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
    assert ar.results[2].props["header.from"] == "lpse-demo.go.id"
    rfc = parse(RFC_B4)
    assert rfc.authserv_id == "example.com"
    assert [(r.method, r.result) for r in rfc.results] == [("spf", "pass"), ("auth", "pass")]
    assert parse("example.org 1; none").results == ()


def test_quoted_semicolon_does_not_start_a_result() -> None:
    ar = parse(SMUGGLED)
    assert [(r.method, r.result) for r in ar.results] == [("spf", "pass"), ("dmarc", "fail")]
    assert ar.results[0].props["smtp.mailfrom"] == "x;dmarc=pass@evil.example"
    assert [(r.method, r.result) for r in parse(SMUGGLED_COMMENT).results] == [("dmarc", "fail")]


def _mail(*headers: str, sender: str = "admin.agency@lpse-demo.go.id") -> ParsedMail:
    return ParsedMail(None, sender, "", [], [], [], None, "", None, [], [], "", None, [],
                      {"authentication-results": list(headers), "from": [sender]}, "text/plain", [])


TRUSTED = ("mx.lpse-demo.go.id", "mx.google.com")


@pytest.mark.parametrize("header", [OPENDKIM, GMAIL])
def test_real_passes_are_accepted(header: str) -> None:
    assert authenticated(_mail(header), TRUSTED)[0]


@pytest.mark.parametrize("header", [
    SMUGGLED, SMUGGLED_COMMENT,
    "mx.lpse-demo.go.id; dmarc=pass header.from=evil.example",  # a pass for another domain
    "mx.lpse-demo.go.id; dmarc=pass",  # no header.from: says nothing about this From
    "mx.lpse-demo.go.id; dkim=pass header.d=evil.example; dmarc=fail header.from=lpse-demo.go.id",
    "mx.lpse-demo.go.id; dkim=pass header.d=go.id.evil.example",
    'mx.lpse-demo.go.id; dmarc=pass header.from="lpse-demo.go.id',  # unreadable
])
def test_forgeries_and_other_domains_are_refused(header: str) -> None:
    assert not authenticated(_mail(header), TRUSTED)[0]


def test_header_without_authserv_id_is_never_trusted() -> None:
    """Microsoft 365 writes no authserv-id: the first word is a method, never a trusted server."""
    assert parse(M365).authserv_id == "spf"
    assert not authenticated(_mail(M365), TRUSTED)[0]


def test_without_trusted_ids_nothing_counts() -> None:
    assert not authenticated(_mail(GMAIL), ())[0]


def test_untrusted_authserv_is_skipped_and_topmost_trusted_decides() -> None:
    forged = "mx.attacker.example; dmarc=pass header.from=lpse-demo.go.id"
    assert not authenticated(_mail(forged), TRUSTED)[0]
    assert authenticated(_mail(forged, OPENDKIM), TRUSTED)[0]
    fail = "mx.lpse-demo.go.id; dkim=none; dmarc=fail header.from=lpse-demo.go.id"
    assert not authenticated(_mail(fail, OPENDKIM), TRUSTED)[0]


def test_required_authentication_without_trusted_ids_is_a_config_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SECRET", "y" * 32)
    cfg = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)
    text = cfg.read_text(encoding="utf-8")
    assert "[admins]\n" in text
    cfg.write_text(text.replace("[admins]\n", "[admins]\nrequire_authenticated_admin_mail = true\n"),
                   encoding="utf-8")
    rc = main(["--config", str(cfg), "cases"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert "admins.trusted_authserv_ids" in err and "require_authenticated_admin_mail" in err
    cfg.write_text(text.replace("[admins]\n", '[admins]\nrequire_authenticated_admin_mail = true\n'
                                              'trusted_authserv_ids = ["mx.lpse-demo.go.id"]\n'), encoding="utf-8")
    assert main(["--config", str(cfg), "migrate"]) == 0  # commands never migrate implicitly
    assert main(["--config", str(cfg), "cases"]) == 0
