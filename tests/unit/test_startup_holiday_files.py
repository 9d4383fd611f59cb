"""The holiday table of a year is kept as a small file in the data dir, so a short command reads it instead
of importing the holidays package; a stale, damaged or unwritable file only costs the build."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from mailbot.office_calendar import (
    HolidayFiles,
    _from_files,
    indonesian_holidays,
    make_calendar,
)


def test_the_file_holds_the_same_table(tmp_path: Path) -> None:
    """Scenario: first use builds the table and writes the file; a later read gives the same days."""
    _from_files.cache_clear()
    table = HolidayFiles(tmp_path)(2026)
    assert dict(table) == dict(indonesian_holidays(2026))
    data = json.loads((tmp_path / "holidays-ID-2026.json").read_text(encoding="utf-8"))
    assert data["year"] == 2026 and date(2026, 8, 17).isoformat() in data["days"]
    _from_files.cache_clear()
    assert dict(HolidayFiles(tmp_path)(2026)) == dict(table)
    assert list(tmp_path.iterdir()) == [tmp_path / "holidays-ID-2026.json"]  # no temp file left


def test_a_stale_or_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    """Scenario: a file from another holidays version, or garbage, is replaced by a freshly built table."""
    path = tmp_path / "holidays-ID-2026.json"
    for text in ('{"key": "holidays 0.0; categories public; language id", "year": 2026, "days": {"2026-01-05": "X"}}',
                 "{not json", '["a list"]'):
        path.write_text(text, encoding="utf-8")
        _from_files.cache_clear()
        assert dict(HolidayFiles(tmp_path)(2026)) == dict(indonesian_holidays(2026))
        assert json.loads(path.read_text(encoding="utf-8"))["days"].get("2026-01-05") is None


def test_an_unwritable_folder_still_gives_the_table(tmp_path: Path) -> None:
    """Scenario: the folder cannot be created (a file is in the way): the table is built, nothing raised."""
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    _from_files.cache_clear()
    assert dict(HolidayFiles(blocker)(2026)) == dict(indonesian_holidays(2026))


def test_a_calendar_with_files_answers_like_one_without(tmp_path: Path) -> None:
    """Scenario: the same working-day answers with and without the files (17 August is a holiday)."""
    _from_files.cache_clear()
    plain, filed = make_calendar("Asia/Jakarta"), make_calendar("Asia/Jakarta", holiday_files=tmp_path)
    for d in (date(2026, 8, 17), date(2026, 8, 18), date(2026, 8, 22), date(2026, 12, 25)):
        assert plain.is_working_day(d) == filed.is_working_day(d)
    assert filed == make_calendar("Asia/Jakarta", holiday_files=tmp_path)  # comparable and hashable
    assert hash(filed) == hash(make_calendar("Asia/Jakarta", holiday_files=tmp_path))


def test_reading_the_file_imports_no_holidays_package(tmp_path: Path) -> None:
    """Scenario: in a fresh process, a year whose file exists is answered without `import holidays`."""
    HolidayFiles(tmp_path)(2026)
    code = ("import sys\nfrom pathlib import Path\nfrom mailbot.office_calendar import HolidayFiles\n"
            f"days = HolidayFiles(Path({str(tmp_path)!r}))(2026)\n"
            "assert len(days) > 5 and 'holidays' not in sys.modules, sorted(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
