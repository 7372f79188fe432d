"""Recurrence rules: a MeetingSpec -> its occurrences, Zoom's recurrence object, previews and calendar checks.

Pure functions: the current time is always passed in. Occurrences are computed on the local wall clock
(dates stepped directly for Zoom's rule forms, the same dates dateutil's ``rrule`` gives; ``rrule`` itself for
anything unusual), then the meeting's zone is attached, so 09:00 stays 09:00 across DST. A wall time that
falls in a DST gap resolves the way ``zoneinfo`` does with ``fold=0``.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import operator
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zoomstate.model import Diagnostic, MeetingSpec, Severity

ZOOM_OCCURRENCE_CAP = 50
SERIES_LIMIT = 1000  # series() never returns more; keeps endless or huge rules cheap

ZOOM_RECURRENCE_TYPES = {"daily": 1, "weekly": 2, "monthly": 3}
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
    ref = _TIMELINES.get(id(spec))
    if ref is not None and ref() is spec:
        return ref.line.rule  # already worked out with the spec's series
    return _rule_of(spec)


def _rule_of(spec: MeetingSpec) -> Rule:
    if spec.recurrence_type == "weekly":
        days = tuple(sorted(set(spec.weekly_days or ()))) or (zoom_weekday(spec.start_date),)
        return Rule("weekly", spec.repeat_interval, weekly_days=days)
    if spec.recurrence_type == "monthly":
        if spec.monthly_week is not None and spec.monthly_week_day is not None and spec.monthly_day is None:
            return Rule("monthly", spec.repeat_interval, monthly_week=spec.monthly_week,
                        monthly_week_day=spec.monthly_week_day)
        return Rule("monthly", spec.repeat_interval, monthly_day=spec.monthly_day or spec.start_date.day)
    return Rule("daily", spec.repeat_interval)


def _rrule(rule: Rule, dtstart: datetime, until: datetime | None, count: int | None) -> Iterable[datetime]:
    """dateutil rule on naive wall-clock datetimes. Weeks start on Sunday, as in Zoom."""
    from dateutil import rrule as rr  # only rule forms _dates() does not step need it

    # Zoom digit (1 = Sunday ... 7 = Saturday) -> dateutil weekday (MO = 0 ... SU = 6).
    weekday = {1: rr.SU, 2: rr.MO, 3: rr.TU, 4: rr.WE, 5: rr.TH, 6: rr.FR, 7: rr.SA}
    freq = {"daily": rr.DAILY, "weekly": rr.WEEKLY, "monthly": rr.MONTHLY}
    kwargs: dict[str, Any] = {"dtstart": dtstart, "interval": max(rule.interval, 1), "wkst": rr.SU}
    if until is not None:
        kwargs["until"] = until
    if count is not None:
        kwargs["count"] = count
    if rule.kind == "weekly":
        kwargs["byweekday"] = [weekday[d] for d in rule.weekly_days]
    elif rule.kind == "monthly":
        if rule.monthly_day is not None:
            kwargs["bymonthday"] = rule.monthly_day  # RFC 5545: months without that day are skipped
        else:
            kwargs["byweekday"] = weekday[rule.monthly_week_day or 1](rule.monthly_week or 1)
    return rr.rrule(freq[rule.kind], **kwargs)


# --- stepping dates directly: the rrule dates for Zoom's rule forms, at a fraction of the cost ----------------


def _dates(rule: Rule, start: date, until: date | None, limit: int) -> list[date] | None:
    """The rule's first ``limit`` dates from ``start`` on, none after ``until`` (or year 9999, where rrule
    stops too); None for a form left to rrule."""
    first, last = start.toordinal(), (until or date.max).toordinal()
    interval = max(rule.interval, 1)
    if rule.kind == "daily":
        count = max(0, min(limit, (last - first) // interval + 1))
        return list(map(date.fromordinal, range(first, first + count * interval, interval)))
    if rule.kind == "weekly":
        if not rule.weekly_days or not all(1 <= d <= 7 for d in rule.weekly_days):
            return None
        return _weekly(first, last, interval, sorted(set(rule.weekly_days)), limit)
    if rule.monthly_day is not None:
        if not 1 <= rule.monthly_day <= 31:
            return None
        return _monthly(start, until or date.max, interval, limit, lambda y, m, length: rule.monthly_day)
    week, week_day = rule.monthly_week or 1, rule.monthly_week_day or 1
    if not (1 <= abs(week) <= 5 and 1 <= week_day <= 7):
        return None

    def nth_weekday(year: int, month: int, length: int) -> int:
        if week > 0:
            return 1 + (week_day - zoom_weekday(date(year, month, 1))) % 7 + 7 * (week - 1)
        return length - (zoom_weekday(date(year, month, length)) - week_day) % 7 + 7 * (week + 1)

    return _monthly(start, until or date.max, interval, limit, nth_weekday)


def _weekly(first: int, last: int, interval: int, days: list[int], limit: int) -> list[date]:
    # Weeks run Sunday to Saturday and are counted from the week that holds the start (wkst=SU).
    sunday = first - date.fromordinal(first).isoweekday() % 7
    if last < first:
        return []
    # Enough weeks for ``limit`` dates after the first week's early days are dropped, and none past ``last``.
    weeks = min(limit // len(days) + 2, (last - sunday) // (7 * interval) + 1)
    step = 7 * interval
    ordinals = [sunday + week * step + day - 1 for week in range(weeks) for day in days]
    begin = bisect.bisect_left(ordinals, first)
    end = min(begin + limit, bisect.bisect_right(ordinals, last))
    return list(map(date.fromordinal, ordinals[begin:end]))


def _monthly(start: date, until: date, interval: int, limit: int,
             day_of: Callable[[int, int, int], int]) -> list[date]:
    """Every ``interval`` months from start's month: the day ``day_of(year, month, days in month)``, skipping
    months where it does not exist (RFC 5545)."""
    found: list[date] = []
    index, end = start.year * 12 + start.month - 1, until.year * 12 + until.month - 1
    while index <= end and len(found) < limit:
        year, month0 = divmod(index, 12)
        length = _MONTH_DAYS[month0] + (month0 == 1 and _leap(year))
        day = day_of(year, month0 + 1, length)
        if 1 <= day <= length:
            candidate = date(year, month0 + 1, day)
            if candidate > until:
                break
            if candidate >= start:
                found.append(candidate)
        index += interval
    return found


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def wall_times(rule: Rule, dtstart: datetime, until: date | None, count: int | None,
                tz: tzinfo) -> list[datetime]:
    """At most 1,000 occurrences as aware datetimes (fold=0: a gap time takes the offset before the change)."""
    # (datetime.replace() and time.replace() parse keywords and cost a microsecond each: avoided when idle.)
    if dtstart.microsecond:
        dtstart = dtstart.replace(microsecond=0)  # as rrule does
    dates = None if count is not None and count <= 0 else _dates(
        rule, dtstart.date(), until, SERIES_LIMIT if count is None else min(count, SERIES_LIMIT))
    if dates is None:
        until_dt = datetime.combine(until, time.max) if until is not None else None
        naive = itertools.islice(_rrule(rule, dtstart, until_dt, count), SERIES_LIMIT)
        return [dt.replace(tzinfo=tz) for dt in naive]
    clock = time(dtstart.hour, dtstart.minute, dtstart.second, 0, tz)
    return list(map(datetime.combine, dates, itertools.repeat(clock, len(dates))))


def series(spec: MeetingSpec) -> list[datetime]:
    """Every occurrence of the whole series as the YAML says it (aware, in spec.timezone), at most 1,000."""
    return list(_timeline(spec).starts)


@dataclass(slots=True)
class _Timeline:
    """A series with what its checks and previews need, computed once; only the two memos below change."""

    rule: Rule
    starts: tuple[datetime, ...]
    offsets: tuple[timedelta, ...]  # UTC offset of each start
    ordered: bool  # the instants never decrease, so ``now`` can be placed by bisection
    # The last (now, past count) and (now, preview): a plan asks several times per meeting with one ``now``.
    # Each attribute holds a tuple, so threads read and replace it whole.
    last: tuple[datetime, int] | None = field(default=None, compare=False, repr=False)
    shown: tuple[datetime, Preview] | None = field(default=None, compare=False, repr=False)

    def past_count(self, now: datetime) -> int:
        """How many occurrences start at or before ``now`` (aware): those are past."""
        last = self.last
        if last is not None and last[0] is now:
            return last[1]
        starts = self.starts
        if not self.ordered:
            count = sum(1 for s in starts if s <= now)
        elif not starts:
            count = 0
        else:
            # Bisect on the wall clock of the series' zone (a comparison across zones converts both sides;
            # within one zone it does not), then settle the boundary with real comparisons: the two orders
            # differ only for occurrences inside a DST change.
            count = bisect.bisect_right(starts, now.astimezone(starts[0].tzinfo))
            while count < len(starts) and starts[count] <= now:
                count += 1
            while count > 0 and not starts[count - 1] <= now:
                count -= 1
        self.last = (now, count)
        return count


def _ordered(starts: tuple[datetime, ...], offsets: tuple[timedelta, ...]) -> bool:
    if not offsets or offsets.count(offsets[0]) == len(offsets):
        return True  # one offset throughout: instants follow the wall clock, which always moves forward
    # Same-zone subtraction is wall-clock time; the instant moves forward when that covers the offset change.
    # (map over operator functions: no Python-level step per occurrence.)
    walls = map(operator.sub, starts[1:], starts[:-1])
    return all(map(operator.ge, walls, map(operator.sub, offsets[1:], offsets[:-1])))


# A plan asks for the same series several times (checks, preview, summary, Zoom body, managed view), so
# each MeetingSpec object's timeline is computed once. Keyed by identity (a frozen spec never changes), which
# is cheaper than hashing its thirty fields, and kept only while the spec lives: a finished run leaves no
# cache of specs behind for the garbage collector to walk at exit.
class _SpecRef(weakref.ref):
    """A weak reference to a spec that carries the spec's cache key and timeline."""

    __slots__ = ("key", "line")
    key: int
    line: _Timeline


