"""OAuth2 (XOAUTH2) for IMAP and SMTP against real servers: Dovecot's oauth2 passdb checking tokens with the
test's introspection endpoint, an aiosmtpd server requiring AUTH XOAUTH2, and a token endpoint that rotates
the refresh token at every refresh."""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbot.admin.registry import import_csv
from mailbot.app import build_app
from mailbot.config import load_settings
from mailbot.demo.world import PPK_A, PPK_B, write_config
from mailbot.oauth2 import TokenFile
from mailbot.runner import poll_once
from tests.support.mails import complete_request
from tests.support.oauth import FakeIdentityProvider, XoauthSmtp
from tests.support.servers import DovecotServer, require_dovecot

MAILBOT = Path(sys.executable).parent / "mailbot"
pytestmark = [pytest.mark.dovecot,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeIdentityProvider]:
    idp = FakeIdentityProvider(username="lpse-oauth")
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def dovecot(provider: FakeIdentityProvider) -> Iterator[DovecotServer]:
    require_dovecot()
    server = DovecotServer(oauth2_introspection_url=provider.url + "/introspect")
    server.start()
    yield server
    server.close()


@pytest.fixture
def smtp(provider: FakeIdentityProvider) -> Iterator[XoauthSmtp]:
    server = XoauthSmtp(provider)
    server.start()
    yield server
    server.stop()


def _config(tmp_path: Path, dovecot: DovecotServer, smtp: XoauthSmtp, provider: FakeIdentityProvider,
            username: str) -> Path:
    assert dovecot.port is not None and smtp.port is not None
    path = write_config(tmp_path, "127.0.0.1", dovecot.port, username, smtp.host, smtp.port,
                        f"sqlite:///{tmp_path / 'mailbot.db'}")
    text = path.read_text()
    text = text.replace('password_env = "MAILBOT_IMAP_PASSWORD"', 'auth = "oauth2"')
    text = text.replace('from_name = "LPSE Kabupaten Demo"',
                        f'from_name = "LPSE Kabupaten Demo"\nusername = "{username}"\nauth = "oauth2"')
    text += (f'\n[oauth2]\nprovider = "custom"\nclient_id = "mailbot-test"\n'
             f'token_url = "{provider.url}/token"\ndevice_url = "{provider.url}/device"\n')
    path.write_text(text)
    return path


@pytest.fixture
def user(provider: FakeIdentityProvider) -> str:
    name = "o" + secrets.token_hex(4)
    provider.username = name
    provider.refusing = False
    return name


def _seed_token(path: Path, provider: FakeIdentityProvider, *, expired: bool) -> str:
    access, refresh = provider.issue(expired=expired)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"access_token": access, "refresh_token": refresh,
                                "expires_at": 0 if expired else 4102444800, "scope": ""}))
    path.chmod(0o600)
    return refresh


