import gc
import itertools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoomstate import calendar
from zoomstate.calendar import (
    ZOOM_OCCURRENCE_CAP,
    Preview,
    check,
    describe,
    preview,
    series,
    summary,
    zoom_schedule,
    zoom_weekday,
)
from zoomstate.model import MeetingSpec, Position
from zoomstate.zoombody import occurrences_from_zoom, rule_of_zoom

NY = "America/New_York"


@pytest.fixture(autouse=True, scope="module")
def packaged_tz_database():
    # The tzdata package is the reference; the system database may be older.
    zoneinfo.reset_tzpath(to=[])
    zoneinfo.ZoneInfo.clear_cache()
    yield
    zoneinfo.reset_tzpath()
    zoneinfo.ZoneInfo.clear_cache()


def spec(**overrides) -> MeetingSpec:
    values = dict(key="k", host_email="a@x.com", topic="T", start_date=date(2027, 3, 1), start_time=time(9),
                  recurrence_type="weekly", weekly_days=(2,), occurrences=10, timezone=NY)
    values.update(overrides)
    return MeetingSpec(**values)


def dates(starts: list[datetime]) -> list[str]:
    return [s.date().isoformat() for s in starts]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- series -----------------------------------------------------------------------------------------------


def test_zoom_weekday_uses_sunday_as_one():
    # 2027-03-07 is a Sunday
    assert [zoom_weekday(date(2027, 3, 7) + timedelta(days=i)) for i in range(7)] == [1, 2, 3, 4, 5, 6, 7]


def test_weekly_single_day():
    starts = series(spec(weekly_days=(2,), occurrences=3))
    assert dates(starts) == ["2027-03-01", "2027-03-08", "2027-03-15"]
    assert all(s.time() == time(9) and s.tzinfo == ZoneInfo(NY) for s in starts)


def test_weekly_several_days():
    starts = series(spec(weekly_days=(2, 4, 6), occurrences=5))
    assert dates(starts) == ["2027-03-01", "2027-03-03", "2027-03-05", "2027-03-08", "2027-03-10"]


def test_biweekly_several_days_counts_weeks_from_the_sunday_week_of_start_date():
    # start on Wed 2027-03-03: that week (Sun 02-28 .. Sat 03-06) is week 0, so its Friday counts
    s = spec(start_date=date(2027, 3, 3), weekly_days=(2, 4, 6), repeat_interval=2, occurrences=6)
    starts = series(s)
    assert dates(starts) == ["2027-03-03", "2027-03-05", "2027-03-15", "2027-03-17", "2027-03-19",
                             "2027-03-29"]


def test_biweekly_start_after_the_days_of_its_week_skips_to_week_two():
    # Sat 2027-03-06: week 0 has no Monday left, week 1 is off, so the first meeting is Mon 2027-03-15
    starts = series(spec(start_date=date(2027, 3, 6), weekly_days=(2,), repeat_interval=2, occurrences=2))
    assert dates(starts) == ["2027-03-15", "2027-03-29"]


def test_daily_every_three_days():
    starts = series(spec(recurrence_type="daily", weekly_days=None, repeat_interval=3, occurrences=4))
    assert dates(starts) == ["2027-03-01", "2027-03-04", "2027-03-07", "2027-03-10"]


def test_monthly_day_15():
    starts = series(spec(recurrence_type="monthly", weekly_days=None, monthly_day=15,
                         start_date=date(2027, 3, 20), occurrences=3))
    assert dates(starts) == ["2027-04-15", "2027-05-15", "2027-06-15"]


def test_monthly_day_31_skips_short_months():
    starts = series(spec(recurrence_type="monthly", weekly_days=None, monthly_day=31,
                         start_date=date(2027, 1, 1), occurrences=4))
    assert dates(starts) == ["2027-01-31", "2027-03-31", "2027-05-31", "2027-07-31"]


def test_monthly_second_tuesday():
    starts = series(spec(recurrence_type="monthly", weekly_days=None, monthly_week=2, monthly_week_day=3,
                         start_date=date(2027, 1, 1), occurrences=3))
    assert dates(starts) == ["2027-01-12", "2027-02-09", "2027-03-09"]