_TIMELINES: dict[int, _SpecRef] = {}


def _timeline(spec: MeetingSpec) -> _Timeline:
    key = id(spec)
    ref = _TIMELINES.get(key)
    if ref is not None and ref() is spec:
        return ref.line
    ref = _SpecRef(spec, _forget)
    ref.key, ref.line = key, _make_timeline(spec)
    _TIMELINES[key] = ref
    return ref.line


def _forget(ref: _SpecRef) -> None:
    if _TIMELINES.get(ref.key) is ref:  # not a newer entry for another spec at the same address
        del _TIMELINES[ref.key]


def _make_timeline(spec: MeetingSpec) -> _Timeline:
    rule = _rule_of(spec)
    if spec.end_date is None and spec.occurrences is not None and spec.occurrences <= 0:
        return _Timeline(rule, (), (), True)
    tz = ZoneInfo(spec.timezone)
    clock = spec.start_time if spec.start_time.tzinfo is None else spec.start_time.replace(tzinfo=None)
    dtstart = datetime.combine(spec.start_date, clock)
    # end_date is inclusive on the local calendar: any occurrence on that day counts.
    count = spec.occurrences if spec.end_date is None else None
    starts = tuple(wall_times(rule, dtstart, spec.end_date, count, tz))
    offsets = tuple(map(datetime.utcoffset, starts))
    return _Timeline(rule, starts, offsets, _ordered(starts, offsets))


