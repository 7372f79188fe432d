"""Recurrence rules: a MeetingSpec -> its occurrences, Zoom's recurrence object, previews and calendar checks.

Pure functions: the current time is always passed in. Occurrences are computed on the local wall clock
(dateutil ``rrule`` on naive datetimes, then the meeting's zone attached), so 09:00 stays 09:00 across DST.
A wall time that falls in a DST gap resolves the way ``zoneinfo`` does with ``fold=0``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as rr

from zoomstate.model import Diagnostic, MeetingSpec, Severity

ZOOM_OCCURRENCE_CAP = 50
SERIES_LIMIT = 1000  # series() never returns more; keeps endless or huge rules cheap

ZOOM_RECURRENCE_TYPES = {"daily": 1, "weekly": 2, "monthly": 3}
_KIND_OF_ZOOM_TYPE = {v: k for k, v in ZOOM_RECURRENCE_TYPES.items()}
_FREQ = {"daily": rr.DAILY, "weekly": rr.WEEKLY, "monthly": rr.MONTHLY}
# Zoom digit (1 = Sunday ... 7 = Saturday) -> dateutil weekday (MO = 0 ... SU = 6).
_RR_WEEKDAY = {1: rr.SU, 2: rr.MO, 3: rr.TU, 4: rr.WE, 5: rr.TH, 6: rr.FR, 7: rr.SA}
_DAY_NAMES = {1: "Sun", 2: "Mon", 3: "Tue", 4: "Wed", 5: "Thu", 6: "Fri", 7: "Sat"}
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ORDINALS = {-1: "last", 1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}
_LIST_LIMIT = 6  # how many months / DST changes a message names before summarising the rest


def zoom_weekday(d: date) -> int:
    """Zoom's weekday digit for a date: Sunday = 1 ... Saturday = 7."""
    return d.isoweekday() % 7 + 1


@dataclass(frozen=True)
class Rule:
    """A recurrence pattern without its anchor or end, in Zoom's terms."""

    kind: str  # "daily" | "weekly" | "monthly"
    interval: int = 1
    weekly_days: tuple[int, ...] = ()
    monthly_day: int | None = None
    monthly_week: int | None = None
    monthly_week_day: int | None = None


def rule_of(spec: MeetingSpec) -> Rule:
    """The spec's pattern. Missing calendar fields fall back to start_date's weekday / day of month."""
    if spec.recurrence_type == "weekly":
        days = tuple(sorted(set(spec.weekly_days or ()))) or (zoom_weekday(spec.start_date),)
        return Rule("weekly", spec.repeat_interval, weekly_days=days)
    if spec.recurrence_type == "monthly":
        if spec.monthly_week is not None and spec.monthly_week_day is not None and spec.monthly_day is None:
            return Rule("monthly", spec.repeat_interval, monthly_week=spec.monthly_week,
                        monthly_week_day=spec.monthly_week_day)
        return Rule("monthly", spec.repeat_interval, monthly_day=spec.monthly_day or spec.start_date.day)
    return Rule("daily", spec.repeat_interval)


def _rrule(rule: Rule, dtstart: datetime, until: datetime | None, count: int | None) -> rr.rrule:
    """dateutil rule on naive wall-clock datetimes. Weeks start on Sunday, as in Zoom."""
    kwargs: dict[str, Any] = {"dtstart": dtstart, "interval": max(rule.interval, 1), "wkst": rr.SU}
    if until is not None:
        kwargs["until"] = until
    if count is not None:
        kwargs["count"] = count
    if rule.kind == "weekly":
        kwargs["byweekday"] = [_RR_WEEKDAY[d] for d in rule.weekly_days]
    elif rule.kind == "monthly":
        if rule.monthly_day is not None:
            kwargs["bymonthday"] = rule.monthly_day  # RFC 5545: months without that day are skipped
        else:
            kwargs["byweekday"] = _RR_WEEKDAY[rule.monthly_week_day or 1](rule.monthly_week or 1)
    return rr.rrule(_FREQ[rule.kind], **kwargs)


def _local(naive: Iterable[datetime], tz: ZoneInfo) -> Iterator[datetime]:
    for dt in naive:
        yield dt.replace(tzinfo=tz)  # fold=0: gap times take the offset in force before the change


def series(spec: MeetingSpec) -> list[datetime]:
    """Every occurrence of the whole series as the YAML says it (aware, in spec.timezone), at most 1,000."""
    return list(_series(spec))


