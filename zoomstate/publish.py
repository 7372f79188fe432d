"""Calendar feeds (RFC 5545), an events page (HTML) and a wiki page (Markdown) from the state file.

Built from what apply and `zoomstate refresh` recorded of Zoom (``outputs.calendar`` of each managed meeting:
Zoom's recurrence and the occurrences it holds, with their status), so a feed follows Zoom: an occurrence
deleted in Zoom is an EXDATE, one moved or lengthened is a RECURRENCE-ID event. Never the passcode or the
start URL: only the join URL as Zoom gives it. Standard library only; pure functions of the state.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zoomstate import calendar
from zoomstate.calendar import Rule
from zoomstate.state import ManagedMeeting, State
from zoomstate.zoombody import parse_time, rule_of_zoom

PRODID = "-//zoomstate//calendar feed//EN"
_ICS_DAYS = {1: "SU", 2: "MO", 3: "TU", 4: "WE", 5: "TH", 6: "FR", 7: "SA"}
_FOLD_OCTETS = 75


@dataclass(frozen=True)
class Occurrence:
    slot: datetime  # where the rule puts it (aware UTC): Zoom's occurrence id is that instant in milliseconds
    start: datetime  # where Zoom holds it now (aware UTC)
    duration: int  # minutes
    deleted: bool


@dataclass(frozen=True)
class Series:
    """One managed meeting as the feeds and pages show it."""

    key: str
    meeting_id: int
    topic: str
    agenda: str
    timezone: str
    duration: int
    join_url: str
    registration_url: str
    rule: Rule | None
    occurrences: tuple[Occurrence, ...]  # every occurrence Zoom listed, deleted ones too, by slot
    stamp: datetime  # when the state last recorded it (DTSTAMP)

    @property
    def zone(self) -> tzinfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return UTC

    @property
    def held(self) -> tuple[Occurrence, ...]:
        return tuple(o for o in self.occurrences if not o.deleted)

    def upcoming(self, now: datetime) -> list[Occurrence]:
        return sorted((o for o in self.held if o.start + timedelta(minutes=o.duration) > now), key=lambda o: o.start)


def series_of(state: State) -> list[Series]:
    """The managed meetings that have a recorded calendar, by key."""
    found = []
    for key, meeting in sorted(state.meetings.items()):
        one = _series(key, meeting)
        if one is not None:
            found.append(one)
    return found


def _series(key: str, meeting: ManagedMeeting) -> Series | None:
    outputs = meeting.outputs
    cal = outputs.get("calendar")
    if not isinstance(cal, dict):
        return None
    duration = _minutes(outputs.get("duration"), 60)
    occurrences = []
    for item in cal.get("occurrences") or []:
        if not isinstance(item, list) or len(item) != 4:
            continue
        occurrence_id, start_text, minutes, status = item
        start = parse_time(start_text)
        if start is None:
            continue
        occurrences.append(Occurrence(_slot(occurrence_id, start), start, _minutes(minutes, duration),
                                      status == "deleted"))
    recurrence = cal.get("recurrence") if isinstance(cal.get("recurrence"), dict) else {}
    try:
        rule = rule_of_zoom(recurrence) if recurrence else None
    except (TypeError, ValueError):
        rule = None
    return Series(
        key=key, meeting_id=meeting.meeting_id, topic=meeting.topic, agenda=str(cal.get("agenda") or ""),
        timezone=str(outputs.get("timezone") or "UTC"), duration=duration,
        join_url=str(outputs.get("join_url") or ""), registration_url=str(outputs.get("registration_url") or ""),
        rule=rule, occurrences=tuple(sorted(occurrences, key=lambda o: o.slot)),
        stamp=parse_time(meeting.updated_at) or parse_time(meeting.created_at) or datetime(1970, 1, 1, tzinfo=UTC),
    )


def _minutes(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _slot(occurrence_id: Any, start: datetime) -> datetime:
    """The instant an occurrence was scheduled at: Zoom's occurrence ids are its epoch milliseconds."""
    text = str(occurrence_id)
    if text.isdigit() and len(text) >= 10:
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return start