def test_monthly_last_friday():
    starts = series(spec(recurrence_type="monthly", weekly_days=None, monthly_week=-1, monthly_week_day=6,
                         start_date=date(2027, 1, 1), occurrences=3))
    assert dates(starts) == ["2027-01-29", "2027-02-26", "2027-03-26"]


def test_every_two_months_counts_from_start_month():
    starts = series(spec(recurrence_type="monthly", weekly_days=None, monthly_week=2, monthly_week_day=3,
                         repeat_interval=2, start_date=date(2027, 1, 20), occurrences=3))
    # January's 2nd Tuesday (01-12) is before start_date; March, May, July follow
    assert dates(starts) == ["2027-03-09", "2027-05-11", "2027-07-13"]
    by_day = series(spec(recurrence_type="monthly", weekly_days=None, monthly_day=10, repeat_interval=2,
                         start_date=date(2027, 1, 1), occurrences=3))
    assert dates(by_day) == ["2027-01-10", "2027-03-10", "2027-05-10"]


def test_end_date_is_inclusive():
    on_end = series(spec(occurrences=None, end_date=date(2027, 3, 15)))
    assert dates(on_end) == ["2027-03-01", "2027-03-08", "2027-03-15"]
    before_end = series(spec(occurrences=None, end_date=date(2027, 3, 14)))
    assert dates(before_end) == ["2027-03-01", "2027-03-08"]


def test_occurrences_count():
    assert len(series(spec(occurrences=7))) == 7
    assert series(spec(occurrences=0)) == []


def test_series_is_bounded():
    starts = series(spec(recurrence_type="daily", weekly_days=None, occurrences=None,
                         end_date=date(2040, 1, 1)))
    assert len(starts) == calendar.SERIES_LIMIT


def test_dst_keeps_local_time_in_new_york():
    starts = series(spec(start_date=date(2027, 3, 1), occurrences=None, end_date=date(2027, 11, 30)))
    assert {s.time() for s in starts} == {time(9)}
    by_date = {s.date(): s.astimezone(UTC).time() for s in starts}
    assert by_date[date(2027, 3, 8)] == time(14)  # EST, before 2027-03-14
    assert by_date[date(2027, 3, 15)] == time(13)  # EDT
    assert by_date[date(2027, 11, 1)] == time(13)  # still EDT, before 2027-11-07
    assert by_date[date(2027, 11, 8)] == time(14)  # EST again


def test_dst_keeps_local_time_in_london():
    starts = series(spec(timezone="Europe/London", recurrence_type="daily", weekly_days=None,
                         start_date=date(2027, 3, 27), occurrences=3))
    assert [s.astimezone(UTC).hour for s in starts] == [9, 8, 8]  # BST from 2027-03-28
    assert {s.hour for s in starts} == {9}


def test_seed_example_one_is_counted():
    # weekly "2" from 2026-03-03 (a Tuesday) to 2026-12-31: every Monday 2026-03-09 .. 2026-12-28
    example = spec(start_date=date(2026, 3, 3), occurrences=None, end_date=date(2026, 12, 31), duration=45)
    starts = series(example)
    assert len(starts) == 43
    assert (dates(starts)[0], dates(starts)[-1]) == ("2026-03-09", "2026-12-28")


# --- preview and zoom_schedule ----------------------------------------------------------------------------


def test_preview_counts_past_and_upcoming():
    s = spec(occurrences=10)  # Mondays 2027-03-01 .. 2027-05-03
    p = preview(s, utc(2027, 3, 20))
    assert p == Preview(total=10, past=3, upcoming=7, first=datetime(2027, 3, 1, 9, tzinfo=ZoneInfo(NY)),
                        next=datetime(2027, 3, 22, 9, tzinfo=ZoneInfo(NY)),
                        last=datetime(2027, 5, 3, 9, tzinfo=ZoneInfo(NY)))
    assert preview(s, utc(2028, 1, 1)).next is None
    assert preview(spec(occurrences=0), utc(2027, 1, 1)) == Preview(0, 0, 0, None, None, None)