# A plan asks for the same series several times (checks, preview, summary, Zoom body, managed view);
# MeetingSpec is frozen and hashable, so computing each once keeps large plans fast.
@functools.lru_cache(maxsize=32_768)
def _series(spec: MeetingSpec) -> tuple[datetime, ...]:
    if spec.end_date is None and spec.occurrences is not None and spec.occurrences <= 0:
        return ()
    tz = ZoneInfo(spec.timezone)
    dtstart = datetime.combine(spec.start_date, spec.start_time.replace(tzinfo=None))
    # end_date is inclusive on the local calendar: any occurrence on that day counts.
    until = datetime.combine(spec.end_date, time.max) if spec.end_date is not None else None
    count = spec.occurrences if spec.end_date is None else None
    rule = _rrule(rule_of(spec), dtstart, until, count)
    return tuple(itertools.islice(_local(rule, tz), SERIES_LIMIT))


@dataclass(frozen=True)
class Preview:
    total: int
    past: int
    upcoming: int
    first: datetime | None
    next: datetime | None
    last: datetime | None


def _split(starts: list[datetime], now: datetime) -> tuple[list[datetime], list[datetime]]:
    """(past, upcoming). Upcoming means starting after now, the same test zoom_schedule uses."""
    past = [s for s in starts if s <= now]
    return past, starts[len(past):]


def preview(spec: MeetingSpec, now: datetime) -> Preview:
    """Counts and landmarks of the series relative to ``now`` (aware UTC)."""
    starts = series(spec)
    past, upcoming = _split(starts, now)
    return Preview(
        total=len(starts),
        past=len(past),
        upcoming=len(upcoming),
        first=starts[0] if starts else None,
        next=upcoming[0] if upcoming else None,
        last=starts[-1] if starts else None,
    )


@dataclass(frozen=True)
class ZoomSchedule:
    start_time: str  # local wall clock, no Z: read by Zoom in ``timezone``
    timezone: str
    recurrence: dict


def _end_of_day_utc(day: date, tz: ZoneInfo) -> str:
    end = datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rule_body(rule: Rule) -> dict[str, Any]:
    body: dict[str, Any] = {"type": ZOOM_RECURRENCE_TYPES[rule.kind], "repeat_interval": rule.interval}
    if rule.kind == "weekly":
        body["weekly_days"] = ",".join(str(d) for d in rule.weekly_days)
    elif rule.kind == "monthly":
        if rule.monthly_day is not None:
            body["monthly_day"] = rule.monthly_day
        else:
            body["monthly_week"] = rule.monthly_week
            body["monthly_week_day"] = rule.monthly_week_day
    return body


def zoom_schedule(spec: MeetingSpec, now: datetime) -> ZoomSchedule:
    """start_time, timezone and recurrence for a create or PATCH body.

    Zoom rewrites a past start to "now", so the series is re-anchored at its next upcoming occurrence;
    end_times then counts only the upcoming occurrences.
    """
    starts = series(spec)
    _, upcoming = _split(starts, now)
    if not upcoming:
        raise ValueError(
            f"no upcoming occurrence for {spec.key}: "
            + ("the series has no occurrence at all" if not starts else
               f"every occurrence is already past (the last was {starts[-1].date().isoformat()})")
        )
    recurrence = _rule_body(rule_of(spec))
    if spec.end_date is not None:
        recurrence["end_date_time"] = _end_of_day_utc(spec.end_date, ZoneInfo(spec.timezone))
    else:
        recurrence["end_times"] = len(upcoming)
    return ZoomSchedule(
        start_time=upcoming[0].strftime("%Y-%m-%dT%H:%M:%S"),
        timezone=spec.timezone,
        recurrence=recurrence,
    )


def _rule_of_zoom(recurrence: dict) -> Rule:
    kind = _KIND_OF_ZOOM_TYPE.get(int(recurrence.get("type", 0)))
    if kind is None:
        raise ValueError(f"unknown recurrence type {recurrence.get('type')!r}")
    interval = int(recurrence.get("repeat_interval") or 1)
    if kind == "weekly":
        text = str(recurrence.get("weekly_days") or "1")  # Zoom's documented default
        days = tuple(sorted({int(p) for p in text.split(",") if p.strip()}))
        return Rule("weekly", interval, weekly_days=days)
    if kind == "monthly":
        if recurrence.get("monthly_day") is None and recurrence.get("monthly_week") is not None:
            return Rule("monthly", interval, monthly_week=int(recurrence["monthly_week"]),
                        monthly_week_day=int(recurrence.get("monthly_week_day") or 1))
        return Rule("monthly", interval, monthly_day=int(recurrence.get("monthly_day") or 1))
    return Rule("daily", interval)