@dataclass(frozen=True)
class Preview:
    total: int
    past: int
    upcoming: int
    first: datetime | None
    next: datetime | None
    last: datetime | None


def preview(spec: MeetingSpec, now: datetime) -> Preview:
    """Counts and landmarks of the series relative to ``now`` (aware UTC).

    Upcoming means starting after now, the same test zoom_schedule uses.
    """
    line = _timeline(spec)
    shown = line.shown
    if shown is not None and shown[0] is now:
        return shown[1]  # frozen: safe to hand out again
    starts, past = line.starts, line.past_count(now)
    if spec.skip_dates:  # cancelled occurrences are not meetings: counts and landmarks leave them out
        skipped = frozenset(spec.skip_dates)
        past = sum(1 for s in starts[:past] if s.date() not in skipped)
        starts = tuple(s for s in starts if s.date() not in skipped)
    result = Preview(
        total=len(starts),
        past=past,
        upcoming=len(starts) - past,
        first=starts[0] if starts else None,
        next=starts[past] if past < len(starts) else None,
        last=starts[-1] if starts else None,
    )
    line.shown = (now, result)
    return result


def local_stamp(dt: datetime, *, offset: bool = False) -> str:
    """``dt.strftime("%Y-%m-%dT%H:%M:%S")``, plus ``%z`` with ``offset``; isoformat() is several times faster."""
    if dt.year < 1000 or dt.microsecond:  # strftime's own spelling of these is kept
        return dt.strftime("%Y-%m-%dT%H:%M:%S%z" if offset else "%Y-%m-%dT%H:%M:%S")
    text = dt.isoformat()
    return text[:19] + text[19:].replace(":", "") if offset else text[:19]


