"""`mailbot backup DEST` and `mailbot restore SRC`: a consistent snapshot of the database (SQLite's online
backup API, or `pg_dump` of the configured PostgreSQL database) plus the blob store, with a manifest of
SHA-256s; a restore goes only into an empty data_dir and database, after every file is verified.

The database is copied first, the blobs after it: a blob is written before the row that names it is
committed, so every blob the snapshot refers to is already on disk when the copy of the blobs begins
(blobs are immutable; newer ones that come along are harmless). The HMAC key (MAILBOT_SECRET) is not in
the backup: keep the environment file safe separately; a restore needs the same key."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from mailbot import version
from mailbot.config import Settings
from mailbot.domain.errors import MailbotError, NotReady
from mailbot.store.access import check_storage, sqlite_path, writable_dir
from mailbot.store.blobs import BlobStore
from mailbot.store.db import display_url, make_engine, schema_revisions

FORMAT = "mailbot-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
_CHUNK = 1 << 20


class BackupError(MailbotError):
    """The backup or restore failed while running (a tool failed, a file does not match): exit 1."""


class RestoreRefused(NotReady):
    """The restore target is not empty or the backup does not fit the config: exit 2, nothing written."""


@dataclass
class Manifest:
    database: str  # "sqlite" or "postgresql"
    schema: str
    created_at: str
    mailbot: str
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blobs(self) -> int:
        return sum(1 for f in self.files if f["path"].startswith("blobs/"))

    def summary(self, sha: str = "SHA-256 of each in manifest.json") -> str:
        size = sum(int(f["size"]) for f in self.files)
        return f"{self.database} database (schema {self.schema}), {self.blobs} blob(s), {size} bytes, {sha}"

    def as_json(self) -> bytes:
        data = {"format": FORMAT, "database": self.database, "schema": self.schema,
                "created_at": self.created_at, "mailbot": self.mailbot, "files": self.files}
        return (json.dumps(data, indent=2) + "\n").encode()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _entry(root: Path, path: Path) -> dict[str, Any]:
    return {"path": path.relative_to(root).as_posix(), "size": path.stat().st_size, "sha256": _sha256(path)}


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump/pg_restore (the driver name dropped) and the environment that
    carries the password (never on the command line, where `ps` shows it)."""
    u = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run_tool(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{what}: {argv[0]} not found; install the PostgreSQL client "
                          f"(Debian: apt install postgresql-client)") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise BackupError(f"{what} failed: {last}")


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def backup(settings: Settings, dest: Path, *, now: datetime | None = None) -> Manifest:
    """Write a backup folder `dest` (it must not exist, or be empty); the manifest is written last and the
    folder appears under its name only when complete."""
    dest = Path(dest)
    if dest.exists() and not _is_empty_dir(dest):
        raise RestoreRefused(f"backup: {dest} exists and is not empty; give a new folder")
    writable_dir(dest.parent, "backup DEST's folder")
    check_storage(settings)  # as the service user: SQLite may create -wal/-shm files while it reads
    engine = make_engine(settings.database_url)
    try:
        revisions = schema_revisions(engine)
    finally:
        engine.dispose()
    if not revisions:
        raise RestoreRefused("backup: the database has no mailbot schema; nothing to back up")
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        db_file = sqlite_path(settings.database_url)
        if db_file is not None:
            target = work / SQLITE_FILE
            src = sqlite3.connect(db_file, timeout=30)
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # one step: a consistent snapshot while the daemon keeps writing
            finally:
                dst.close()
                src.close()
            kind = "sqlite"
        else:
            uri, env = _libpq(settings.database_url)
            _run_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={work / PG_FILE}",
                       f"--dbname={uri}"], env, "pg_dump")
            kind = "postgresql"
        manifest = Manifest(kind, max(revisions), (now or datetime.now(timezone.utc)).isoformat(), version())
        manifest.files.append(_entry(work, work / (SQLITE_FILE if kind == "sqlite" else PG_FILE)))
        store = BlobStore(settings.data_dir)
        for sub in sorted(store.root.iterdir()) if store.root.is_dir() else []:
            if sub.name.startswith(".") or not sub.is_dir():
                continue  # .staging: written ahead by the prefetch helper, not yet part of the store
            for blob in sorted(sub.iterdir()):
                copy = work / "blobs" / sub.name / blob.name
                copy.parent.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copyfile(blob, copy)
                except FileNotFoundError:
                    continue  # purged meanwhile (retention): no row of the snapshot's era needs it any more
                manifest.files.append(_entry(work, copy))
        (work / MANIFEST).write_bytes(manifest.as_json())
        os.sync()
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def read_manifest(src: Path) -> Manifest:
    """The manifest of backup `src`, every file in it checked against its size and SHA-256."""
    path = Path(src) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RestoreRefused(f"restore: {path} not found; give a folder written by `mailbot backup`") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"restore: {path} is not a mailbot backup manifest (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"restore: {path} is not a {FORMAT} manifest")
    manifest = Manifest(data["database"], data["schema"], data["created_at"], data["mailbot"], list(data["files"]))
    bad = []
    for f in manifest.files:
        member = Path(src) / f["path"]
        if ".." in Path(f["path"]).parts or Path(f["path"]).is_absolute():
            bad.append(f"{f['path']} (not inside the backup)")
        elif not member.is_file():
            bad.append(f"{f['path']} (missing)")
        elif member.stat().st_size != f["size"] or _sha256(member) != f["sha256"]:
            bad.append(f"{f['path']} (changed: SHA-256 differs)")
    if bad:
        raise BackupError(f"restore: {src} does not match its manifest: {'; '.join(bad[:5])}"
                          + (f" and {len(bad) - 5} more" if len(bad) > 5 else "") + "; nothing restored")
    return manifest