# ------------------------------------------------------------------------------------------ iCalendar


def ics_calendar(series: Iterable[Series], name: str = "Zoom meetings") -> str:
    """One VCALENDAR with a VEVENT (and its overrides) per series, and the VTIMEZONEs they use."""
    series = [s for s in series if s.occurrences]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}"]
    zones: dict[str, list[datetime]] = {}
    for one in series:
        zones.setdefault(one.timezone if one.zone is not UTC else "UTC", []).extend(
            o.start for o in one.occurrences)
        zones[one.timezone if one.zone is not UTC else "UTC"].extend(o.slot for o in one.occurrences)
    for zone_name, moments in sorted(zones.items()):
        lines += vtimezone(zone_name, min(moments), max(moments))
    for one in series:
        lines += vevents(one)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def vevents(one: Series) -> list[str]:
    tzid = one.timezone if one.zone is not UTC else "UTC"
    zone = one.zone
    uid = f"{one.meeting_id}@zoomstate"
    slots = [o.slot for o in one.occurrences]
    first = slots[0]
    expanded = _expand(one.rule, first.astimezone(zone), slots[-1]) if one.rule else None
    lines = ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_utc(one.stamp)}",
             f"DTSTART;TZID={tzid}:{_local(first, zone)}", f"DURATION:PT{one.duration}M"]
    if expanded is not None and set(expanded) == set(slots):
        lines.append(f"RRULE:{rrule_text(one.rule, slots[-1])}")  # type: ignore[arg-type]
    else:
        # Zoom's dates are not the rule's (an unreadable rule, or dates Zoom moved): list them instead.
        rest = [s for s in slots if s != first]
        for chunk in _chunks(rest, 8):
            lines.append(f"RDATE;TZID={tzid}:" + ",".join(_local(s, zone) for s in chunk))
    deleted = [o.slot for o in one.occurrences if o.deleted]
    for chunk in _chunks(deleted, 8):
        lines.append(f"EXDATE;TZID={tzid}:" + ",".join(_local(s, zone) for s in chunk))
    lines += _describe(one)
    lines.append("END:VEVENT")
    for moved in one.occurrences:
        if moved.deleted or (moved.start == moved.slot and moved.duration == one.duration):
            continue
        lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_utc(one.stamp)}",
                  f"RECURRENCE-ID;TZID={tzid}:{_local(moved.slot, zone)}",
                  f"DTSTART;TZID={tzid}:{_local(moved.start, zone)}", f"DURATION:PT{moved.duration}M"]
        lines += _describe(one)
        lines.append("END:VEVENT")
    return lines


def _describe(one: Series) -> list[str]:
    lines = [f"SUMMARY:{escape_text(one.topic)}"]
    parts = []
    if one.join_url:
        lines += [f"URL:{one.join_url}", f"LOCATION:{escape_text(one.join_url)}"]
        parts.append(f"Join: {one.join_url}")
    if one.registration_url:
        parts.append(f"Register: {one.registration_url}")
    if one.agenda:
        parts.append(one.agenda)
    if parts:
        lines.append(f"DESCRIPTION:{escape_text(chr(10).join(parts))}")
    return lines


def _expand(rule: Rule | None, first_local: datetime, last: datetime) -> list[datetime] | None:
    if rule is None:
        return None
    starts = calendar.wall_times(rule, first_local.replace(tzinfo=None, fold=0), None, None, first_local.tzinfo)
    return [s.astimezone(UTC) for s in itertools.takewhile(lambda s: s <= last,
                                                           itertools.islice(starts, calendar.SERIES_LIMIT))]