def _parse_utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def occurrences_from_zoom(start_local: datetime, recurrence: dict) -> list[datetime]:
    """Occurrences of a Zoom recurrence object anchored at an aware local start (at most 1,000).

    ``end_times`` counts from the anchor (0 or absent with no end date: endless, so bounded);
    ``end_date_time`` (UTC) keeps every occurrence starting at or before that instant.
    """
    if start_local.tzinfo is None:
        raise ValueError("start_local must be timezone-aware (the meeting's zone)")
    tz = start_local.tzinfo
    rule = _rule_of_zoom(recurrence)
    end_times = recurrence.get("end_times")
    end_text = recurrence.get("end_date_time")
    count = int(end_times) if end_times and not end_text else None
    naive = _rrule(rule, start_local.replace(tzinfo=None, fold=0), None, count)
    starts: Iterable[datetime] = (dt.replace(tzinfo=tz) for dt in naive)
    if end_text:
        end = _parse_utc(str(end_text))
        starts = itertools.takewhile(lambda s: s <= end, starts)
    return list(itertools.islice(starts, SERIES_LIMIT))


# --- words for people -------------------------------------------------------------------------------------


def _clock(t: time) -> str:
    return t.strftime("%H:%M:%S") if t.second else t.strftime("%H:%M")


def _every(n: int, unit: str, adverb: str) -> str:
    return adverb if n == 1 else f"every {n} {unit}s"


def describe(spec: MeetingSpec) -> str:
    """The rule in words, e.g. "every 2 weeks on Wed at 14:00 America/New_York"."""
    rule = rule_of(spec)
    at = f"at {_clock(spec.start_time)} {spec.timezone}"
    if rule.kind == "daily":
        return f"{_every(rule.interval, 'day', 'daily')} {at}"
    if rule.kind == "weekly":
        days = ", ".join(_DAY_NAMES[d] for d in rule.weekly_days)
        return f"{_every(rule.interval, 'week', 'weekly')} on {days} {at}"
    head = _every(rule.interval, "month", "monthly")
    if rule.monthly_day is not None:
        return f"{head} on day {rule.monthly_day} {at}"
    which = _ORDINALS.get(rule.monthly_week or 0, str(rule.monthly_week))
    return f"{head} on the {which} {_DAY_NAMES.get(rule.monthly_week_day or 0, '?')} {at}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(spec: MeetingSpec, now: datetime) -> str:
    """describe() plus the upcoming count and span, e.g. "..., 44 occurrences, 2027-03-01 → 2027-12-27"."""
    p = preview(spec, now)
    text = describe(spec)
    if p.total == 0:
        return f"{text}, no occurrences"
    if p.next is None or p.last is None:
        text += ", no upcoming occurrences"
    elif p.upcoming == 1:
        text += f", 1 occurrence, {p.next.date().isoformat()}"
    else:
        text += f", {p.upcoming} occurrences, {p.next.date().isoformat()} → {p.last.date().isoformat()}"
    if p.past:
        text += f" ({p.past} already past)"
    return text


# --- checks -----------------------------------------------------------------------------------------------


def _diag(spec: MeetingSpec, name: str, severity: Severity, message: str) -> Diagnostic:
    pos = spec.where(name)
    return Diagnostic(
        severity=severity,
        file=pos.file if pos else "",
        line=pos.line if pos else None,
        col=pos.col if pos else None,
        field=f"{spec.key}.{name}",
        message=message,
    )


def _named_list(items: list[str]) -> str:
    if len(items) <= _LIST_LIMIT:
        return ", ".join(items)
    return ", ".join(items[:_LIST_LIMIT]) + f" and {len(items) - _LIST_LIMIT} more"


def _months_between(first: date, last: date, step: int) -> Iterator[tuple[int, int]]:
    index, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    while index <= end:
        year, month0 = divmod(index, 12)
        yield year, month0 + 1
        index += max(step, 1)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _missing_months(spec: MeetingSpec, rule: Rule, starts: list[datetime]) -> list[str]:
    """Months the series steps through (start_date's month to the last meeting) that lack monthly_day."""
    day = rule.monthly_day or 0
    return [
        f"{_MONTH_NAMES[m - 1]} {y}"
        for y, m in _months_between(spec.start_date, starts[-1].date(), rule.interval)
        if _days_in_month(y, m) < day
    ]


