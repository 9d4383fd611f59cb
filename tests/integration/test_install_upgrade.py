"""Installing and upgrading as an office's IT operator does: `mailbot init` (modes, the environment file
with a fresh secret), `mailbot migrate` and the schema refusal of every other command, `run` migrating at
start, a From display name, and permission mistakes — each one line, exit 2, no traceback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from mailbot.app import build_app
from mailbot.config import load_settings
from mailbot.store.db import MIGRATIONS_DIR, head_revision, make_engine, schema_revisions
from tests.support.bot import Bot
from tests.support.mails import complete_request
from tests.unit.test_config import one_line
from tests.unit.test_config import run as run_cli

MAILBOT = Path(sys.executable).parent / "mailbot"
ROOT = Path(__file__).resolve().parents[2]
BEFORE_RETENTION = "0005"  # a schema an older mailbot left behind (no purged_at columns)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what fixtures printed is not the command's
    return run_cli(capsys, *argv)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def downgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    command.downgrade(cfg, revision)
    engine.dispose()


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty office folder; the config path `mailbot init` is given."""
    for name in ("MAILBOT_SECRET", "MAILBOT_IMAP_PASSWORD", "MAILBOT_SMTP_PASSWORD", "MAILBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "config" / "mailbot.toml"


def test_init_makes_private_data_dir_database_and_env_file_with_a_secret_never_overwritten(
        office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot init` → data_dir 700, database 600, config/mailbot.env 600 holding a fresh
    64-hex MAILBOT_SECRET and the password variables to fill in; a second init (even --force) keeps the
    env file byte for byte and says so."""
    rc, out, err = run(capsys, "--config", str(office), "init")
    assert rc == 0, err
    settings = load_settings(office)
    env_file = office.parent / "mailbot.env"
    assert settings.env_file == env_file
    assert f"wrote {env_file} (mode 600)" in out and "database ready" in out
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.data_dir / "mailbot.db") == 0o600
    assert mode(env_file) == 0o600
    content = env_file.read_text()
    [secret] = re.findall(r"^MAILBOT_SECRET=([0-9a-f]{64})$", content, re.M)
    assert "# MAILBOT_IMAP_PASSWORD=" in content and "# MAILBOT_SMTP_PASSWORD=" in content
    assert secret not in out + err
    assert schema_revisions(make_engine(settings.database_url)) == {head_revision()}

    for again in (("init",), ("init", "--force")):
        rc, out, err = run(capsys, "--config", str(office), *again)
        assert rc == 0, err
        assert f"{env_file} exists; keeping it" in out
        assert env_file.read_text() == content
    # Another office's init writes another secret.
    other = office.parent.parent / "other" / "mailbot.toml"
    assert run(capsys, "--config", str(other), "init")[0] == 0
    assert secret not in (other.parent / "mailbot.env").read_text()


def test_commands_refuse_an_old_schema_until_migrate(office: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: an upgrade of mailbot leaves the database one schema behind → `cases`, `report`, `purge`
    exit 2 with one line saying to run `mailbot migrate`, and change nothing; `mailbot migrate` says from
    where to where; then `cases` works. A database newer than mailbot: one line saying to upgrade."""
    assert run(capsys, "--config", str(office), "init")[0] == 0
    monkeypatch.setenv("MAILBOT_SECRET", "k" * 32)
    url = load_settings(office).database_url
    downgrade(url, BEFORE_RETENTION)
    for argv in (("cases",), ("report", "--month", "2026-01", "--out", str(office.parent)), ("purge",)):
        rc, out, err = run(capsys, "--config", str(office), *argv)
        assert rc == 2 and out == "", (argv, out, err)
        line = one_line(err)
        assert f"schema {BEFORE_RETENTION}" in line and "run `mailbot migrate`" in line, line
    assert schema_revisions(make_engine(url)) == {BEFORE_RETENTION}
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "p")
    monkeypatch.setenv("MAILBOT_SMTP_PASSWORD", "p")
    office.write_text(office.read_text().replace('host = "mail.contoh.go.id"', 'host = "127.0.0.1"'))  # loopback only
    rc, out, _err = run(capsys, "--config", str(office), "check")
    assert rc == 1 and "database: FAILED" in out and "mailbot migrate" in out
    rc, out, err = run(capsys, "--config", str(office), "migrate")
    assert rc == 0, err
    assert f"schema {BEFORE_RETENTION} -> {head_revision()}" in out
    rc, out, _err = run(capsys, "--config", str(office), "migrate")
    assert rc == 0 and "nothing to do" in out
    rc, out, err = run(capsys, "--config", str(office), "cases")
    assert rc == 0 and out.strip() == "no cases", err

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    rc, _out, err = run(capsys, "--config", str(office), "cases")
    assert rc == 2 and "newer than this mailbot" in one_line(err) and "upgrade mailbot" in err


def test_run_migrates_at_start(any_bot: Bot) -> None:
    """Scenario: the service is restarted after an upgrade (schema one behind): `mailbot run` migrates
    first, then processes the waiting request (ack and review_request go out); SIGTERM → exit 0."""
    url = any_bot.app.settings.database_url
    any_bot.app.engine.dispose()
    downgrade(url, BEFORE_RETENTION)
    any_bot.append(complete_request())
    proc = subprocess.Popen([str(MAILBOT), "--config", str(any_bot.workdir / "mailbot.toml"), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
                            start_new_session=True)
    try:
        mails = any_bot.smtp.wait_for(2, timeout=60)
        assert sorted(m.header("X-Mailbot-Template") for m in mails) == ["ack", "review_request"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in proc.communicate()[1]
    assert schema_revisions(make_engine(url)) == {head_revision()}


def test_from_address_with_a_display_name_is_the_from_of_every_mail(any_bot: Bot) -> None:
    """Scenario: `from_address = "LPSE Kota Contoh <addr>"` → the ack's From shows that name and address."""
    cfg = any_bot.workdir / "mailbot.toml"
    raw = cfg.read_text(encoding="utf-8")
    address = re.search(r'^from_address = "([^"]+)"$', raw, re.M).group(1)  # type: ignore[union-attr]
    raw = raw.replace(f'from_address = "{address}"', f'from_address = "LPSE Kota Contoh <{address}>"')
    cfg.write_text(raw.replace('from_name = "LPSE Kabupaten Demo"\n', ""), encoding="utf-8")
    any_bot.app.engine.dispose()
    any_bot.app = build_app(load_settings(cfg))
    any_bot.append(complete_request())
    any_bot.poll()
    [ack] = any_bot.sent("ack")
    assert ack.header("From") == f"LPSE Kota Contoh <{address}>"


# -- permission and ownership mistakes, as the service user (`nobody` here) ------------------------
needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to act as another user")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder `nobody` can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mailbot-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`mailbot --config config …` run as nobody with the service's environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HOME": "/tmp",
           "MAILBOT_SECRET": "k" * 32, "MAILBOT_IMAP_PASSWORD": "p"}
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m",
                           "mailbot", "--config", str(config), *argv],
                          capture_output=True, text=True, timeout=120, env=env, cwd="/tmp")


def init_as_root(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The operator's mistake: `mailbot init` run as root (everything root-owned); the config readable."""
    config = shared_dir / "config" / "mailbot.toml"
    assert run(capsys, "--config", str(config), "init")[0] == 0
    config.parent.chmod(0o755)
    config.chmod(0o644)
    return config


def chown_nobody(path: Path) -> None:
    subprocess.run(["chown", "-R", "nobody:nogroup", str(path)], check=True)


@needs_root
def test_unwritable_data_dir_is_one_line(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: init ran as root, the service runs as nobody → `cases` exits 2 with one line naming
    data_dir, its owner and mode, and the fix; no traceback."""
    config = init_as_root(shared_dir, capsys)
    p = as_nobody(config, "cases")
    assert p.returncode == 2, p.stderr
    line = one_line(p.stderr)
    data_dir = shared_dir / "data"
    assert str(data_dir) in line and "not writable by user nobody" in line and "owner root, mode 700" in line
    assert "chown" in line


@needs_root
def test_root_owned_database_is_one_line(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: data_dir handed to nobody but the database file left to root (mode 600) → one line
    naming the database file and `chown`, exit 2; the same for a root-owned -shm left by a root command."""
    config = init_as_root(shared_dir, capsys)
    data_dir = shared_dir / "data"
    subprocess.run(["chown", "nobody:nogroup", str(data_dir)], check=True)
    p = as_nobody(config, "cases")
    assert p.returncode == 2, p.stderr
    line = one_line(p.stderr)
    assert str(data_dir / "mailbot.db") in line and "owner root, mode 600" in line and "chown nobody" in line
    chown_nobody(data_dir)
    shm = data_dir / "mailbot.db-shm"
    shm.unlink(missing_ok=True)
    shm.write_bytes(b"")
    shm.chmod(0o600)
    p = as_nobody(config, "cases")
    assert p.returncode == 2 and str(shm) in one_line(p.stderr)
    shm.unlink()
    p = as_nobody(config, "cases")
    assert p.returncode == 0 and p.stdout.strip() == "no cases", p.stderr


@needs_root
def test_read_only_report_and_archive_directory_is_one_line(shared_dir: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: the service user writes a report or an archive into a folder it may not write → exit 2,
    one line naming the folder; a writable one works."""
    config = init_as_root(shared_dir, capsys)
    chown_nobody(shared_dir / "data")
    out = shared_dir / "reports"
    out.mkdir(mode=0o755)
    p = as_nobody(config, "report", "--month", "2026-01", "--out", str(out))
    assert p.returncode == 2, p.stderr
    line = one_line(p.stderr)
    assert f"report --out: {out} is not writable by user nobody" in line and "Traceback" not in p.stderr
    p = as_nobody(config, "archive", "export", "LPSE-CTH-2026-00001", str(out / "case.zip"))
    assert p.returncode == 2, p.stderr
    assert f"archive DEST's folder: {out} is not writable by user nobody" in one_line(p.stderr)
    chown_nobody(out)
    p = as_nobody(config, "report", "--month", "2026-01", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert (out / "laporan-2026-01.html").is_file()


@needs_root
def test_root_on_the_service_users_data_dir_is_refused(shared_dir: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: the operator runs `mailbot cases` as root on nobody's installation → one line saying to
    run it as the service user (it would leave root-owned files behind), exit 2."""
    config = init_as_root(shared_dir, capsys)
    chown_nobody(shared_dir / "data")
    monkeypatch.setenv("MAILBOT_SECRET", "k" * 32)
    rc, _out, err = run(capsys, "--config", str(config), "cases")
    assert rc == 2
    line = one_line(err)
    assert "belongs to nobody" in line and "deploy/mailbot-cli" in line


@needs_root
def test_cli_wrapper_runs_as_the_service_user_with_only_the_env_file(shared_dir: Path) -> None:
    """Scenario: root runs `deploy/mailbot-cli …` → the command runs as the service user (nobody here),
    with the environment file's values taken literally (a `$` and a backtick stay, quotes go) and none of
    root's environment; then a real `init` + `cases` through it leaves files owned by the service user."""
    fake = shared_dir / "fake-mailbot"
    fake.write_text('#!/bin/sh\necho "user=$(id -un)"\necho "secret=$MAILBOT_SECRET"\necho "imap=$MAILBOT_IMAP_PASSWORD"\n'
                    'echo "config=$MAILBOT_CONFIG"\necho "leak=${ROOT_ONLY:-none}"\nfor a in "$@"; do echo "arg=$a"; done\n')
    fake.chmod(0o755)
    env_file = shared_dir / "mailbot.env"
    env_file.write_text("# secrets\nMAILBOT_SECRET=ab$HOME`id`cd\nMAILBOT_IMAP_PASSWORD=\"pass word\"\n\n")
    env_file.chmod(0o600)
    chown_nobody(env_file)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ROOT_ONLY": "x", "MAILBOT_USER": "nobody",
            "MAILBOT_ENV_FILE": str(env_file), "MAILBOT_CONFIG": str(shared_dir / "config" / "mailbot.toml")}
    wrapper = str(ROOT / "deploy" / "mailbot-cli")
    p = subprocess.run([wrapper, "case", "show", "A B"], capture_output=True, text=True, timeout=60,
                       env=base | {"MAILBOT_BIN": str(fake)})
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["user=nobody", "secret=ab$HOME`id`cd", "imap=pass word",
                                     f"config={shared_dir / 'config' / 'mailbot.toml'}", "leak=none",
                                     "arg=case", "arg=show", "arg=A B"]


def python_for_nobody() -> tuple[str, str] | None:
    """An interpreter of this version that a shell of `nobody` can start, and the PYTHONPATH that gives it
    this environment's packages: this one, else the system's of the same version (when this one lives
    under a private /root, as in some containers); None when there is none."""
    site = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python, path in ((sys.executable, ""), (f"/usr/bin/{version}", site)):
        probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/bin/sh", "-c",
                                f'exec "{python}" -c "import sys; print(sys.version_info[:2])"'],
                               capture_output=True, text=True, timeout=60)
        if probe.returncode == 0 and probe.stdout.strip() == str(sys.version_info[:2]):
            return python, path
    return None


@needs_root
def test_cli_wrapper_init_and_cases_leave_the_service_users_files(shared_dir: Path) -> None:
    """Scenario: root runs `deploy/mailbot-cli init` then `… cases` → data_dir and the database belong to
    the service user, and `cases` works through the wrapper."""
    found = python_for_nobody()
    if found is None:
        pytest.skip("no interpreter of this version that nobody can start")
    python, site = found
    env_file = shared_dir / "config" / "mailbot.env"
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MAILBOT_USER": "nobody",
            "MAILBOT_ENV_FILE": str(env_file), "MAILBOT_CONFIG": str(shared_dir / "config" / "mailbot.toml")}
    wrapper = str(ROOT / "deploy" / "mailbot-cli")
    real = shared_dir / "mailbot"  # the venv's mailbot, importing this worktree
    real.write_text(f'#!/bin/sh\nexec {python} -m mailbot "$@"\n')
    real.chmod(0o755)
    (shared_dir / "config").mkdir(mode=0o755)
    env_file.write_text(f"PYTHONPATH={ROOT}{':' + site if site else ''}\nMAILBOT_SECRET={'k' * 64}\n")
    env_file.chmod(0o600)
    chown_nobody(shared_dir / "config")
    (shared_dir / "data").mkdir(mode=0o755)  # the service user's data folder (its parent is root's)
    chown_nobody(shared_dir / "data")
    p = subprocess.run([wrapper, "init"], capture_output=True, text=True, timeout=120, env=base | {"MAILBOT_BIN": str(real)},
                       cwd="/tmp")
    assert p.returncode == 0, p.stderr
    data = shared_dir / "data"
    assert data.stat().st_mode & 0o777 == 0o700  # init tightened it
    assert data.stat().st_uid == (data / "mailbot.db").stat().st_uid == int(
        subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True, check=True).stdout)
    p = subprocess.run([wrapper, "cases"], capture_output=True, text=True, timeout=120, env=base | {"MAILBOT_BIN": str(real)},
                       cwd="/tmp")
    assert p.returncode == 0 and p.stdout.strip() == "no cases", p.stderr