def rrule_text(rule: Rule, last: datetime) -> str:
    parts = [f"FREQ={rule.kind.upper()}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.kind == "weekly":
        parts.append("BYDAY=" + ",".join(_ICS_DAYS[d] for d in rule.weekly_days))
    elif rule.kind == "monthly":
        if rule.monthly_week is not None:
            parts.append(f"BYDAY={rule.monthly_week}{_ICS_DAYS[rule.monthly_week_day or 1]}")
        else:
            parts.append(f"BYMONTHDAY={rule.monthly_day}")
    parts.append(f"UNTIL={_utc(last)}")
    return ";".join(parts)


def vtimezone(name: str, start: datetime, end: datetime) -> list[str]:
    """A VTIMEZONE for ``name`` covering ``start``..``end``: the offset in force at the start and each
    transition zoneinfo knows in the span (one dated sub-component each, no rule to get wrong)."""
    zone = UTC if name == "UTC" else ZoneInfo(name)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}"]
    begin = start - timedelta(days=1)
    local = begin.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    lines += _zone_part(local.dst(), local.replace(tzinfo=None), offset, offset, local.tzname())
    for moment in _transitions(zone, begin, end + timedelta(days=1)):
        before = (moment - timedelta(seconds=1)).astimezone(zone)
        after = moment.astimezone(zone)
        wall = (moment + (before.utcoffset() or timedelta(0))).replace(tzinfo=None)
        lines += _zone_part(after.dst(), wall, before.utcoffset() or timedelta(0),
                            after.utcoffset() or timedelta(0), after.tzname())
    lines.append("END:VTIMEZONE")
    return lines


def _zone_part(dst: timedelta | None, wall: datetime, before: timedelta, after: timedelta,
               abbreviation: str | None) -> list[str]:
    kind = "DAYLIGHT" if dst else "STANDARD"
    lines = [f"BEGIN:{kind}", f"DTSTART:{wall.strftime('%Y%m%dT%H%M%S')}", f"TZOFFSETFROM:{_offset(before)}",
             f"TZOFFSETTO:{_offset(after)}"]
    if abbreviation:
        lines.append(f"TZNAME:{escape_text(abbreviation)}")
    return [*lines, f"END:{kind}"]


