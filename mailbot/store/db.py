"""The database engine and sessions (SQLite WAL or PostgreSQL), transactions, and the schema check and migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.domain.errors import NotReady

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Migration files are named after their revision id, "<revision>_<what>.py", revisions counting up
# (0001, 0002, …): the newest file name is the head, no Alembic needed to know it (a unit test checks
# the names against the files' ids and Alembic's own head).
_REVISION_FILES = "[0-9][0-9][0-9][0-9]_*.py"


def make_engine(url: str) -> Engine:
    """An engine with SQLite made safe for one writer plus readers (WAL, FKs, busy timeout)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an exception text (logged, stored as a quarantine reason, mailed to admins)
        # must never carry bound values such as a password.
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Erased secrets (SPEC §5) must not linger in free pages of the database file.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def display_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def scrub(engine: Engine) -> None:
    """After erasing a secret: fold the SQLite WAL into the file and truncate it, so old page
    images holding the secret are gone from disk (secure_delete zeroes the freed cells)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def make_durable(engine: Engine) -> None:
    """Before an irreversible step elsewhere (moving mail out of the INBOX): make every commit so far
    survive a power loss. SQLite runs WAL with synchronous=NORMAL (fast, safe against a process crash);
    a checkpoint fsyncs the WAL and the database file. PostgreSQL commits are durable already."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; loads Alembic, ~0.3 s)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def head_revision() -> str:
    """The newest migration's revision id, from the file names in migrations/versions."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob(_REVISION_FILES))


def schema_revisions(engine: Engine) -> set[str]:
    """The revisions recorded in the database's alembic_version table; empty for a new database."""
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except (OperationalError, ProgrammingError):  # no such table: nothing migrated yet
        return set()


def ensure_schema(engine: Engine) -> bool:
    """Migrate only when the database is not at the head revision (one SELECT otherwise); True if it
    migrated. A database newer than this mailbot goes to Alembic too, which refuses it by name."""
    if schema_revisions(engine) == {head_revision()}:
        return False
    migrate(engine)
    return True


class SchemaOutdated(NotReady):
    """The database is not at this mailbot's schema; str() is one line saying what to run (exit 2)."""


def require_schema(engine: Engine) -> None:
    """Every command but `init`, `migrate` and `run`: the database must be at the head revision (one
    SELECT); otherwise SchemaOutdated saying to run `mailbot migrate` (or to upgrade mailbot)."""
    have, head = schema_revisions(engine), head_revision()
    if have == {head}:
        return
    where = display_url(engine.url.render_as_string(hide_password=False))
    if not have:
        raise SchemaOutdated(f"database {where} has no mailbot schema yet; run `mailbot migrate` (or `mailbot init`)")
    current = ", ".join(sorted(have))
    if max(have) > head:
        raise SchemaOutdated(f"database {where} is at schema {current}, newer than this mailbot ({head}); "
                             f"upgrade mailbot (or restore a backup made by this version)")
    raise SchemaOutdated(f"database {where} is at schema {current}, this mailbot needs {head}; "
                         f"run `mailbot migrate` (back up first: `mailbot backup DEST`)")


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
