"""Occurrences of a recurring (type 8) meeting, the sandbox's own way: brute force, one day at a time.

This is a reference implementation, kept deliberately naive and separate from the client's calendar code,
so that the two can be checked against each other. Every day from the series start is tested against
the rule in the meeting's timezone; the wall-clock time of the start is kept on every matching day, so a
09:00 meeting stays at 09:00 local across a DST change.

Rules (Zoom's recurrence object, Zoom's API reference):
- daily: every ``repeat_interval`` days from the start day;
- weekly: each ``weekly_days`` digit (1 = Sunday ... 7 = Saturday) in every ``repeat_interval``-th week,
  weeks counted Sunday-based from the week that holds the start;
- monthly: ``monthly_day`` (months without that day are skipped), or the ``monthly_week``-th
  ``monthly_week_day`` (-1 = the last one), every ``repeat_interval`` months from the start's month;
- the first occurrence is the first match at or after the start; the series stops after ``end_times``
  occurrences or at the last start at or before ``end_date_time`` (``end_times`` 1 when neither is given).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAILY, WEEKLY, MONTHLY = 1, 2, 3
# Zoom schedules at most 50 occurrences (support article 214973206); an end date further out is cut there.
MAX_OCCURRENCES = 50
# Safety net for rules that never match: about 40 years of days.
MAX_DAYS = 366 * 40


def zoom_weekday(day: date) -> int:
    """Zoom's weekday digit: 1 = Sunday ... 7 = Saturday."""
    return day.isoweekday() % 7 + 1


def week_start(day: date) -> date:
    """The Sunday that starts ``day``'s week."""
    return day - timedelta(days=day.isoweekday() % 7)


def parse_utc(text: str) -> datetime:
    """An RFC 3339 date-time (``Z`` or an offset) as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def weekly_day_set(weekly_days: Any) -> set[int]:
    return {int(part) for part in str(weekly_days).split(",") if part.strip()}


def day_matches(day: date, first: date, rule: Mapping[str, Any]) -> bool:
    """Whether ``day`` is a day of the series that starts on ``first``."""
    kind = int(rule.get("type", DAILY))
    interval = int(rule.get("repeat_interval") or 1)
    if kind == DAILY:
        return (day - first).days % interval == 0
    if kind == WEEKLY:
        weeks = (week_start(day) - week_start(first)).days // 7
        return weeks % interval == 0 and zoom_weekday(day) in weekly_day_set(rule.get("weekly_days", "1"))
    if kind == MONTHLY:
        months = (day.year - first.year) * 12 + day.month - first.month
        if months % interval != 0:
            return False
        if rule.get("monthly_week") is not None:
            if zoom_weekday(day) != int(rule.get("monthly_week_day") or 1):
                return False
            week = int(rule["monthly_week"])
            if week == -1:
                return (day + timedelta(days=7)).month != day.month
            return (day.day - 1) // 7 + 1 == week
        return day.day == int(rule.get("monthly_day") or 1)
    return False


def occurrence_starts(start: datetime, timezone: str, rule: Mapping[str, Any]) -> list[datetime]:
    """UTC starts of the occurrences of ``rule`` for a series from ``start`` (aware) in ``timezone``."""
    zone = ZoneInfo(timezone)
    local_start = start.astimezone(zone)
    first_day, wall_time = local_start.date(), local_start.time().replace(tzinfo=None)
    end_times = rule.get("end_times")
    end_at = parse_utc(rule["end_date_time"]) if rule.get("end_date_time") else None
    if end_at is None and not end_times:
        end_times = 1
    limit = min(int(end_times), MAX_OCCURRENCES) if end_times else MAX_OCCURRENCES
    starts: list[datetime] = []
    for offset in range(MAX_DAYS):
        day = first_day + timedelta(days=offset)
        if not day_matches(day, first_day, rule):
            continue
        moment = datetime.combine(day, wall_time, tzinfo=zone).astimezone(UTC)
        if moment < start:
            continue
        if end_at is not None and moment > end_at:
            break
        starts.append(moment)
        if len(starts) >= limit:
            break
    return starts


def occurrences(start: datetime, timezone: str, rule: Mapping[str, Any], duration: int) -> list[dict]:
    """Zoom's ``occurrences[]`` items: the id is the start in epoch milliseconds, as a string."""
    return [
        {
            "occurrence_id": str(int(moment.timestamp() * 1000)),
            "start_time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": duration,
            "status": "available",
        }
        for moment in occurrence_starts(start, timezone, rule)
    ]
