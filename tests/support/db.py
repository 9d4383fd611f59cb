"""Databases for the tests: a SQLite file per test, and a fresh PostgreSQL database when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "MAILBOT_TEST_POSTGRES_URL"


def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (its URL), dropped afterwards; skips unless PG_ENV is set, fails
    instead when MAILBOT_REQUIRE_POSTGRES is."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("MAILBOT_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_ENV} not set but MAILBOT_REQUIRE_POSTGRES is")
        pytest.skip(f"{PG_ENV} not set")
    name = f"mailbot_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mailbot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailbot.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """PostgreSQL only (skipped unless MAILBOT_TEST_POSTGRES_URL is set)."""
    yield from pg_database()
