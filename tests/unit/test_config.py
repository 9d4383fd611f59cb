"""Configuration errors (exit 2, one line naming the key, no secrets) and `mailbot init`, in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mailbot.cli import main
from mailbot.config import EXAMPLE_CONFIG, load_settings
from tests.support.config import write_config

MAILBOT = Path(sys.executable).parent / "mailbot"
EXAMPLE = EXAMPLE_CONFIG
SECRET = "S3cr3t-Pa55!word"


def base_config(tmp_path: Path) -> str:
    """A valid config text (servers on closed loopback ports: nothing here connects)."""
    return write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2).read_text(encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    return lines[0]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", SECRET)
    monkeypatch.setenv("MAILBOT_SECRET", SECRET + "-hmac")
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)


CASES = [
    # (what, edit of the valid config text, substrings the one line must contain)
    ("missing key", lambda t: t.replace('host = "127.0.0.1"\nport = 1\n', "port = 1\n"),
     ["imap.host", "missing"]),
    ("wrong type", lambda t: t.replace("port = 1\n", 'port = "x"\n'), ["imap.port", "integer", "'x'"]),
    ("unknown security", lambda t: t.replace('security = "none"', 'security = "tls"', 1),
     ["imap.security", "'tls'", "ssl, starttls, none"]),
    ("unknown key", lambda t: t.replace("idle = true", "idel = true"), ["imap.idel", "did you mean idle?"]),
    ("unknown section", lambda t: t.replace("[admins]", "[admin]"), ["admin", "did you mean admins?"]),
    ("bad regex", lambda t: t + '\n[[documents]]\nname = "ktp"\nlabel = "KTP"\nfilename_patterns = ["(ktp"]\n',
     ["documents[0].filename_patterns", "(ktp"]),
    ("bad timezone", lambda t: t.replace("Asia/Jakarta", "Asia/Jakartaa"), ["office.timezone", "Asia/Jakartaa"]),
    ("invalid TOML", lambda t: t + "\n[oops\n", ["mailbot.toml", "not valid TOML", "line"]),
    ("bad admin email", lambda t: t.replace('emails = ["admin.agency@lpse-demo.go.id"]', 'emails = ["admin"]'),
     ["admins.emails", "'admin'"]),
]


@pytest.mark.parametrize("what,edit,expected", CASES, ids=[c[0] for c in CASES])
def test_config_error_exits_2_with_one_line_naming_the_key(
        what: str, edit, expected: list[str], tmp_path: Path, env: None,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: an operator's typo in mailbot.toml → exit 2 and one line saying which key to fix."""
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text(edit(base_config(tmp_path)), encoding="utf-8")
    rc, out, err = run(capsys, "--config", str(cfg), "cases")
    assert rc == 2
    line = one_line(err)
    assert line.startswith("mailbot: config error: ")
    for fragment in expected:
        assert fragment in line
    assert out == ""
    assert not (tmp_path / "data").exists()  # nothing was created from a bad config