def _transitions(zone: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """Instants (aware UTC, to the second) where the zone's offset changes between start and end."""
    found = []
    step = timedelta(hours=6)
    moment = start
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        later = min(moment + step, end)
        if later.astimezone(zone).utcoffset() != offset:
            low, high = moment, later
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == offset:
                    low = mid
                else:
                    high = mid
            high = high.replace(microsecond=0)
            found.append(high)
            offset = later.astimezone(zone).utcoffset()
        moment = later
    return found


def _offset(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    text = f"{sign}{seconds // 3600:02d}{seconds % 3600 // 60:02d}"
    return text + (f"{seconds % 60:02d}" if seconds % 60 else "")


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y%m%dT%H%M%S")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _chunks(items: list[datetime], size: int) -> Iterable[list[datetime]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def escape_text(text: str) -> str:
    """An RFC 5545 TEXT value: backslash, semicolon, comma and newlines escaped; other controls dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    return "".join(c for c in out if c == "\t" or ord(c) >= 32 and ord(c) != 127)


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 sequence."""
    data = line.encode("utf-8")
    if len(data) <= _FOLD_OCTETS:
        return line
    parts, current, size, limit = [], [], 0, _FOLD_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, _FOLD_OCTETS - 1  # continuation lines start with a space
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


# --------------------------------------------------------------------------------------- pages


def _when(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or "")


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;
color:#1a1a1a;background:#fff;line-height:1.5;max-width:56rem;margin-inline:auto}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.25rem;margin:1.5rem 0 .25rem}
a{color:#0b57d0}a:focus{outline:3px solid #1a1a1a;outline-offset:2px}
.links{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0;padding:0;list-style:none}
.links a{display:inline-block;padding:.4rem .8rem;border:2px solid #0b57d0;border-radius:.4rem;
text-decoration:none;font-weight:600}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;
border-bottom:1px solid #767676}caption{text-align:left;color:#333}
.agenda{color:#333;margin:.25rem 0}.visually-hidden{position:absolute;left:-9999px}
@media (max-width:36rem){body{padding:.75rem}th,td{display:block;padding:.1rem 0}
thead{position:absolute;left:-9999px}tr{display:block;border-bottom:1px solid #767676;padding:.4rem 0}
td{border:0}}
"""


def html_page(series: Iterable[Series], now: datetime, *, title: str = "Meetings", limit: int = 10) -> str:
    """A static, accessible page (no script): each series with its join and registration links and its next
    ``limit`` occurrences. Everything from the state is HTML-escaped."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{e(title)}</title>",
           f"<style>{PAGE_CSS.strip()}</style>", "</head>", "<body>", "<main>", f"<h1>{e(title)}</h1>"]
    shown = [s for s in series if s.upcoming(now)]
    if not shown:
        out.append("<p>No upcoming meetings.</p>")
    for one in shown:
        zone = one.zone
        upcoming = one.upcoming(now)
        anchor = e(one.key, quote=True)
        out.append(f'<section aria-labelledby="{anchor}">')
        out.append(f'<h2 id="{anchor}">{e(one.topic)}</h2>')
        if one.agenda:
            out.append(f'<p class="agenda">{e(one.agenda)}</p>')
        links = []
        if one.join_url:
            links.append(f'<li><a href="{e(one.join_url, quote=True)}">Join<span class="visually-hidden"> '
                         f'{e(one.topic)}</span></a></li>')
        if one.registration_url:
            links.append(f'<li><a href="{e(one.registration_url, quote=True)}">Register'
                         f'<span class="visually-hidden"> for {e(one.topic)}</span></a></li>')
        if links:
            out.append(f'<ul class="links" aria-label="Links for {e(one.topic, quote=True)}">' + "".join(links)
                       + "</ul>")
        out.append("<table>")
        out.append(f"<caption>Next {min(limit, len(upcoming))} of {len(upcoming)} upcoming "
                   f"({e(one.timezone)})</caption>")
        out.append('<thead><tr><th scope="col">When</th><th scope="col">Duration</th></tr></thead><tbody>')
        for occurrence in upcoming[:limit]:
            out.append(f'<tr><td><time datetime="{occurrence.start.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
                       f"{e(_when(occurrence.start, zone))}</time></td><td>{occurrence.duration} min</td></tr>")
        out.append("</tbody></table>")
        out.append("</section>")
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def markdown_page(series: Iterable[Series], now: datetime, *, title: str = "Meetings", limit: int = 10) -> str:
    """The events page for a wiki: a heading per series, its links, a table of upcoming occurrences."""
    out = [f"# {_md(title)}", ""]
    shown = [s for s in series if s.upcoming(now)]
    if not shown:
        out += ["No upcoming meetings.", ""]
    for one in shown:
        upcoming = one.upcoming(now)
        out += [f"## {_md(one.topic)}", ""]
        if one.agenda:
            out += [_md(one.agenda), ""]
        links = []
        if one.join_url:
            links.append(f"[Join]({_url(one.join_url)})")
        if one.registration_url:
            links.append(f"[Register]({_url(one.registration_url)})")
        if links:
            out += [" · ".join(links), ""]
        out += [f"| When ({_md(one.timezone)}) | Duration |", "|---|---|"]
        for occurrence in upcoming[:limit]:
            out.append(f"| {_md(_when(occurrence.start, one.zone))} | {occurrence.duration} min |")
        if len(upcoming) > limit:
            out.append(f"| … and {len(upcoming) - limit} more | |")
        out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    text = " ".join(text.split())
    for char in "\\`*_{}[]()<>#+!|~":
        text = text.replace(char, "\\" + char)
    return text


def _url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