def test_zoom_body_weekly_with_end_times():
    sched = zoom_schedule(spec(weekly_days=(2, 4), occurrences=6), utc(2027, 1, 1))
    assert sched.start_time == "2027-03-01T09:00:00"
    assert sched.timezone == NY
    assert sched.recurrence == {"type": 2, "repeat_interval": 1, "weekly_days": "2,4", "end_times": 6}


def test_zoom_body_daily():
    sched = zoom_schedule(spec(recurrence_type="daily", weekly_days=None, repeat_interval=3, occurrences=4),
                          utc(2027, 1, 1))
    assert sched.recurrence == {"type": 1, "repeat_interval": 3, "end_times": 4}


def test_zoom_body_monthly_day_with_end_date_in_summer_time():
    s = spec(recurrence_type="monthly", weekly_days=None, monthly_day=15, occurrences=None,
             end_date=date(2027, 7, 31))
    sched = zoom_schedule(s, utc(2027, 1, 1))
    assert sched.start_time == "2027-03-15T09:00:00"
    # 2027-07-31 23:59:59 EDT (UTC-4)
    assert sched.recurrence == {"type": 3, "repeat_interval": 1, "monthly_day": 15,
                                "end_date_time": "2027-08-01T03:59:59Z"}


def test_zoom_body_monthly_week_with_end_date_in_standard_time():
    s = spec(recurrence_type="monthly", weekly_days=None, monthly_week=-1, monthly_week_day=6,
             repeat_interval=2, occurrences=None, end_date=date(2027, 12, 31))
    sched = zoom_schedule(s, utc(2027, 1, 1))
    assert sched.start_time == "2027-03-26T09:00:00"
    # 2027-12-31 23:59:59 EST (UTC-5)
    assert sched.recurrence == {"type": 3, "repeat_interval": 2, "monthly_week": -1, "monthly_week_day": 6,
                                "end_date_time": "2028-01-01T04:59:59Z"}


def test_zoom_schedule_anchors_at_next_occurrence_and_counts_only_upcoming():
    s = spec(weekly_days=(2, 4), occurrences=10)  # Mon/Wed from 2027-03-01
    now = datetime(2027, 3, 8, 9, 0, tzinfo=ZoneInfo(NY)).astimezone(UTC)  # the 3rd meeting starts now
    sched = zoom_schedule(s, now)
    assert sched.start_time == "2027-03-10T09:00:00"
    assert sched.recurrence["end_times"] == 7
    assert "end_date_time" not in sched.recurrence


def test_zoom_schedule_with_end_date_keeps_end_date_time_when_start_is_past():
    s = spec(occurrences=None, end_date=date(2027, 4, 30))
    sched = zoom_schedule(s, utc(2027, 4, 1))
    assert sched.start_time == "2027-04-05T09:00:00"
    assert sched.recurrence == {"type": 2, "repeat_interval": 1, "weekly_days": "2",
                                "end_date_time": "2027-05-01T03:59:59Z"}


def test_zoom_schedule_without_upcoming_occurrence_raises():
    with pytest.raises(ValueError, match="no upcoming occurrence"):
        zoom_schedule(spec(occurrences=2), utc(2028, 1, 1))
    with pytest.raises(ValueError, match="no upcoming occurrence"):
        zoom_schedule(spec(occurrences=0), utc(2027, 1, 1))


# --- words ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "text"), [
    ({}, "weekly on Mon at 09:00 America/New_York"),
    ({"weekly_days": (4,), "repeat_interval": 2, "start_time": time(14)},
     "every 2 weeks on Wed at 14:00 America/New_York"),
    ({"weekly_days": (2, 4, 6)}, "weekly on Mon, Wed, Fri at 09:00 America/New_York"),
    ({"recurrence_type": "daily", "weekly_days": None}, "daily at 09:00 America/New_York"),
    ({"recurrence_type": "daily", "weekly_days": None, "repeat_interval": 3, "timezone": "UTC"},
     "every 3 days at 09:00 UTC"),
    ({"recurrence_type": "monthly", "weekly_days": None, "monthly_day": 15},
     "monthly on day 15 at 09:00 America/New_York"),
    ({"recurrence_type": "monthly", "weekly_days": None, "monthly_week": -1, "monthly_week_day": 6},
     "monthly on the last Fri at 09:00 America/New_York"),
    ({"recurrence_type": "monthly", "weekly_days": None, "monthly_week": 2, "monthly_week_day": 3,
      "repeat_interval": 2}, "every 2 months on the 2nd Tue at 09:00 America/New_York"),
    ({"start_time": time(9, 30, 15)}, "weekly on Mon at 09:30:15 America/New_York"),
])
def test_describe(overrides, text):
    assert describe(spec(**overrides)) == text


