"""Office working time (working days, office hours, holidays given by the caller) for reminders and SLA."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# Name reported for dates the office itself declared as holidays (user-facing, hence Indonesian).
OFFICE_HOLIDAY_NAME = "Libur kantor"

_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
_ONE_DAY = timedelta(days=1)
# Upper bound for day-by-day scans; far beyond any reminder/SLA horizon, it only
# turns a misconfiguration (e.g. every date an extra holiday) into an error, not a hang.
_MAX_SCAN_DAYS = 3660






def no_holidays(year: int) -> Mapping[date, str]:
    """No public holidays (a calendar built without a country's list)."""
    return {}


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (Mon–Fri minus holidays, plus overrides) and office hours in one time zone.

    Office hours are the half-open interval [day_start, day_end) of local time.
    All datetime arguments must be aware; all returned datetimes are aware UTC.
    """

    tz: ZoneInfo
    day_start: time = time(8, 0)
    day_end: time = time(16, 0)
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    # Public holidays of a year (date -> name); the office calendar passes Indonesia's (mailbot.office_calendar).
    holidays: Callable[[int], Mapping[date, str]] = no_holidays

    def __post_init__(self) -> None:
        if not isinstance(self.tz, tzinfo):
            raise ValueError(f"tz must be a time zone, got {self.tz!r}")
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end must be naive local times")
        if not self.day_start < self.day_end:
            raise ValueError(
                f"day_start {self.day_start.isoformat()} must be before day_end {self.day_end.isoformat()}"
            )
        # Accept any iterable (e.g. a set) but store frozensets so the instance stays hashable.
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"dates listed as both extra holiday and extra workday: {listed}")

    # --- days -------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """True on Mon–Fri that are no public holiday/cuti bersama, or on an extra workday."""
        d = _as_date(d)
        if d in self.extra_workdays:
            return True
        if d in self.extra_holidays or d.weekday() >= 5:
            return False
        return d not in self.holidays(d.year)

    def holiday_name(self, d: date) -> str | None:
        """Name of the holiday on `d` (Indonesian), or None; None too if the office works that day."""
        d = _as_date(d)
        if d in self.extra_workdays:
            return None
        name = self.holidays(d.year).get(d)
        if d in self.extra_holidays:
            return name or OFFICE_HOLIDAY_NAME
        return name

    # --- instants ---------------------------------------------------------------------

    def is_working_time(self, at: datetime) -> bool:
        """True if `at` falls inside office hours on a working day."""
        _require_aware(at, "at")
        local = at.astimezone(self.tz)
        return self.is_working_day(local.date()) and self.day_start <= local.time() < self.day_end

    def next_working_morning(self, after: datetime) -> datetime:
        """The next opening time (day_start on a working day) strictly after `after`, aware UTC."""
        _require_aware(after, "after")
        for day in self._days_from(after.astimezone(self.tz).date()):
            opening = self._at(day, self.day_start)
            if opening > after and self.is_working_day(day):
                return opening.astimezone(timezone.utc)
        raise AssertionError("unreachable: _days_from raises first")

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Same local time-of-day `n` working days later, aware UTC.

        A start outside office hours counts from the next opening, so the result is
        then day_start of the n-th working day after that opening.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        anchor = self._anchor(start)
        local = anchor.astimezone(self.tz)
        day = local.date()
        for _ in range(n):
            day = self._next_working_day(day)
        return self._at(day, local.time()).astimezone(timezone.utc)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Full working days elapsed: the largest n with add_working_days(start, n) <= end."""
        _require_aware(end, "end")
        anchor = self._anchor(start)
        if end <= anchor:
            return 0
        local = anchor.astimezone(self.tz)
        day, count = local.date(), 0
        while True:
            day = self._next_working_day(day)
            if self._at(day, local.time()) > end:
                return count
            count += 1

    def working_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes of office time between two aware instants (0 if end <= start)."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if end <= start:
            return 0.0
        first = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        total = timedelta()
        for day in self._days_between(first, last):
            if not self.is_working_day(day):
                continue
            # Intersect [start, end) with this day's office hours; compare as aware
            # instants so the subtraction is real elapsed time.
            lo = max(start, self._at(day, self.day_start))
            hi = min(end, self._at(day, self.day_end))
            if hi > lo:
                total += hi.astimezone(timezone.utc) - lo.astimezone(timezone.utc)
        return total.total_seconds() / 60

    # --- helpers ----------------------------------------------------------------------

    def _at(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz)

    def _anchor(self, start: datetime) -> datetime:
        """`start` itself during office hours, else the next opening."""
        _require_aware(start, "start")
        if self.is_working_time(start):
            return start
        return self.next_working_morning(start)

    def _next_working_day(self, day: date) -> date:
        for candidate in self._days_from(day + _ONE_DAY):
            if self.is_working_day(candidate):
                return candidate
        raise AssertionError("unreachable: _days_from raises first")

    @staticmethod
    def _days_from(first: date) -> Iterator[date]:
        """Consecutive days from `first`; raises if no working day turns up in ten years."""
        day = first
        for _ in range(_MAX_SCAN_DAYS):
            yield day
            day += _ONE_DAY
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {first.isoformat()}")

    @staticmethod
    def _days_between(first: date, last: date) -> Iterator[date]:
        day = first
        while day <= last:
            yield day
            day += _ONE_DAY


def _as_date(value: date) -> date:
    # datetime is a subclass of date; a datetime here is almost surely a bug (which zone?).
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"expected a date, got {value!r}")
    return value


def parse_time(value: str | time, what: str) -> time:
    if isinstance(value, time):
        return value
    match = _HHMM.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"{what} must be HH:MM, got {value!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{what} is not a valid time of day: {value!r}")
    return time(hour, minute)


def parse_dates(values: Iterable[str | date], what: str) -> frozenset[date]:
    if isinstance(values, (str, date)):
        values = [values]  # a single value is an easy config mistake; accept it
    parsed: set[date] = set()
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, (str, date)):
            raise ValueError(f"{what}: expected a YYYY-MM-DD date, got {value!r}")
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{what}: not a YYYY-MM-DD date: {value!r}") from None
        parsed.add(value)
    return frozenset(parsed)


