"""`[oauth2]` settings and the token file, without servers (the flows are in tests/integration/test_oauth2.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailbot.config import ConfigError, load_settings
from mailbot.oauth2 import OAuthError, Token, TokenFile, endpoints
from tests.support.config import write_config


def oauth_config(tmp_path: Path, section: str, *, smtp_user: bool = True) -> Path:
    path = write_config(tmp_path, "127.0.0.1", 1, "lpse@pemda.go.id", "127.0.0.1", 2)
    text = path.read_text().replace('password_env = "MAILBOT_IMAP_PASSWORD"', 'auth = "oauth2"')
    if smtp_user:
        text = text.replace('from_name = "LPSE Kabupaten Demo"',
                            'from_name = "LPSE Kabupaten Demo"\nusername = "lpse@pemda.go.id"\nauth = "oauth2"')
    path.write_text(text + "\n[oauth2]\n" + section)
    return path


def test_microsoft_defaults_use_the_tenant_and_the_imap_and_smtp_scopes(tmp_path: Path) -> None:
    s = load_settings(oauth_config(tmp_path, 'provider = "microsoft"\nclient_id = "abc"\ntenant = "pemda.go.id"\n'))
    ep = endpoints(s.oauth2)
    assert ep.token_url == "https://login.microsoftonline.com/pemda.go.id/oauth2/v2.0/token"
    assert ep.device_url.endswith("/pemda.go.id/oauth2/v2.0/devicecode")
    assert "IMAP.AccessAsUser.All" in ep.scope and "SMTP.Send" in ep.scope and "offline_access" in ep.scope
    assert s.oauth2.token_file == s.data_dir / "oauth2-token.json"
    assert s.imap_password() == ""  # no IMAP password is needed


def test_google_defaults(tmp_path: Path) -> None:
    s = load_settings(oauth_config(tmp_path, 'provider = "google"\nclient_id = "x"\nclient_secret_env = "G_SECRET"\n'))
    ep = endpoints(s.oauth2)
    assert ep.token_url == "https://oauth2.googleapis.com/token" and ep.scope == "https://mail.google.com/"


@pytest.mark.parametrize(("section", "words"), [
    ('provider = "yahoo"\nclient_id = "x"\n', ["oauth2.provider", "'yahoo'"]),
    ('provider = "microsoft"\n', ["oauth2.client_id", "required"]),
    ('provider = "custom"\nclient_id = "x"\ntoken_url = "https://idp/token"\n', ["oauth2.token_url", "device_url"]),
    ('provider = "custom"\nclient_id = "x"\ntoken_url = "http://idp.example/token"\ndevice_url = "https://i/d"\n',
     ["oauth2.token_url", "https://"]),
    ('provider = "google"\nclient_id = "x"\nclient_secret_env = "not a name"\n', ["oauth2.client_secret_env"]),
])
def test_bad_oauth2_settings_name_the_key(tmp_path: Path, section: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(oauth_config(tmp_path, section))
    assert all(w in str(exc.value) for w in words), str(exc.value)


def test_smtp_oauth2_needs_the_mailbox_name(tmp_path: Path) -> None:
    path = oauth_config(tmp_path, 'provider = "microsoft"\nclient_id = "x"\n', smtp_user=False)
    path.write_text(path.read_text().replace('from_name = "LPSE Kabupaten Demo"',
                                             'from_name = "LPSE Kabupaten Demo"\nauth = "oauth2"'))
    with pytest.raises(ConfigError, match="smtp.username"):
        load_settings(path)


def test_token_file_is_written_mode_600_and_refused_when_others_can_read_it(tmp_path: Path) -> None:
    f = TokenFile(tmp_path / "d" / "t.json")
    assert f.load() is None
    f.save(Token("acc", "ref", 123.0, "s"))
    assert (f.path.stat().st_mode & 0o777) == 0o600
    assert f.load() == Token("acc", "ref", 123.0, "s")
    assert "acc" not in repr(f.load()) and "ref" not in repr(f.load())
    f.path.chmod(0o640)
    with pytest.raises(OAuthError, match="chmod 600"):
        f.load()
    f.path.chmod(0o600)
    f.path.write_text(json.dumps({"access_token": "a"}))
    with pytest.raises(OAuthError, match="oauth login"):
        f.load()