def test_summary_counts_upcoming_and_mentions_past():
    s = spec(occurrences=10)
    assert summary(s, utc(2027, 1, 1)) == (
        "weekly on Mon at 09:00 America/New_York, 10 occurrences, 2027-03-01 → 2027-05-03")
    assert summary(s, utc(2027, 3, 20)) == (
        "weekly on Mon at 09:00 America/New_York, 7 occurrences, 2027-03-22 → 2027-05-03 (3 already past)")
    assert summary(s, utc(2027, 5, 1)) == (
        "weekly on Mon at 09:00 America/New_York, 1 occurrence, 2027-05-03 (9 already past)")
    assert summary(s, utc(2028, 1, 1)) == (
        "weekly on Mon at 09:00 America/New_York, no upcoming occurrences (10 already past)")


# --- check ------------------------------------------------------------------------------------------------


def messages(diags, severity):
    return [(d.field, d.message) for d in diags if d.severity == severity]


def test_check_clean_series_has_no_findings():
    assert check(spec(occurrences=10, timezone="UTC"), utc(2027, 1, 1)) == []


def test_check_uses_field_positions_and_falls_back_to_the_meeting():
    where = Position("meetings.yaml", 3, 5)
    s = spec(occurrences=None, end_date=date(2027, 2, 1), position=where,
             field_positions={"end_date": Position("meetings.yaml", 12, 15)})
    [diag] = check(s, utc(2027, 1, 1))
    assert (diag.severity, diag.file, diag.line, diag.col, diag.field) == (
        "error", "meetings.yaml", 12, 15, "k.end_date")
    assert diag.message == "end_date 2027-02-01 is before start_date 2027-03-01"
    [past] = check(spec(occurrences=1, position=where), utc(2028, 1, 1))
    assert (past.file, past.line, past.col, past.field) == ("meetings.yaml", 3, 5, "k.start_date")
    [bare] = check(spec(occurrences=1), utc(2028, 1, 1))
    assert (bare.file, bare.line, bare.col) == ("", None, None)


def test_check_error_no_occurrence_at_all():
    # Monday-only series between a Tuesday and a Sunday
    s = spec(start_date=date(2027, 3, 2), occurrences=None, end_date=date(2027, 3, 7))
    assert messages(check(s, utc(2027, 1, 1)), "error") == [
        ("k.end_date", "the series has no occurrence at all: check start_date, the recurrence fields and "
                       "end_date")]


def test_check_error_every_occurrence_past():
    s = spec(occurrences=None, end_date=date(2027, 3, 31))
    assert messages(check(s, utc(2027, 6, 1)), "error") == [
        ("k.end_date", "every occurrence is already past: move start_date/end_date forward")]
    assert messages(check(spec(occurrences=3), utc(2027, 6, 1)), "error") == [
        ("k.start_date", "every occurrence is already past: move start_date forward")]


def test_check_error_more_than_zoom_keeps():
    s = spec(start_date=date(2027, 1, 4), occurrences=None, end_date=date(2028, 6, 30), timezone="UTC")
    errors = messages(check(s, utc(2027, 1, 1)), "error")
    fiftieth = series(s)[ZOOM_OCCURRENCE_CAP - 1].date().isoformat()
    assert fiftieth == "2027-12-13"
    assert errors == [("k.end_date", "Zoom keeps at most 50 occurrences of a series; this one has 78 from "
                                     "2027-01-04 to 2028-06-26: set end_date to 2027-12-13"
                                     ", split it, or set `rolling: true` (Zoom then holds the next 50 "
                                     "and each apply extends the series)")]
    counted = spec(start_date=date(2027, 1, 4), occurrences=60, timezone="UTC")
    assert messages(check(counted, utc(2027, 1, 20)), "error") == [
        ("k.occurrences", "Zoom keeps at most 50 occurrences of a series; this one has 57 from 2027-01-25 "
                          "to 2028-02-21: set occurrences to 53 (last meeting 2028-01-03)"
                          ", split it, or set `rolling: true` (Zoom then holds the next 50 "
                          "and each apply extends the series)")]


