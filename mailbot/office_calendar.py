"""The office's working calendar: Indonesian public holidays and cuti bersama (the holidays package) plus config."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailbot.domain.workingtime import WorkingCalendar, parse_dates, parse_time

_WANTED_CATEGORIES = ("public", "government")  # "government" carries cuti bersama
_WANTED_LANGUAGE = "id"


def _country_holidays_kwargs() -> dict[str, object]:
    """Pick categories/language the installed `holidays` version supports for Indonesia."""
    import holidays

    cls = holidays.country_holidays("ID").__class__
    kwargs: dict[str, object] = {}
    supported = getattr(cls, "supported_categories", None)
    if supported:
        kwargs["categories"] = tuple(c for c in _WANTED_CATEGORIES if c in supported) or None
    if _WANTED_LANGUAGE in (getattr(cls, "supported_languages", ()) or ()):
        # Explicit, because otherwise the names depend on the process locale.
        kwargs["language"] = _WANTED_LANGUAGE
    return {k: v for k, v in kwargs.items() if v is not None}


@functools.lru_cache(maxsize=None)
def indonesian_holidays(year: int) -> Mapping[date, str]:
    """Indonesian public holidays and cuti bersama of one year, date -> name (cached, read-only)."""
    import holidays  # imported on first use: building the table costs ~0.3 s a command need not pay

    table = holidays.country_holidays("ID", years=year, **_country_holidays_kwargs())  # type: ignore[arg-type]
    return MappingProxyType({d: str(name) for d, name in table.items() if d.year == year})


def _holidays_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("holidays")
    except PackageNotFoundError:
        return None


@dataclass(frozen=True)
class HolidayFiles:
    """indonesian_holidays() kept in `folder` as one small JSON file per year, so that a short command
    (an empty `mailbot poll` asking whether today is a working day) reads a file instead of importing
    the holidays package's 250 countries and building the table (~0.1 s). A file is used only when it
    was written by the same holidays version with the same categories and language; anything else,
    or a folder that cannot be written, just means the table is built as without the files."""

    folder: Path

    def __call__(self, year: int) -> Mapping[date, str]:
        return _from_files(self.folder, year)


@functools.lru_cache(maxsize=None)
def _from_files(folder: Path, year: int) -> Mapping[date, str]:
    version = _holidays_version()
    if version is None:
        return indonesian_holidays(year)
    key = f"holidays {version}; categories {','.join(_WANTED_CATEGORIES)}; language {_WANTED_LANGUAGE}"
    path = folder / f"holidays-ID-{year}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["key"] == key and data["year"] == year:
            return MappingProxyType({date.fromisoformat(d): str(n) for d, n in data["days"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # missing, stale or damaged: build it
    table = indonesian_holidays(year)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "year": year, "days": {d.isoformat(): n for d, n in table.items()}},
                                  ensure_ascii=False, indent=0), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # e.g. a read-only data dir: the next command builds the table again
        with contextlib.suppress(OSError):
            tmp.unlink()
    return table


def make_calendar(
    tz_name: str,
    day_start: str = "08:00",
    day_end: str = "16:00",
    extra_holidays: Iterable[str | date] = (),
    extra_workdays: Iterable[str | date] = (),
    holiday_files: Path | None = None,
) -> WorkingCalendar:
    """Build a WorkingCalendar from configuration values; raises ValueError naming the bad value.
    `holiday_files`: a folder where the year tables are kept between commands (see HolidayFiles)."""
    try:
        tz = ZoneInfo(str(tz_name).strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone: {tz_name!r}") from None
    return WorkingCalendar(
        tz=tz,
        day_start=parse_time(day_start, "day_start"),
        day_end=parse_time(day_end, "day_end"),
        extra_holidays=parse_dates(extra_holidays, "extra_holidays"),
        extra_workdays=parse_dates(extra_workdays, "extra_workdays"),
        holidays=HolidayFiles(holiday_files) if holiday_files is not None else indonesian_holidays,
    )
