"""Installing and upgrading: `mailbot init`, `mailbot migrate`, `mailbot backup`, `mailbot restore` (what
they print; the work is in store/ and admin/backup.py)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from mailbot.admin.backup import backup, restore
from mailbot.config import EXAMPLE_CONFIG, Settings, load_settings
from mailbot.store.access import check_storage, describe, sqlite_path
from mailbot.store.db import display_url, head_revision, make_engine, migrate, schema_revisions


def env_file_text(settings: Settings) -> str:
    """A new environment file: a fresh HMAC key and the password variables the config names, to fill in."""
    lines = ["# mailbot's secrets (mode 600; systemd EnvironmentFile= and deploy/mailbot-cli read this file).",
             "# Written once by `mailbot init`, never overwritten. Keep a copy of this file in a safe place:",
             "# a restored backup needs the same secret.",
             f"{settings.security.secret_env}={secrets.token_hex(32)}"]
    for name in dict.fromkeys(n for n in (settings.imap.password_env, settings.smtp.password_env) if n):
        lines.append(f"# {name}=the password")
    return "\n".join(lines) + "\n"


def write_env_file(settings: Settings) -> str:
    """Create the environment file (mode 600) unless it exists; what happened, as one line."""
    path = settings.env_file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return f"{path} exists; keeping it — but it is readable by others ({describe(path)}): chmod 600 {path}"
        return f"{path} exists; keeping it (the secret in it stays)"
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(env_file_text(settings))
        fh.flush()
        os.fsync(fh.fileno())
    return (f"wrote {path} (mode 600) with a new {settings.security.secret_env}; add the IMAP/SMTP passwords "
            f"there")


def _tighten(path: Path, mode: int) -> None:
    """Make our own file or folder no more open than `mode` (an older install left it world-readable)."""
    if path.exists() and path.stat().st_uid == os.geteuid() and stat.S_IMODE(path.stat().st_mode) & ~mode:
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) & mode)


def init(config: str | None, *, force: bool) -> int:
    """`mailbot init`: the commented config (kept unless --force), data_dir (700), the environment file
    with a fresh secret (600, never overwritten) and the database at the newest schema (600)."""
    target = Path(config or os.environ.get("MAILBOT_CONFIG") or "config/mailbot.toml")
    if target.exists() and not force:
        print(f"{target} exists; keeping it (use --force to overwrite)")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        print(f"wrote {target}: edit [office], [imap], [smtp] and [admins], then run `mailbot check`")
    settings = load_settings(target)
    check_storage(settings, create=True)
    _tighten(settings.data_dir, 0o700)
    print(write_env_file(settings))
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    db = sqlite_path(settings.database_url)
    if db is not None:
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            _tighten(f, 0o600)
    print(f"database ready: {display_url(settings.database_url)} (schema {head_revision()})")
    return 0


def migrate_schema(settings: Settings) -> int:
    """`mailbot migrate`: bring the database to this mailbot's schema; says from where to where."""
    check_storage(settings, create=True)
    engine = make_engine(settings.database_url)
    try:
        before = schema_revisions(engine)
        head = head_revision()
        if before == {head}:
            print(f"database {display_url(settings.database_url)}: schema {head}, nothing to do")
            return 0
        migrate(engine)
    finally:
        engine.dispose()
    print(f"database {display_url(settings.database_url)}: schema {', '.join(sorted(before)) or 'none'} -> {head}")
    return 0


def backup_command(settings: Settings, dest: Path) -> int:
    manifest = backup(settings, dest)
    print(f"backup {dest}: {manifest.summary()}")
    return 0


def restore_command(settings: Settings, src: Path) -> int:
    manifest = restore(settings, src)
    print(f"restored {src} into {settings.data_dir} and {display_url(settings.database_url)}: {manifest.summary('every SHA-256 verified')}")
    if manifest.schema != head_revision():
        print(f"the backup has schema {manifest.schema}; run `mailbot migrate` before the other commands")
    return 0