def test_unset_password_env_names_key_and_variable(tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `poll` started without MAILBOT_IMAP_PASSWORD → exit 2 naming imap.password_env and the variable."""
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text(base_config(tmp_path), encoding="utf-8")
    monkeypatch.delenv("MAILBOT_IMAP_PASSWORD")
    rc, _out, err = run(capsys, "--config", str(cfg), "poll")
    assert rc == 2
    line = one_line(err)
    assert "imap.password_env" in line and "MAILBOT_IMAP_PASSWORD" in line


def test_unset_secret_env_names_security_key(tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `poll` without MAILBOT_SECRET → exit 2 naming security.secret_env."""
    cfg = tmp_path / "mailbot.toml"
    cfg.write_text(base_config(tmp_path), encoding="utf-8")
    monkeypatch.delenv("MAILBOT_SECRET")
    rc, _out, err = run(capsys, "--config", str(cfg), "poll")
    assert rc == 2
    assert "security.secret_env" in one_line(err) and "MAILBOT_SECRET" in err


def test_missing_config_file(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: --config points nowhere → exit 2, the path and `mailbot init` named."""
    rc, _out, err = run(capsys, "--config", str(tmp_path / "nope.toml"), "cases")
    assert rc == 2
    line = one_line(err)
    assert str(tmp_path / "nope.toml") in line and "mailbot init" in line


def test_mailbot_config_env_is_the_default_path(tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: no --config, MAILBOT_CONFIG set (the systemd unit) → that file is used."""
    monkeypatch.setenv("MAILBOT_CONFIG", str(tmp_path / "from-env.toml"))
    rc, _out, err = run(capsys, "cases")
    assert rc == 2 and "from-env.toml" in one_line(err)


def test_secrets_never_echoed(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: a password typed into the file by mistake is never printed back, nor the env secrets."""
    text = base_config(tmp_path)
    cfg = tmp_path / "mailbot.toml"
    # The password itself written where the variable's name belongs.
    cfg.write_text(text.replace('password_env = "MAILBOT_IMAP_PASSWORD"', f'password_env = "{SECRET}"'))
    rc, out, err = run(capsys, "--config", str(cfg), "poll")
    assert rc == 2 and "imap.password_env" in one_line(err)
    assert SECRET not in out + err
    # A password inside a (wrong) database URL.
    cfg.write_text(text.replace('url = ""', f'url = "mysql://mailbot:{SECRET}@db.local/mailbot"'))
    rc, out, err = run(capsys, "--config", str(cfg), "cases")
    assert rc == 2 and "database.url" in one_line(err)
    assert SECRET not in out + err
    # A password in an unknown key: named, not echoed.
    cfg.write_text(text.replace('password_env = "MAILBOT_IMAP_PASSWORD"',
                                f'password_env = "MAILBOT_IMAP_PASSWORD"\npassword = "{SECRET}"'))
    rc, out, err = run(capsys, "--config", str(cfg), "cases")
    assert rc == 2 and "imap.password" in one_line(err) and "did you mean password_env?" in err
    assert SECRET not in out + err
    # `check` against servers that are not there: failures reported, secrets not.
    cfg.write_text(text)
    rc, out, err = run(capsys, "--config", str(cfg), "check")
    assert rc == 1
    assert "IMAP 127.0.0.1:1: FAILED" in out and "SMTP 127.0.0.1:2: FAILED" in out
    assert SECRET not in out + err


# -- the example config and `mailbot init` ------------------------------------------------------
def test_example_config_loads(env: None) -> None:
    """Scenario: the shipped example is a valid config with the documented values."""
    s = load_settings(EXAMPLE)
    assert s.office.case_prefix == "LPSE-CTH" and s.office.timezone == "Asia/Jakarta"
    assert s.imap.security == "ssl" and s.imap.port == 993 and s.imap.password_env == "MAILBOT_IMAP_PASSWORD"
    assert s.smtp.security == "starttls" and s.smtp.password_env == "MAILBOT_SMTP_PASSWORD"
    assert s.admins.emails == ("admin.agency@contoh.go.id",)
    assert s.database_url == f"sqlite:///{EXAMPLE.parent.parent / 'data' / 'mailbot.db'}"
    assert s.sla.step5_validity == 15 and s.limits.max_attempts == 3


def test_init_writes_config_and_database_then_keeps_it(tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot init` in a fresh checkout → config/mailbot.toml + data/mailbot.db; rerun keeps edits."""
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, "init")
    assert rc == 0, err
    cfg = tmp_path / "config" / "mailbot.toml"
    assert cfg.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")
    assert (tmp_path / "data" / "mailbot.db").is_file()
    assert "wrote config/mailbot.toml" in out and "database ready" in out
    assert err == ""

    cfg.write_text(cfg.read_text().replace("LPSE Kabupaten Contoh", "LPSE Kota Bogor"), encoding="utf-8")
    rc, out, _err = run(capsys, "init")
    assert rc == 0 and "keeping it" in out
    assert "LPSE Kota Bogor" in cfg.read_text(encoding="utf-8")

    rc, out, _err = run(capsys, "init", "--force")
    assert rc == 0 and "wrote" in out
    assert cfg.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")
    # The database made by init is usable by the other commands.
    rc, out, _err = run(capsys, "--config", str(cfg), "cases")
    assert rc == 0 and out.strip() == "no cases"


def test_init_with_explicit_path(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot --config /etc/x/mailbot.toml init` writes there; data_dir is relative to it."""
    cfg = tmp_path / "etc" / "mailbot" / "mailbot.toml"
    rc, _out, err = run(capsys, "--config", str(cfg), "init")
    assert rc == 0, err
    assert cfg.is_file() and (tmp_path / "etc" / "data" / "mailbot.db").is_file()