def test_check_fifty_upcoming_is_allowed():
    s = spec(start_date=date(2027, 1, 4), occurrences=ZOOM_OCCURRENCE_CAP, timezone="UTC")
    assert messages(check(s, utc(2027, 1, 1)), "error") == []


def test_check_warns_about_past_occurrences():
    assert messages(check(spec(occurrences=10, timezone="UTC"), utc(2027, 3, 20)), "warning") == [
        ("k.start_date", "3 occurrences are already past; the series will start on 2027-03-22")]
    assert messages(check(spec(occurrences=10, timezone="UTC"), utc(2027, 3, 5)), "warning") == [
        ("k.start_date", "1 occurrence is already past; the series will start on 2027-03-08")]


def test_check_warns_when_start_date_is_not_a_meeting_day():
    s = spec(start_date=date(2027, 3, 2), weekly_days=(2, 6), occurrences=4, timezone="UTC")
    assert messages(check(s, utc(2027, 1, 1)), "warning") == [
        ("k.start_date", '2027-03-02 is a Tue, but weekly_days "2,6" means Mon, Fri (1 = Sunday ... 7 = Saturday): '
                         "the first meeting is on 2027-03-05")]


def test_check_warns_about_months_without_the_day():
    s = spec(recurrence_type="monthly", weekly_days=None, monthly_day=31, start_date=date(2027, 1, 1),
             occurrences=4, timezone="UTC")
    assert messages(check(s, utc(2026, 12, 1)), "warning") == [
        ("k.monthly_day", "no meeting in Feb 2027, Apr 2027, Jun 2027 (no day 31 there)")]
    fine = spec(recurrence_type="monthly", weekly_days=None, monthly_day=30, start_date=date(2027, 3, 1),
                occurrences=4, timezone="UTC")
    assert messages(check(fine, utc(2026, 12, 1)), "warning") == []


def test_check_notes_when_the_series_crosses_dst():
    s = spec(occurrences=None, end_date=date(2027, 11, 29))
    assert messages(check(s, utc(2027, 1, 1)), "warning") == []
    notes = messages(check(s, utc(2027, 1, 1)), "note")
    assert notes == [("k.timezone", "local time 09:00 is kept; in UTC it moves from 14:00 to 13:00 on "
                                       "2027-03-15, from 13:00 to 14:00 on 2027-11-08")]


def test_check_warns_when_end_date_is_not_a_meeting_day():
    s = spec(occurrences=None, end_date=date(2027, 3, 12), timezone="UTC")
    assert messages(check(s, utc(2027, 1, 1)), "warning") == [
        ("k.end_date", "the last meeting is on 2027-03-08, before end_date 2027-03-12")]
    on_day = spec(occurrences=None, end_date=date(2027, 3, 15), timezone="UTC")
    assert messages(check(on_day, utc(2027, 1, 1)), "warning") == []


def test_check_warns_about_start_time_in_a_dst_gap():
    s = spec(recurrence_type="daily", weekly_days=None, start_date=date(2027, 3, 13), start_time=time(2, 30),
             occurrences=2)
    starts = series(s)
    gap = starts[1]
    assert gap.astimezone(UTC) == utc(2027, 3, 14, 7, 30)  # fold=0: the offset before the change
    warnings = messages(check(s, utc(2027, 1, 1)), "warning")
    assert ("k.start_time", "02:30 does not exist in America/New_York on 2027-03-14 (clocks move forward); "
                            "that meeting starts at 03:30 local time") in warnings


def test_check_unknown_timezone_is_an_error():
    [diag] = check(spec(timezone="Mars/Olympus"), utc(2027, 1, 1))
    assert (diag.severity, diag.field) == ("error", "k.timezone")