def _refuse_unless_empty(settings: Settings, manifest: Manifest) -> None:
    db_file = sqlite_path(settings.database_url)
    kind = "sqlite" if db_file is not None else "postgresql"
    if manifest.database != kind:
        raise RestoreRefused(f"restore: the backup holds a {manifest.database} database but database.url names "
                             f"{kind}; restore with a config for {manifest.database}")
    blobs = settings.data_dir / "blobs"
    if blobs.exists() and any(p.is_file() for p in blobs.rglob("*")):
        raise RestoreRefused(f"restore: {blobs} is not empty; restore only into an empty data_dir "
                             f"(move the old one away first)")
    if db_file is not None:
        if db_file.exists() and db_file.stat().st_size > 0:
            raise RestoreRefused(f"restore: database {db_file} exists; restore only into an empty data_dir "
                                 f"(move the old database away first)")
        return
    engine = make_engine(settings.database_url)
    try:
        tables = inspect(engine).get_table_names()
    except OperationalError as exc:
        first = (str(exc.orig) if exc.orig is not None else str(exc)).strip().splitlines()[0]
        raise RestoreRefused(f"restore: cannot open the database of database.url "
                             f"({display_url(settings.database_url)}): {first}; create it first (createdb)") from None
    finally:
        engine.dispose()
    if tables:
        raise RestoreRefused(f"restore: the PostgreSQL database of database.url has {len(tables)} table(s); "
                             f"restore only into an empty database (createdb a new one)")


def restore(settings: Settings, src: Path) -> Manifest:
    """Verify backup `src` against its manifest, then restore it into the empty data_dir and database."""
    src = Path(src)
    if not src.is_dir():
        raise RestoreRefused(f"restore: {src} is not a folder; give a folder written by `mailbot backup`")
    manifest = read_manifest(src)
    _refuse_unless_empty(settings, manifest)
    check_storage(settings, create=True)
    store = BlobStore(settings.data_dir)
    for f in manifest.files:
        if not f["path"].startswith("blobs/"):
            continue
        name = "".join(Path(f["path"]).parts[1:3])
        data = (src / f["path"]).read_bytes()
        if store.put(data) != name or hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise BackupError(f"restore: {f['path']} does not hold the bytes its name says; restore stopped")
    db_file = sqlite_path(settings.database_url)
    if db_file is not None:
        db_file.unlink(missing_ok=True)  # an empty file left by an earlier attempt
        source = sqlite3.connect(src / SQLITE_FILE)
        fd = os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        target = sqlite3.connect(db_file)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        uri, env = _libpq(settings.database_url)
        _run_tool(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={uri}",
                   str(src / PG_FILE)], env, "pg_restore")
    return manifest
