"""Permission and ownership checks before a command touches data_dir, the database or an output folder:
each problem is one line naming the path, its owner and mode, and the fix (no traceback)."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from mailbot.config import Settings
from mailbot.domain.errors import NotReady

# How an operator runs a command as the service user with its environment (deploy/mailbot-cli).
AS_SERVICE_USER = "run it as the service user (deploy/mailbot-cli …)"


class AccessProblem(NotReady):
    """A file or folder mailbot needs is missing, not writable or owned by another user; str() is one
    line with the path and the fix (exit 2: retrying cannot help)."""


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def describe(path: Path) -> str:
    """`owner root, mode 600` of an existing path."""
    st = path.stat()
    return f"owner {user_name(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):03o}"


def me() -> str:
    return user_name(os.geteuid())


def writable_dir(path: Path, what: str, *, create: bool = False) -> Path:
    """`path` as a folder this process can create files in (made with mode 700 when `create` and it is
    missing); else AccessProblem naming `what` (e.g. "report --out") and the path."""
    path = Path(path)
    if not path.exists():
        if not create:
            raise AccessProblem(f"{what}: {path} does not exist; create it (or run `mailbot init`)")
        parent = next((p for p in path.parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise AccessProblem(f"{what}: cannot create {path}: {parent} is not writable by user {me()} "
                                f"({describe(parent)}); create {path} for that user or {AS_SERVICE_USER}")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path
    if not path.is_dir():
        raise AccessProblem(f"{what}: {path} is not a folder; give a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise AccessProblem(f"{what}: {path} is not writable by user {me()} ({describe(path)}); "
                            f"chown -R {me()} {path}, choose another folder, or {AS_SERVICE_USER}")
    return path


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def check_storage(settings: Settings, *, create: bool = False) -> None:
    """Before a command opens the App: data_dir and the SQLite file (and its -wal/-shm) are there and
    this user may write them (`create`: `init`, `migrate` and `run` may make a missing data_dir and
    database); running as root on another user's data_dir is refused (it would leave root-owned files
    the service cannot open)."""
    data_dir = settings.data_dir
    if data_dir.exists():
        owner = data_dir.stat().st_uid
        if os.geteuid() == 0 and owner != 0:
            raise AccessProblem(f"storage.data_dir: {data_dir} belongs to {user_name(owner)}; running mailbot as "
                                f"root would leave files that user cannot open — {AS_SERVICE_USER}")
        writable_dir(data_dir, "storage.data_dir")
    elif create:
        writable_dir(data_dir, "storage.data_dir", create=True)
    else:  # the blob store makes it with its first file: it must be possible
        parent = next((p for p in data_dir.parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise AccessProblem(f"storage.data_dir: cannot create {data_dir}: {parent} is not writable by user "
                                f"{me()} ({describe(parent)}); create {data_dir} for that user or {AS_SERVICE_USER}")
    db = sqlite_path(settings.database_url)
    if db is None:
        return
    if not db.exists():
        if not create:
            raise AccessProblem(f"database: {db} does not exist; run `mailbot init` (or `mailbot migrate`) first")
        writable_dir(db.parent, "database folder", create=True)
        return
    writable_dir(db.parent, "database folder")
    for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if f.exists() and not os.access(f, os.R_OK | os.W_OK):
            raise AccessProblem(f"database: {f} is not readable and writable by user {me()} ({describe(f)}); "
                                f"chown {me()} {f} (it was probably created by another user, e.g. root)")