@dataclass(frozen=True)
class ZoomSchedule:
    start_time: str  # local wall clock, no Z: read by Zoom in ``timezone``
    timezone: str
    recurrence: dict


def _end_of_day_utc(day: date, tz: ZoneInfo) -> str:
    end = datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


def rule_body(rule: Rule) -> dict[str, Any]:
    """The rule as Zoom's recurrence object, without the end fields."""
    body: dict[str, Any] = {"type": ZOOM_RECURRENCE_TYPES[rule.kind], "repeat_interval": rule.interval}
    if rule.kind == "weekly":
        body["weekly_days"] = ",".join(map(str, rule.weekly_days))
    elif rule.kind == "monthly":
        if rule.monthly_day is not None:
            body["monthly_day"] = rule.monthly_day
        else:
            body["monthly_week"] = rule.monthly_week
            body["monthly_week_day"] = rule.monthly_week_day
    return body


def rolls(spec: MeetingSpec, upcoming: int) -> bool:
    """Whether Zoom holds only a window of the series (rolling, and longer than the cap or without end)."""
    return spec.rolling and (upcoming > ZOOM_OCCURRENCE_CAP or (spec.end_date is None and spec.occurrences is None))


def held(spec: MeetingSpec, now: datetime) -> tuple[datetime, ...]:
    """The series' occurrences after ``now`` that Zoom holds (aware, local): all of them, or for a rolling
    series the next 50. Skipped dates included: Zoom keeps those as cancelled occurrences."""
    line = _timeline(spec)
    upcoming = line.starts[line.past_count(now):]
    return upcoming[:ZOOM_OCCURRENCE_CAP] if rolls(spec, len(upcoming)) else upcoming


def zoom_schedule(spec: MeetingSpec, now: datetime) -> ZoomSchedule:
    """start_time, timezone and recurrence for a create or PATCH body.

    Zoom rewrites a past start to "now", so the series is re-anchored at its next upcoming occurrence;
    end_times then counts only the upcoming occurrences.
    """
    line = _timeline(spec)
    starts = line.starts
    upcoming = starts[line.past_count(now):]
    if not upcoming:
        raise ValueError(
            f"no upcoming occurrence for {spec.key}: "
            + ("the series has no occurrence at all" if not starts else
               f"every occurrence is already past (the last was {starts[-1].date().isoformat()})")
        )
    recurrence = rule_body(line.rule)
    if rolls(spec, len(upcoming)):
        # Zoom holds the next 50: the end is the last of them, moved forward by each later apply.
        recurrence["end_date_time"] = _end_of_day_utc(upcoming[ZOOM_OCCURRENCE_CAP - 1 if len(upcoming) >
                                                               ZOOM_OCCURRENCE_CAP else -1].date(),
                                                      ZoneInfo(spec.timezone))
    elif spec.end_date is not None:
        recurrence["end_date_time"] = _end_of_day_utc(spec.end_date, ZoneInfo(spec.timezone))
    else:
        recurrence["end_times"] = len(upcoming)
    return ZoomSchedule(
        start_time=local_stamp(upcoming[0]),
        timezone=spec.timezone,
        recurrence=recurrence,
    )


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


