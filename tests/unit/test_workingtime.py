"""Tests for the working-time calendar (days, office hours, Indonesian holidays, overrides)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.domain.workingtime import OFFICE_HOLIDAY_NAME, WorkingCalendar
from mailbot.office_calendar import make_calendar

WIB = ZoneInfo("Asia/Jakarta")
UTC = timezone.utc


def wib(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=WIB)


@pytest.fixture
def cal() -> WorkingCalendar:
    return make_calendar("Asia/Jakarta")


# --- working days ---------------------------------------------------------------------


def test_weekdays_work_weekends_do_not(cal: WorkingCalendar) -> None:
    # 2026-08-10 is a Monday with no holiday that week.
    week = [date(2026, 8, 10) + timedelta(days=i) for i in range(7)]
    assert [cal.is_working_day(d) for d in week] == [True] * 5 + [False] * 2
    assert cal.holiday_name(date(2026, 8, 15)) is None  # a Saturday is no holiday


def test_independence_day_2026_is_a_holiday(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2026, 8, 17))
    assert "Kemerdekaan" in (cal.holiday_name(date(2026, 8, 17)) or "")
    assert cal.is_working_day(date(2026, 8, 18))
    assert cal.holiday_name(date(2026, 8, 18)) is None


def test_idul_fitri_2026_with_cuti_bersama(cal: WorkingCalendar) -> None:
    # Fri 20 Mar (cuti bersama), Sat/Sun 21-22 (Idul Fitri), Mon-Tue 23-24 (cuti bersama).
    for day in range(20, 25):
        assert not cal.is_working_day(date(2026, 3, day)), day
    assert "Idul Fitri" in (cal.holiday_name(date(2026, 3, 21)) or "")
    assert "Cuti Bersama" in (cal.holiday_name(date(2026, 3, 23)) or "")
    assert cal.is_working_day(date(2026, 3, 25))


def test_extra_holiday_and_extra_workday_overrides() -> None:
    cal = make_calendar(
        "Asia/Jakarta",
        extra_holidays=["2026-08-12", date(2026, 8, 18)],
        extra_workdays=["2026-08-15", "2026-08-17"],
    )
    assert not cal.is_working_day(date(2026, 8, 12))
    assert cal.holiday_name(date(2026, 8, 12)) == OFFICE_HOLIDAY_NAME
    assert not cal.is_working_day(date(2026, 8, 18))
    # Extra workdays beat both weekends and public holidays.
    assert cal.is_working_day(date(2026, 8, 15))
    assert cal.is_working_day(date(2026, 8, 17))
    assert cal.holiday_name(date(2026, 8, 17)) is None


def test_extra_holiday_on_a_public_holiday_keeps_the_public_name() -> None:
    cal = make_calendar("Asia/Jakarta", extra_holidays=["2026-08-17"])
    assert "Kemerdekaan" in (cal.holiday_name(date(2026, 8, 17)) or "")


def test_is_working_day_rejects_datetime(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        cal.is_working_day(wib(2026, 8, 10, 9))  # type: ignore[arg-type]


# --- time zone --------------------------------------------------------------------------


def test_sunday_23_utc_is_monday_morning_in_jakarta(cal: WorkingCalendar) -> None:
    sunday_late_utc = datetime(2026, 8, 9, 23, 0, tzinfo=UTC)  # = Mon 10 Aug 06:00 WIB
    assert not cal.is_working_time(sunday_late_utc)
    opening = cal.next_working_morning(sunday_late_utc)
    assert opening == wib(2026, 8, 10, 8)
    assert opening.tzinfo == UTC
    # 06:00 WIB is before opening, so counting starts Monday 08:00 WIB.
    assert cal.add_working_days(sunday_late_utc, 1) == wib(2026, 8, 11, 8)
    assert cal.is_working_time(datetime(2026, 8, 10, 1, 0, tzinfo=UTC))  # Mon 08:00 WIB


def test_other_office_time_zone() -> None:
    wit = make_calendar("Asia/Jayapura")  # UTC+9: Mon 08:00 WIT is Sun 23:00 UTC
    sunday_22_utc = datetime(2026, 8, 9, 22, 0, tzinfo=UTC)
    assert wit.next_working_morning(sunday_22_utc) == datetime(2026, 8, 9, 23, 0, tzinfo=UTC)
    assert wit.working_minutes(sunday_22_utc, datetime(2026, 8, 10, 0, 0, tzinfo=UTC)) == 60


# --- next_working_morning -----------------------------------------------------------------


def test_next_working_morning_is_strictly_after(cal: WorkingCalendar) -> None:
    assert cal.next_working_morning(wib(2026, 8, 10, 7, 59)) == wib(2026, 8, 10, 8)
    assert cal.next_working_morning(wib(2026, 8, 10, 8)) == wib(2026, 8, 11, 8)
    assert cal.next_working_morning(wib(2026, 8, 14, 12)) == wib(2026, 8, 18, 8)  # over 17 Aug


# --- add_working_days ---------------------------------------------------------------------


def test_add_working_days_keeps_time_of_day(cal: WorkingCalendar) -> None:
    result = cal.add_working_days(wib(2026, 8, 10, 10, 30), 3)
    assert result == wib(2026, 8, 13, 10, 30)
    assert result.tzinfo == UTC
    assert cal.add_working_days(wib(2026, 8, 10, 10, 30), 0) == wib(2026, 8, 10, 10, 30)


def test_add_working_days_over_weekend_and_holiday(cal: WorkingCalendar) -> None:
    # Fri 14 Aug + 1 skips the weekend and Independence Day (Mon 17 Aug).
    assert cal.add_working_days(wib(2026, 8, 14, 10), 1) == wib(2026, 8, 18, 10)
    # Thu 19 Mar (Nyepi) starts outside working time; the next opening is 25 Mar.
    assert cal.add_working_days(wib(2026, 3, 17, 9), 1) == wib(2026, 3, 25, 9)


def test_add_working_days_from_outside_office_hours(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(wib(2026, 8, 11, 6), 0) == wib(2026, 8, 11, 8)
    assert cal.add_working_days(wib(2026, 8, 11, 16), 0) == wib(2026, 8, 12, 8)  # day_end is closed
    assert cal.add_working_days(wib(2026, 8, 13, 20), 1) == wib(2026, 8, 18, 8)  # Thu night
    assert cal.add_working_days(wib(2026, 8, 15, 11), 2) == wib(2026, 8, 20, 8)  # Saturday


def test_add_working_days_rejects_negative(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(wib(2026, 8, 10, 9), -1)


# --- working_minutes ----------------------------------------------------------------------


def test_working_minutes_inside_one_day(cal: WorkingCalendar) -> None:
    assert cal.working_minutes(wib(2026, 8, 10, 9), wib(2026, 8, 10, 10, 30)) == 90
    assert cal.working_minutes(wib(2026, 8, 10, 6), wib(2026, 8, 10, 20)) == 480


def test_working_minutes_across_nights(cal: WorkingCalendar) -> None:
    assert cal.working_minutes(wib(2026, 8, 10, 15), wib(2026, 8, 11, 9)) == 120
    assert cal.working_minutes(wib(2026, 8, 10, 8), wib(2026, 8, 12, 8)) == 2 * 480


def test_working_minutes_across_weekend_and_holiday(cal: WorkingCalendar) -> None:
    assert cal.working_minutes(wib(2026, 8, 7, 15), wib(2026, 8, 10, 9)) == 120
    # Fri 14 Aug 15:00 -> Tue 18 Aug 09:00: the Monday is Independence Day.
    assert cal.working_minutes(wib(2026, 8, 14, 15), wib(2026, 8, 18, 9)) == 120
    assert cal.working_minutes(wib(2026, 8, 15, 0), wib(2026, 8, 17, 23)) == 0


def test_working_minutes_is_zone_independent_and_fractional(cal: WorkingCalendar) -> None:
    start_utc = datetime(2026, 8, 10, 2, 0, 30, tzinfo=UTC)  # 09:00:30 WIB
    end_wib = wib(2026, 8, 10, 9, 2)
    assert cal.working_minutes(start_utc, end_wib) == pytest.approx(1.5)


def test_working_minutes_zero_when_end_not_after_start(cal: WorkingCalendar) -> None:
    assert cal.working_minutes(wib(2026, 8, 10, 10), wib(2026, 8, 10, 9)) == 0
    assert cal.working_minutes(wib(2026, 8, 10, 10), wib(2026, 8, 10, 10)) == 0


# --- working_days_between -----------------------------------------------------------------


def test_working_days_between(cal: WorkingCalendar) -> None:
    start = wib(2026, 8, 10, 10)
    assert cal.working_days_between(start, wib(2026, 8, 11, 9, 59)) == 0
    assert cal.working_days_between(start, wib(2026, 8, 11, 10)) == 1
    assert cal.working_days_between(start, wib(2026, 8, 18, 10)) == 5  # 17 Aug excluded
    assert cal.working_days_between(start, wib(2026, 8, 9, 10)) == 0


def test_working_days_between_from_outside_office_hours(cal: WorkingCalendar) -> None:
    friday_evening = wib(2026, 8, 7, 19)
    assert cal.working_days_between(friday_evening, wib(2026, 8, 10, 15)) == 0
    assert cal.working_days_between(friday_evening, wib(2026, 8, 11, 8)) == 1


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    n=st.integers(min_value=0, max_value=30),
)
def test_add_and_count_agree(start: datetime, n: int) -> None:
    cal = make_calendar("Asia/Jakarta")
    later = cal.add_working_days(start, n)
    assert later >= start
    assert cal.working_days_between(start, later) == n
    assert cal.working_minutes(start, later) == pytest.approx(n * 480)


# --- validation -----------------------------------------------------------------------------


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    naive = datetime(2026, 8, 10, 9)
    aware = wib(2026, 8, 10, 9)
    calls = [
        lambda: cal.add_working_days(naive, 1),
        lambda: cal.working_minutes(naive, aware),
        lambda: cal.working_minutes(aware, naive),
        lambda: cal.working_days_between(naive, aware),
        lambda: cal.working_days_between(aware, naive),
        lambda: cal.next_working_morning(naive),
        lambda: cal.is_working_time(naive),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="aware"):
            call()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"tz_name": "Asia/Atlantis"}, "Asia/Atlantis"),
        ({"tz_name": ""}, "''"),
        ({"tz_name": "Asia/Jakarta", "day_start": "8am"}, "8am"),
        ({"tz_name": "Asia/Jakarta", "day_end": "24:30"}, "24:30"),
        ({"tz_name": "Asia/Jakarta", "day_start": "16:00", "day_end": "08:00"}, "16:00"),
        ({"tz_name": "Asia/Jakarta", "extra_holidays": ["2026-13-01"]}, "2026-13-01"),
        ({"tz_name": "Asia/Jakarta", "extra_workdays": [20260817]}, "20260817"),
        (
            {"tz_name": "Asia/Jakarta", "extra_holidays": ["2026-08-12"], "extra_workdays": ["2026-08-12"]},
            "2026-08-12",
        ),
    ],
)
def test_make_calendar_names_the_bad_value(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        make_calendar(**kwargs)  # type: ignore[arg-type]


def test_make_calendar_parses_values() -> None:
    cal = make_calendar(" Asia/Makassar ", "07:30", "15:30", extra_holidays="2026-08-12")
    assert cal.tz == ZoneInfo("Asia/Makassar")
    assert (cal.day_start, cal.day_end) == (time(7, 30), time(15, 30))
    assert cal.extra_holidays == frozenset({date(2026, 8, 12)})
    assert hash(cal) == hash(make_calendar("Asia/Makassar", "07:30", "15:30", ["2026-08-12"]))


def test_direct_construction_accepts_plain_sets() -> None:
    cal = WorkingCalendar(tz=WIB, extra_workdays={date(2026, 8, 15)})  # type: ignore[arg-type]
    assert isinstance(cal.extra_workdays, frozenset)
    assert cal.is_working_day(date(2026, 8, 15))
