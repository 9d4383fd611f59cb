"""The schema check: the head revision is known from the migration files' names, a database at head costs
one SELECT and no Alembic, and a database that is not at head is still migrated where it was before."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from mailbot.store.db import (
    MIGRATIONS_DIR,
    ensure_schema,
    head_revision,
    make_engine,
    schema_revisions,
)

ROOT = Path(__file__).resolve().parents[2]


def _declared(path: Path) -> dict[str, str | None]:
    """`revision` and `down_revision` as written in one migration file."""
    out: dict[str, str | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id in ("revision", "down_revision") and node.value is not None:
                    out[t.id] = ast.literal_eval(node.value)
    return out


def test_head_from_the_file_names_is_alembics_head() -> None:
    """Scenario: the newest file name, each file's own `revision`, and Alembic's head all agree."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    files = sorted((MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert files, "no migration files found"
    all_py = sorted(p for p in (MIGRATIONS_DIR / "versions").glob("*.py") if p.name != "__init__.py")
    assert files == all_py, "every migration file is named <4-digit revision>_<what>.py"
    previous = None
    for path in files:
        declared = _declared(path)
        assert declared.get("revision") == path.name.split("_", 1)[0], f"{path.name}: revision id != file name"
        assert declared.get("down_revision") == previous, f"{path.name}: not a straight line of revisions"
        previous = declared["revision"]
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_heads() == [head_revision()]


def test_ensure_schema_migrates_a_new_database_once(db_url: str) -> None:
    """Scenario: a new database (SQLite or PostgreSQL) has no alembic_version: migrated; then left alone."""
    engine = make_engine(db_url)
    try:
        assert schema_revisions(engine) == set()
        assert ensure_schema(engine) is True
        assert schema_revisions(engine) == {head_revision()}
        assert ensure_schema(engine) is False
    finally:
        engine.dispose()


def test_a_database_behind_head_is_migrated(tmp_path: Path) -> None:
    """Scenario: a database one revision behind (downgraded by Alembic) is upgraded by the check."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    ensure_schema(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    command.downgrade(cfg, "-1")
    assert schema_revisions(engine) != {head_revision()}
    assert ensure_schema(engine) is True
    assert schema_revisions(engine) == {head_revision()}
    engine.dispose()


def test_a_database_at_head_loads_no_alembic(tmp_path: Path) -> None:
    """Scenario: in a fresh process, checking a migrated database imports neither alembic nor mako."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ensure_schema(make_engine(url))
    code = ("import json, sys\nfrom mailbot.store.db import ensure_schema, make_engine\n"
            f"migrated = ensure_schema(make_engine({url!r}))\n"
            "print(json.dumps([migrated, sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako'))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    assert json.loads(out.stdout) == [False, []]
