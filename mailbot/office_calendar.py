"""The office's working calendar: Indonesian public holidays and cuti bersama (the holidays package) plus config."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
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

    table = holidays.country_holidays("ID", years=year, **_country_holidays_kwargs())
    return MappingProxyType({d: str(name) for d, name in table.items() if d.year == year})


def make_calendar(
    tz_name: str,
    day_start: str = "08:00",
    day_end: str = "16:00",
    extra_holidays: Iterable[str | date] = (),
    extra_workdays: Iterable[str | date] = (),
) -> WorkingCalendar:
    """Build a WorkingCalendar from configuration values; raises ValueError naming the bad value."""
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
        holidays=indonesian_holidays,
    )