def _bot_app(cfg: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MAILBOT_IMAP_PASSWORD", raising=False)
    monkeypatch.setenv("MAILBOT_SECRET", "k" * 32)
    app = build_app(load_settings(cfg), require_secrets=True)
    reg = cfg.parent / "registry.csv"
    reg.write_text("nama,nip,email,user_id,satker\n" + "\n".join(",".join(p) for p in (PPK_A, PPK_B)) + "\n")
    import_csv(app, reg)
    return app


def _deliver(dovecot: DovecotServer, user: str, raw: bytes) -> None:
    from imapclient import IMAPClient

    assert dovecot.port is not None
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as c:
        c.login(user, dovecot.password)  # the test's own delivery: the static passdb
        c.append("INBOX", raw)


def test_xoauth2_imap_and_smtp_with_refresh_and_rotation_across_a_restart(
        tmp_path: Path, dovecot: DovecotServer, smtp: XoauthSmtp, provider: FakeIdentityProvider, user: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config(tmp_path, dovecot, smtp, provider, user)
    token_path = tmp_path / "data" / "oauth2-token.json"
    first_refresh = _seed_token(token_path, provider, expired=True)
    app = _bot_app(cfg, monkeypatch)
    _deliver(dovecot, user, complete_request("Permohonan reset password SPSE"))
    caplog.set_level(logging.DEBUG)

    result = poll_once(app)

    assert not result.errors
    assert provider.refreshes() == 1  # the expired access token was refreshed before the login
    saved = json.loads(token_path.read_text())
    assert saved["refresh_token"] != first_refresh  # the rotated refresh token is what is kept
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    assert provider.valid(saved["access_token"]) == user
    assert provider.introspections[-1] == saved["access_token"]  # Dovecot checked that very token
    templates = sorted(m.header("X-Mailbot-Template") or "" for m in smtp.messages)
    assert templates == ["ack", "review_request"]
    assert smtp.logins and set(smtp.logins) == {user}  # SMTP too signed in with XOAUTH2
    for secret in (first_refresh, saved["refresh_token"], saved["access_token"]):
        assert secret not in caplog.text

    # A restart after the access token expired: the old refresh token is revoked, the saved one works.
    app.engine.dispose()
    provider.access.clear()  # hours later: every access token has expired …
    token_path.write_text(json.dumps(saved | {"expires_at": 0}))  # … as the file says too
    token_path.chmod(0o600)
    restarted = _bot_app(cfg, monkeypatch)
    _deliver(dovecot, user, complete_request("Lupa password SPSE"))
    assert not poll_once(restarted).errors
    assert provider.refreshes() == 2
    assert json.loads(token_path.read_text())["refresh_token"] != saved["refresh_token"]


def test_refresh_refused_fails_the_poll_with_one_line_and_keeps_the_mail(
        tmp_path: Path, dovecot: DovecotServer, smtp: XoauthSmtp, provider: FakeIdentityProvider, user: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config(tmp_path, dovecot, smtp, provider, user)
    _seed_token(tmp_path / "data" / "oauth2-token.json", provider, expired=True)
    app = _bot_app(cfg, monkeypatch)
    _deliver(dovecot, user, complete_request("Permohonan reset password SPSE"))
    provider.refusing = True

    result = poll_once(app)

    assert result.errors and "invalid_grant" in result.errors[0]
    assert any(r.levelno == logging.ERROR and "OAuth2 refresh failed" in r.getMessage() for r in caplog.records)
    assert smtp.messages == []
    provider.refusing = False  # an admin logged in again (here: the provider accepts the token again)
    _seed_token(tmp_path / "data" / "oauth2-token.json", provider, expired=False)
    app2 = _bot_app(cfg, monkeypatch)
    assert not poll_once(app2).errors
    assert sorted(m.header("X-Mailbot-Template") or "" for m in smtp.messages) == ["ack", "review_request"]


def test_token_file_readable_by_others_is_refused(
        tmp_path: Path, dovecot: DovecotServer, smtp: XoauthSmtp, provider: FakeIdentityProvider, user: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(tmp_path, dovecot, smtp, provider, user)
    path = tmp_path / "data" / "oauth2-token.json"
    _seed_token(path, provider, expired=False)
    path.chmod(0o644)
    app = _bot_app(cfg, monkeypatch)
    result = poll_once(app)
    assert result.errors and f"chmod 600 {path}" in result.errors[0]


def test_oauth_login_device_code_then_check(
        tmp_path: Path, dovecot: DovecotServer, smtp: XoauthSmtp, provider: FakeIdentityProvider, user: str) -> None:
    cfg = _config(tmp_path, dovecot, smtp, provider, user)
    env = {k: v for k, v in os.environ.items() if k != "MAILBOT_IMAP_PASSWORD"} | {"MAILBOT_SECRET": "k" * 32}
    provider.device_pending = 2
    login = subprocess.run([str(MAILBOT), "--config", str(cfg), "oauth", "login"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert login.returncode == 0, login.stderr
    assert "ABCD-EFGH" in login.stdout and "https://microsoft.com/devicelogin" in login.stdout
    path = tmp_path / "data" / "oauth2-token.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = TokenFile(path).load()
    assert token is not None and provider.valid(token.access_token) == user
    assert token.access_token not in login.stdout + login.stderr
    assert token.refresh_token not in login.stdout + login.stderr

    check = subprocess.run([str(MAILBOT), "--config", str(cfg), "check"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OAuth2 token" in check.stdout and ": ok" in check.stdout
    assert f"IMAP 127.0.0.1:{dovecot.port}: ok" in check.stdout
    assert token.access_token not in check.stdout + check.stderr


def test_oauth_login_without_oauth2_configured_exits_2(tmp_path: Path, dovecot: DovecotServer,
                                                      smtp: XoauthSmtp) -> None:
    assert dovecot.port is not None and smtp.port is not None
    cfg = write_config(tmp_path, "127.0.0.1", dovecot.port, "u", smtp.host, smtp.port)
    done = subprocess.run([str(MAILBOT), "--config", str(cfg), "oauth", "login"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "imap.auth" in done.stderr