# --- occurrences_from_zoom --------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {"weekly_days": (2, 4, 6), "repeat_interval": 2, "occurrences": 40},
    {"weekly_days": (1, 7), "repeat_interval": 3, "occurrences": None, "end_date": date(2028, 2, 29)},
    {"recurrence_type": "daily", "weekly_days": None, "repeat_interval": 5, "occurrences": 40},
    {"recurrence_type": "monthly", "weekly_days": None, "monthly_day": 31, "occurrences": 12},
    {"recurrence_type": "monthly", "weekly_days": None, "monthly_week": -1, "monthly_week_day": 6,
     "repeat_interval": 2, "occurrences": None, "end_date": date(2028, 10, 27)},
    {"recurrence_type": "monthly", "weekly_days": None, "monthly_week": 2, "monthly_week_day": 3,
     "occurrences": None, "end_date": date(2027, 11, 9), "timezone": "Australia/Sydney"},
])
@pytest.mark.parametrize("now", [utc(2027, 1, 1), utc(2027, 6, 10, 13, 30)])
def test_occurrences_from_zoom_agree_with_series(overrides, now):
    s = spec(**overrides)
    sched = zoom_schedule(s, now)
    anchor = datetime.fromisoformat(sched.start_time).replace(tzinfo=ZoneInfo(sched.timezone))
    upcoming = [o for o in series(s) if o > now]
    assert occurrences_from_zoom(anchor, sched.recurrence) == upcoming


def test_occurrences_from_zoom_reads_defaults_and_endless_series():
    anchor = datetime(2027, 3, 7, 9, tzinfo=ZoneInfo(NY))  # a Sunday
    endless = occurrences_from_zoom(anchor, {"type": 2})  # weekly_days defaults to "1"
    assert len(endless) == calendar.SERIES_LIMIT
    assert endless[1] == datetime(2027, 3, 14, 9, tzinfo=ZoneInfo(NY))
    with pytest.raises(ValueError):
        occurrences_from_zoom(anchor.replace(tzinfo=None), {"type": 1, "end_times": 2})