def days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _missing_months(spec: MeetingSpec, rule: Rule, starts: Sequence[datetime]) -> list[str]:
    """Months the series steps through (start_date's month to the last meeting) that lack monthly_day."""
    day = rule.monthly_day or 0
    return [
        f"{_MONTH_NAMES[m - 1]} {y}"
        for y, m in _months_between(spec.start_date, starts[-1].date(), rule.interval)
        if days_in_month(y, m) < day
    ]


def _utc_clock(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%H:%M")


def _dst_changes(starts: Sequence[datetime], offsets: Sequence[timedelta]) -> list[str]:
    """Where the UTC offset differs from the previous occurrence's (offsets[i] is starts[i]'s)."""
    if not offsets or offsets.count(offsets[0]) == len(offsets):
        return []
    return [
        f"from {_utc_clock(starts[i - 1])} to {_utc_clock(starts[i])} on {starts[i].date().isoformat()}"
        for i in range(1, len(starts)) if offsets[i] != offsets[i - 1]
    ]


def _gaps(starts: Sequence[datetime], offsets: Sequence[timedelta]) -> list[datetime]:
    if not starts:
        return []
    # Only a wall time whose offset depends on fold is near a DST change; _in_gap settles those few. The
    # fold=1 offsets are computed in bulk (map, combine) because most series have no such time at all.
    later = starts[0].timetz().replace(fold=1)
    other = tuple(map(datetime.utcoffset, map(datetime.combine, map(datetime.date, starts),
                                               itertools.repeat(later, len(starts)))))
    if other == tuple(offsets):
        return []
    return [s for s, offset, folded in zip(starts, offsets, other, strict=True) if folded != offset and _in_gap(s)]


def _in_gap(dt: datetime) -> bool:
    """True when the wall time does not exist (skipped by a DST change)."""
    return dt.astimezone(UTC).astimezone(dt.tzinfo).replace(tzinfo=None) != dt.replace(tzinfo=None)


def _end_field(spec: MeetingSpec) -> str:
    return "end_date" if spec.end_date is not None else "occurrences"


def _cap_error(spec: MeetingSpec, past: int, upcoming: Sequence[datetime]) -> Diagnostic:
    fiftieth = upcoming[ZOOM_OCCURRENCE_CAP - 1].date().isoformat()
    fix = (f"set end_date to {fiftieth}" if spec.end_date is not None
           else f"set occurrences to {past + ZOOM_OCCURRENCE_CAP} (last meeting {fiftieth})")
    return _diag(spec, _end_field(spec), "error",
                 f"Zoom keeps at most {ZOOM_OCCURRENCE_CAP} occurrences of a series; this one has "
                 f"{len(upcoming)} from {upcoming[0].date().isoformat()} to "
                 f"{upcoming[-1].date().isoformat()}: {fix}, split it, or set `rolling: true` (Zoom then "
                 "holds the next 50 and each apply extends the series)")


def _warnings(spec: MeetingSpec, rule: Rule, line: _Timeline, past: int) -> list[Diagnostic]:
    starts, upcoming = line.starts, line.starts[past:]
    out: list[Diagnostic] = []
    if past:
        out.append(_diag(spec, "start_date", "warning",
                         f"{_plural(past, 'occurrence')} {'is' if past == 1 else 'are'} already past; "
                         f"the series will start on {upcoming[0].date().isoformat()}"))
    if rule.kind == "weekly" and zoom_weekday(spec.start_date) not in rule.weekly_days:
        days = ", ".join(_DAY_NAMES[d] for d in rule.weekly_days)
        digits = ",".join(str(d) for d in rule.weekly_days)
        out.append(_diag(spec, "start_date", "warning",
                         f"{spec.start_date.isoformat()} is a {_DAY_NAMES[zoom_weekday(spec.start_date)]}, but "
                         f'weekly_days "{digits}" means {days} (1 = Sunday ... 7 = Saturday): '
                         f"the first meeting is on {starts[0].date().isoformat()}"))
    if rule.kind == "monthly" and (rule.monthly_day or 0) > 28:
        missing = _missing_months(spec, rule, starts)
        if missing:
            out.append(_diag(spec, "monthly_day", "warning",
                             f"no meeting in {_named_list(missing)} (no day {rule.monthly_day} there)"))
    changes = _dst_changes(upcoming, line.offsets[past:])
    if changes:
        # Informational: nothing to fix, so a note rather than a warning (shown by validate and plan -v).
        out.append(_diag(spec, "timezone", "note",
                         f"local time {_clock(spec.start_time)} is kept; in UTC it moves "
                         f"{_named_list(changes)}"))
    if spec.end_date is not None and starts[-1].date() < spec.end_date and len(starts) < SERIES_LIMIT:
        out.append(_diag(spec, "end_date", "warning",
                         f"the last meeting is on {starts[-1].date().isoformat()}, "
                         f"before end_date {spec.end_date.isoformat()}"))
    gaps = _gaps(upcoming, line.offsets[past:])
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
        line = _timeline(spec)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        return [_diag(spec, "timezone", "error", f"cannot compute the series: {exc}")]
    starts = line.starts
    if not starts:
        return [_diag(spec, _end_field(spec), "error",
                      "the series has no occurrence at all: check start_date, the recurrence fields and "
                      + ("end_date" if spec.end_date is not None else "occurrences"))]
    past = line.past_count(now)
    upcoming = starts[past:]
    if not upcoming:
        fix = "start_date/end_date" if spec.end_date is not None else "start_date"
        return [_diag(spec, "end_date" if spec.end_date is not None else "start_date", "error",
                      f"every occurrence is already past: move {fix} forward")]
    out: list[Diagnostic] = []
    if len(upcoming) > ZOOM_OCCURRENCE_CAP and not spec.rolling:
        out.append(_cap_error(spec, past, upcoming))
    return out + _warnings(spec, line.rule, line, past) + _occurrence_warnings(spec, line, now)


def _occurrence_warnings(spec: MeetingSpec, line: _Timeline, now: datetime) -> list[Diagnostic]:
    """skip_dates and overrides that name no meeting day of the series (past dates are let be)."""
    if not spec.skip_dates and not spec.overrides:
        return []
    days = {s.date() for s in line.starts}
    today = now.astimezone(line.starts[0].tzinfo).date() if line.starts else now.date()
    last = line.starts[-1].date() if line.starts and len(line.starts) < SERIES_LIMIT else date.max
    out = []
    stray = [d.isoformat() for d in spec.skip_dates if d >= today and d <= last and d not in days]
    if stray:
        out.append(_diag(spec, "skip_dates", "warning",
                         f"{_named_list(stray)} {'is' if len(stray) == 1 else 'are'} not a meeting day of this "
                         f"series ({describe(spec)}): nothing to skip there"))
    skipped = set(spec.skip_dates)
    for override in spec.overrides:
        if override.date in skipped:
            out.append(_diag(spec, "overrides", "warning",
                             f"{override.date.isoformat()} is also in skip_dates: the occurrence is cancelled "
                             "and the override does nothing"))
        elif override.date >= today and override.date not in days and override.date <= last:
            out.append(_diag(spec, "overrides", "warning",
                             f"{override.date.isoformat()} is not a meeting day of this series "
                             f"({describe(spec)}): the override does nothing"))
    return out


def _occurrence_spans(spec: MeetingSpec, now: datetime, index: int) -> list[tuple[float, float, int]]:
    """(start, end, index) of each occurrence as POSIX seconds, for the double-booking sweep. Most meetings
    have no skips or overrides: their spans come straight from the series (no datetime per end)."""
    if spec.skip_dates or spec.overrides:
        return [(start.timestamp(), end.timestamp(), index) for start, end in occurrence_times(spec, now)]
    length = spec.duration * 60
    return [(t, t + length, index) for t in map(datetime.timestamp, held(spec, now))]


def occurrence_times(spec: MeetingSpec, now: datetime) -> list[tuple[datetime, datetime]]:
    """(start, end) of each occurrence Zoom holds after ``now`` as the file wants it: skipped dates left out,
    overrides applied. Aware, in the meeting's zone."""
    skipped = frozenset(spec.skip_dates)
    overrides = {o.date: o for o in spec.overrides}
    out = []
    for start in held(spec, now):
        day = start.date()
        if day in skipped:
            continue
        duration = spec.duration
        override = overrides.get(day)
        if override is not None:
            if override.start_time is not None:
                start = datetime.combine(day, override.start_time, start.tzinfo)
            duration = override.duration or duration
        out.append((start, start + timedelta(minutes=duration)))
    return out


_OVERLAP_PAIRS = 3  # pairs named per host
_OVERLAP_NAMED = 5  # pairs named in all; further overlaps are counted in one line
DOUBLE_BOOKED = "is double-booked"  # in each double-booking warning: the health check reports them by it


def double_bookings(specs: Iterable[MeetingSpec], now: datetime, limit: int = 1) -> list[Diagnostic]:
    """A warning per pair of meetings of one host that overlap on some occurrence (more than ``limit`` at once),
    naming both keys and the first date. A sweep over each host's sorted occurrences: O(n log n)."""
    hosts: dict[str, list[MeetingSpec]] = {}
    for spec in specs:
        hosts.setdefault(spec.host_email.lower(), []).append(spec)
    out: list[Diagnostic] = []
    more, more_hosts = 0, 0  # overlaps past the named pairs: counted, not named (a bad file could have millions)
    for mine in hosts.values():
        if len(mine) <= limit:
            continue  # too few meetings to be over the limit at any moment
        intervals: list[tuple[float, float, int]] = []
        for index, spec in enumerate(mine):
            try:
                intervals.extend(_occurrence_spans(spec, now, index))
            except (ValueError, ZoneInfoNotFoundError):
                continue
        intervals.sort()
        active: list[tuple[float, int]] = []  # heap of (end, meeting index)
        reported: set[tuple[int, int]] = set()
        counted = more
        for start, end, index in intervals:
            while active and active[0][0] <= start:
                heapq.heappop(active)
            if len(active) >= limit:
                if len(reported) >= _OVERLAP_PAIRS or len(out) >= _OVERLAP_NAMED:
                    more += 1
                    heapq.heappush(active, (end, index))
                    continue
                for _, other in active:
                    pair = (min(other, index), max(other, index))
                    if other == index or pair in reported:
                        continue
                    if len(reported) >= _OVERLAP_PAIRS or len(out) >= _OVERLAP_NAMED:
                        more += 1
                        break
                    reported.add(pair)
                    first, second = mine[pair[0]], mine[pair[1]]
                    moment = datetime.fromtimestamp(start, ZoneInfo(mine[index].timezone))
                    out.append(_diag(mine[index], "start_time", "warning",
                                     f"host {mine[index].host_email} {DOUBLE_BOOKED}: {first.key} and "
                                     f"{second.key} overlap, first on {moment.date().isoformat()} at "
                                     f"{_clock(moment.time())} {mine[index].timezone} (more than {limit} at "
                                     "once: see max_concurrent_meetings_per_host)"))
            heapq.heappush(active, (end, index))
        more_hosts += more > counted
    if more:
        out.append(Diagnostic("warning", "", None, None, "max_concurrent_meetings_per_host",
                              f"{more} more overlapping occurrences of {more_hosts} host(s) beyond the double "
                              "bookings named above"))
    return out