def _utc_clock(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%H:%M")


def _dst_changes(starts: list[datetime]) -> list[str]:
    changes = []
    for before, after in itertools.pairwise(starts):
        if before.utcoffset() != after.utcoffset():
            changes.append(f"from {_utc_clock(before)} to {_utc_clock(after)} on {after.date().isoformat()}")
    return changes


def _in_gap(dt: datetime) -> bool:
    """True when the wall time does not exist (skipped by a DST change)."""
    return dt.astimezone(UTC).astimezone(dt.tzinfo).replace(tzinfo=None) != dt.replace(tzinfo=None)


def _end_field(spec: MeetingSpec) -> str:
    return "end_date" if spec.end_date is not None else "occurrences"


def _cap_error(spec: MeetingSpec, past: int, upcoming: list[datetime]) -> Diagnostic:
    fiftieth = upcoming[ZOOM_OCCURRENCE_CAP - 1].date().isoformat()
    fix = (f"set end_date to {fiftieth}" if spec.end_date is not None
           else f"set occurrences to {past + ZOOM_OCCURRENCE_CAP} (last meeting {fiftieth})")
    return _diag(spec, _end_field(spec), "error",
                 f"Zoom keeps at most {ZOOM_OCCURRENCE_CAP} occurrences of a series; this one has "
                 f"{len(upcoming)} from {upcoming[0].date().isoformat()} to "
                 f"{upcoming[-1].date().isoformat()}: {fix} or split it")


def _warnings(spec: MeetingSpec, rule: Rule, starts: list[datetime], past: int,
              upcoming: list[datetime]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if past:
        out.append(_diag(spec, "start_date", "warning",
                         f"{_plural(past, 'occurrence')} {'is' if past == 1 else 'are'} already past; "
                         f"the series will start on {upcoming[0].date().isoformat()}"))
    if rule.kind == "weekly" and zoom_weekday(spec.start_date) not in rule.weekly_days:
        out.append(_diag(spec, "start_date", "warning",
                         f"{spec.start_date.isoformat()} is a {_DAY_NAMES[zoom_weekday(spec.start_date)]}; "
                         f"the first meeting is on {starts[0].date().isoformat()}"))
    if rule.kind == "monthly" and (rule.monthly_day or 0) > 28:
        missing = _missing_months(spec, rule, starts)
        if missing:
            out.append(_diag(spec, "monthly_day", "warning",
                             f"no meeting in {_named_list(missing)} (no day {rule.monthly_day} there)"))
    changes = _dst_changes(upcoming)
    if changes:
        # Informational: nothing to fix, so a note rather than a warning (shown by validate and plan -v).
        out.append(_diag(spec, "timezone", "note",
                         f"local time {_clock(spec.start_time)} is kept; in UTC it moves "
                         f"{_named_list(changes)}"))
    if spec.end_date is not None and starts[-1].date() < spec.end_date and len(starts) < SERIES_LIMIT:
        out.append(_diag(spec, "end_date", "warning",
                         f"the last meeting is on {starts[-1].date().isoformat()}, "
                         f"before end_date {spec.end_date.isoformat()}"))
    gaps = [s for s in upcoming if _in_gap(s)]
    if gaps:
        actual = gaps[0].astimezone(UTC).astimezone(gaps[0].tzinfo)
        dates = _named_list([g.date().isoformat() for g in gaps])
        out.append(_diag(spec, "start_time", "warning",
                         f"{_clock(spec.start_time)} does not exist in {spec.timezone} on {dates} (clocks "
                         f"move forward); that meeting starts at {_clock(actual.time())} local time"))
    return out


def check(spec: MeetingSpec, now: datetime) -> list[Diagnostic]:
    """Calendar errors and warnings for one meeting, relative to ``now`` (aware UTC)."""
    if spec.end_date is not None and spec.end_date < spec.start_date:
        return [_diag(spec, "end_date", "error",
                      f"end_date {spec.end_date.isoformat()} is before start_date "
                      f"{spec.start_date.isoformat()}")]
    try:
        starts = series(spec)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        return [_diag(spec, "timezone", "error", f"cannot compute the series: {exc}")]
    if not starts:
        return [_diag(spec, _end_field(spec), "error",
                      "the series has no occurrence at all: check start_date, the recurrence fields and "
                      + ("end_date" if spec.end_date is not None else "occurrences"))]
    past, upcoming = _split(starts, now)
    if not upcoming:
        fix = "start_date/end_date" if spec.end_date is not None else "start_date"
        return [_diag(spec, "end_date" if spec.end_date is not None else "start_date", "error",
                      f"every occurrence is already past: move {fix} forward")]
    out: list[Diagnostic] = []
    if len(upcoming) > ZOOM_OCCURRENCE_CAP:
        out.append(_cap_error(spec, len(past), upcoming))
    return out + _warnings(spec, rule_of(spec), starts, len(past), upcoming)