# --- property: series() against a day-by-day reference ---------------------------------------------------

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def _matches(s: MeetingSpec, d: date) -> bool:
    """The rule tested directly on one local date."""
    n = s.repeat_interval
    if s.recurrence_type == "daily":
        return (d - s.start_date).days % n == 0
    if s.recurrence_type == "weekly":
        week0 = s.start_date - timedelta(days=zoom_weekday(s.start_date) - 1)  # that week's Sunday
        return ((d - week0).days // 7) % n == 0 and zoom_weekday(d) in (s.weekly_days or ())
    months = (d.year - s.start_date.year) * 12 + d.month - s.start_date.month
    if months % n:
        return False
    if s.monthly_day is not None:
        return d.day == s.monthly_day
    if zoom_weekday(d) != s.monthly_week_day:
        return False
    if s.monthly_week == -1:
        return (d + timedelta(days=7)).month != d.month
    return (d.day - 1) // 7 + 1 == s.monthly_week


def _reference(s: MeetingSpec) -> list[datetime]:
    out: list[datetime] = []
    d = s.start_date
    while len(out) < calendar.SERIES_LIMIT:
        if s.end_date is not None and d > s.end_date:
            break
        if s.occurrences is not None and len(out) == s.occurrences:
            break
        if _matches(s, d):
            out.append(datetime.combine(d, s.start_time, tzinfo=ZoneInfo(s.timezone)))
        d += timedelta(days=1)
    return out


@st.composite
def specs(draw) -> MeetingSpec:
    kind = draw(st.sampled_from(["daily", "weekly", "monthly"]))
    fields: dict = {"recurrence_type": kind, "weekly_days": None, "repeat_interval": draw(st.integers(1, 4))}
    if kind == "weekly":
        fields["weekly_days"] = tuple(sorted(draw(st.sets(st.integers(1, 7), min_size=1))))
    elif kind == "monthly":
        if draw(st.booleans()):
            fields["monthly_day"] = draw(st.integers(1, 31))
        else:
            fields["monthly_week"] = draw(st.sampled_from([-1, 1, 2, 3, 4]))
            fields["monthly_week_day"] = draw(st.integers(1, 7))
    fields["start_date"] = draw(st.dates(date(2027, 1, 1), date(2028, 12, 31)))
    fields["start_time"] = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    fields["timezone"] = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        fields["occurrences"] = draw(st.integers(1, 50))
    else:
        fields["occurrences"] = None
        fields["end_date"] = fields["start_date"] + timedelta(days=draw(st.integers(0, 400)))
    return spec(**fields)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_series_matches_day_by_day_reference(s):
    assert series(s) == _reference(s)


# --- the fast paths against what they stand in for ----------------------------------------------------------
#
# series() steps dates directly for Zoom's rule forms; dateutil's rrule (still used for anything unusual) is
# the reference, over wider ranges than the day-by-day test: long intervals, 5th weekdays, endless series,
# decades of dates and zones with unusual DST rules.

WIDE_ZONES = [*ZONES, "Australia/Lord_Howe", "Pacific/Apia", "Africa/Casablanca", "America/Sao_Paulo",
              "Europe/Moscow", "America/Havana"]


def _rrule_series(s: MeetingSpec) -> list[datetime]:
    dtstart = datetime.combine(s.start_date, s.start_time)
    until = datetime.combine(s.end_date, time.max) if s.end_date is not None else None
    count = s.occurrences if s.end_date is None else None
    naive = calendar._rrule(calendar.rule_of(s), dtstart, until, count)
    return [dt.replace(tzinfo=ZoneInfo(s.timezone)) for dt in itertools.islice(naive, calendar.SERIES_LIMIT)]


@st.composite
def wide_specs(draw) -> MeetingSpec:
    kind = draw(st.sampled_from(["daily", "weekly", "monthly"]))
    fields: dict = {"recurrence_type": kind, "weekly_days": None, "repeat_interval": draw(st.integers(1, 14))}
    if kind == "weekly":
        fields["weekly_days"] = tuple(sorted(draw(st.sets(st.integers(1, 7), max_size=7)))) or None
    elif kind == "monthly":
        form = draw(st.sampled_from(["day", "week", "default"]))
        if form == "day":
            fields["monthly_day"] = draw(st.integers(1, 31))
        elif form == "week":
            fields["monthly_week"] = draw(st.sampled_from([-1, 1, 2, 3, 4, 5]))
            fields["monthly_week_day"] = draw(st.integers(1, 7))
    fields["start_date"] = draw(st.dates(date(1990, 1, 1), date(2040, 12, 31)))
    fields["start_time"] = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])),
                                draw(st.sampled_from([0, 0, 7])))
    fields["timezone"] = draw(st.sampled_from(WIDE_ZONES))
    end = draw(st.sampled_from(["occurrences", "end_date", "endless"]))
    fields["occurrences"] = draw(st.integers(1, 60)) if end == "occurrences" else None
    if end == "end_date":
        fields["end_date"] = fields["start_date"] + timedelta(days=draw(st.integers(0, 3000)))
    return spec(**fields)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_specs())
def test_series_matches_dateutil_rrule(s):
    assert series(s) == _rrule_series(s)


def _rrule_from_zoom(start_local: datetime, recurrence: dict) -> list[datetime]:
    rule = rule_of_zoom(recurrence)
    end_times, end_text = recurrence.get("end_times"), recurrence.get("end_date_time")
    count = int(end_times) if end_times and not end_text else None
    naive = calendar._rrule(rule, start_local.replace(tzinfo=None, fold=0, microsecond=0), None, count)
    starts = (dt.replace(tzinfo=start_local.tzinfo) for dt in naive)
    if end_text:
        end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
        starts = itertools.takewhile(lambda s: s <= end, starts)
    return list(itertools.islice(starts, calendar.SERIES_LIMIT))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.datetimes(datetime(1995, 1, 1), datetime(2040, 1, 1)), st.sampled_from(WIDE_ZONES),
       st.fixed_dictionaries({"type": st.sampled_from([1, 2, 3])}, optional={
           "repeat_interval": st.integers(0, 15),
           "weekly_days": st.sampled_from(["1", "2,4", "7,1", "3,3", "1,2,3,4,5,6,7"]),
           "monthly_day": st.integers(0, 31), "monthly_week": st.sampled_from([-1, 1, 2, 3, 4, 5]),
           "monthly_week_day": st.integers(1, 7), "end_times": st.integers(-2, 60),
           "end_date_time": st.sampled_from(["2031-01-01T00:00:00Z", "2025-06-01T12:00:00Z"])}))
def test_occurrences_from_zoom_matches_dateutil_rrule(start, zone, recurrence):
    anchor = start.replace(tzinfo=ZoneInfo(zone))
    assert occurrences_from_zoom(anchor, recurrence) == _rrule_from_zoom(anchor, recurrence)


DST_ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "America/Havana"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DST_ZONES), st.integers(0, 3), st.sampled_from([0, 30]),
       st.dates(date(2026, 1, 1), date(2028, 12, 31)), st.sampled_from([1, 7]))
def test_past_counts_and_gaps_match_checking_every_occurrence(zone, hour, minute, start, step):
    # Early-morning series cross DST changes: occurrences in a gap or a fold, and `now` right at them.
    kind = {"recurrence_type": "daily", "weekly_days": None} if step == 1 else {"weekly_days": (zoom_weekday(start),)}
    s = spec(start_date=start, start_time=time(hour, minute), timezone=zone, occurrences=60, **kind)
    starts = series(s)
    line = calendar._timeline(s)
    assert calendar._gaps(line.starts, line.offsets) == [x for x in starts if calendar._in_gap(x)]
    for occurrence in starts[::3]:
        for delta in (timedelta(0), timedelta(seconds=-1), timedelta(seconds=1), timedelta(hours=1)):
            at = occurrence.astimezone(UTC) + delta
            for now in (at, at.astimezone(ZoneInfo(zone)), (at + timedelta(hours=1)).astimezone(ZoneInfo(zone))):
                assert preview(s, now).past == sum(1 for x in starts if x <= now)


def test_local_stamp_spells_like_strftime():
    zones = [None, UTC, ZoneInfo(NY), ZoneInfo("Asia/Kolkata"), ZoneInfo("Africa/Monrovia"),
             timezone(timedelta(hours=-3, minutes=-30)), timezone(timedelta(seconds=5025, microseconds=7))]
    for zone in zones:
        for dt in (datetime(2027, 3, 14, 2, 30, tzinfo=zone), datetime(1900, 1, 1, tzinfo=zone),
                   datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=zone), datetime(999, 12, 31, 23, 59, 59, tzinfo=zone),
                   datetime(9999, 12, 31, 23, 59, 59, tzinfo=zone)):
            assert calendar.local_stamp(dt) == dt.strftime("%Y-%m-%dT%H:%M:%S")
            assert calendar.local_stamp(dt, offset=True) == dt.strftime("%Y-%m-%dT%H:%M:%S%z")


def test_cached_series_is_let_go_with_its_meeting():
    s = spec()
    assert calendar.rule_of(s) == calendar._rule_of(s)  # before the series is cached ...
    first = series(s)
    assert calendar.rule_of(s) == calendar._rule_of(s)  # ... and after
    assert series(s) == first and series(s) is not first  # each caller gets its own list
    key = id(s)
    assert key in calendar._TIMELINES
    del s
    gc.collect()
    assert key not in calendar._TIMELINES


def test_past_count_around_a_start_in_a_dst_gap():
    # 02:30 does not exist in New York on 2027-03-14: that meeting starts at 07:30 UTC. A second earlier the
    # wall clock already shows 03:29:59, later than 02:30, yet the meeting has not started.
    s = spec(recurrence_type="daily", weekly_days=None, start_time=time(2, 30), occurrences=30)
    assert series(s)[13] == datetime(2027, 3, 14, 2, 30, tzinfo=ZoneInfo(NY))
    assert preview(s, utc(2027, 3, 14, 7, 29, 59)).past == 13
    assert preview(s, utc(2027, 3, 14, 7, 30)).past == 14
