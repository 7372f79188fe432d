"""Zoom's meeting format, both ways: a MeetingSpec -> the request body, and a Zoom body -> a LiveMeeting.

The only module that reads or writes Zoom's meeting bodies. A body is read as Zoom sends it (recorded bodies
differ from the documentation): a type-8 GET may lack a top-level ``start_time`` (the first occurrence
stands in), a recurrence may carry both monthly forms (the one its occurrences follow wins), occurrences with
status ``deleted`` are not meetings, timezone names are compared by the zone they name (``Asia/Calcutta`` is
``Asia/Kolkata``), and ``…Z`` timestamps go through one parser.

The desired side is computed once per meeting and run (:class:`DesiredMeeting`): the managed view that the
state records, the request body and the upcoming occurrences the plan compares with Zoom's.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

from zoomstate import calendar
from zoomstate.calendar import Rule
from zoomstate.model import MeetingSpec

MEETING_TYPE_RECURRING_FIXED = 8
RECURRENCE_NAMES = {1: "daily", 2: "weekly", 3: "monthly"}

# Settings the YAML manages; each is always sent and always compared.
MANAGED_SETTINGS = (
    "host_video",
    "participant_video",
    "join_before_host",
    "mute_upon_entry",
    "waiting_room",
    "watermark",
    "approval_type",
    "audio",
    "auto_recording",
    "meeting_authentication",
)
# Top-level fields the YAML manages and Zoom echoes as sent (the schedule is compared by occurrences).
MANAGED_FIELDS = ("topic", "agenda", "duration", "timezone")
# Paths ``ignore_changes`` may name: sent at create, never diffed after.
IGNORABLE_PATHS = frozenset(
    {"topic", "agenda", "duration", "timezone", "password", "schedule", "settings", "settings.registration_type"}
    | {f"settings.{name}" for name in MANAGED_SETTINGS})

_managed_settings_of = operator.attrgetter(*MANAGED_SETTINGS)  # one C call for all ten


# ------------------------------------------------------------------------------------ small readers


def parse_time(value: Any) -> datetime | None:
    """A Zoom timestamp (``2027-02-01T14:00:00Z``, or with an offset) as an aware UTC datetime; None when
    absent or unreadable. A timestamp without zone is taken as UTC, as Zoom answers in UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=1024)
def zone_identity(name: str) -> str:
    """What a timezone name names: the digest of its zone data, so that a link (``Asia/Calcutta``,
    ``Europe/Kiev``) and its target are one zone. Unknown names stand for themselves."""
    if zone(name) is None:
        return name
    for root in TZPATH:
        candidate = Path(root) / name
        if candidate.is_file():
            return hashlib.sha256(candidate.read_bytes()).hexdigest()
    try:
        from importlib.resources import files

        data = files("tzdata").joinpath("zoneinfo", *name.split("/")).read_bytes()
    except (ModuleNotFoundError, OSError, ValueError):
        return name
    return hashlib.sha256(data).hexdigest()


def same_zone(a: str, b: str) -> bool:
    return a == b or zone_identity(a) == zone_identity(b)


def _int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def rule_of_zoom(recurrence: Mapping[str, Any], occurrences: Iterable[datetime] = ()) -> Rule:
    """Zoom's recurrence object as a Rule, with Zoom's documented defaults (weekly_days "1", monthly_day 1).

    A monthly recurrence carrying both ``monthly_day`` and ``monthly_week`` (seen in real bodies) is read in
    the form its occurrences (aware, local) follow; without occurrences the day form wins.
    """
    kind = RECURRENCE_NAMES.get(_int(recurrence.get("type"), 0) or 0)
    if kind is None:
        raise ValueError(f"unknown recurrence type {recurrence.get('type')!r}")
    interval = _int(recurrence.get("repeat_interval"), 1) or 1
    if kind == "weekly":
        text = str(recurrence.get("weekly_days") or "1")  # Zoom's documented default
        days = tuple(sorted({int(p) for p in text.split(",") if p.strip().isdigit()}))
        return Rule("weekly", interval, weekly_days=days or (1,))
    if kind == "monthly":
        day = _int(recurrence.get("monthly_day"))
        week = _int(recurrence.get("monthly_week"))
        by_day = Rule("monthly", interval, monthly_day=day or 1)
        if week in (None, 0):
            return by_day
        by_week = Rule("monthly", interval, monthly_week=week,
                       monthly_week_day=_int(recurrence.get("monthly_week_day"), 1) or 1)
        if day in (None, 0):
            return by_week
        dates = [o.date() for o in itertools.islice(occurrences, 6)]
        if dates and all(d.day == day for d in dates):
            return by_day
        if dates and all(_nth_weekday_of(d, by_week) for d in dates):
            return by_week
        return by_day
    return Rule("daily", interval)


def _nth_weekday_of(d: Any, rule: Rule) -> bool:
    if calendar.zoom_weekday(d) != rule.monthly_week_day:
        return False
    if rule.monthly_week == -1:
        return (d.day + 7) > calendar.days_in_month(d.year, d.month)
    return (d.day - 1) // 7 + 1 == rule.monthly_week


def occurrences_from_zoom(start_local: datetime, recurrence: Mapping[str, Any]) -> list[datetime]:
    """Occurrences of a Zoom recurrence object anchored at an aware local start (at most 1,000).

    ``end_times`` counts from the anchor (0 or absent with no end date: endless, so bounded);
    ``end_date_time`` (UTC) keeps every occurrence starting at or before that instant.
    """
    if start_local.tzinfo is None:
        raise ValueError("start_local must be timezone-aware (the meeting's zone)")
    rule = rule_of_zoom(recurrence)
    end_times = recurrence.get("end_times")
    end = parse_time(recurrence.get("end_date_time"))
    count = _int(end_times) if end_times and end is None else None
    starts: Iterable[datetime] = calendar.wall_times(rule, start_local.replace(tzinfo=None, fold=0), None, count,
                                                     start_local.tzinfo)
    if end is not None:
        starts = itertools.takewhile(lambda s: s <= end, starts)
    return list(itertools.islice(starts, calendar.SERIES_LIMIT))


def rule_view(rule: Rule) -> dict[str, Any]:
    """A rule in comparable form: Zoom's recurrence keys, the type by name."""
    return {**calendar.rule_body(rule), "type": rule.kind}


# ---------------------------------------------------------------------------------------- live side


@dataclass(frozen=True)
class LiveMeeting:
    """A Zoom meeting (GET /meetings/{id} body) read into plain data, independent of any desired meeting."""

    meeting_id: int
    type: int | None
    host_email: str
    topic: str
    agenda: str
    duration: int | None
    timezone: str
    created_at: datetime | None
    start: datetime | None  # first non-deleted occurrence, else the top-level start_time (aware UTC)
    rule: Rule | None  # None unless a readable type-8 recurrence
    end_date_time: datetime | None
    end_times: int | None
    occurrences: tuple[datetime, ...] | None  # non-deleted, aware UTC; None when Zoom listed none
    settings: Mapping[str, Any] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    join_url: str = field(default="", repr=False)
    registration_url: str = ""
    recurrence: Mapping[str, Any] = field(default_factory=dict, repr=False)  # as Zoom sent it

    @property
    def local_start(self) -> datetime | None:
        tz = zone(self.timezone)
        return self.start.astimezone(tz) if self.start is not None and tz is not None else None

    def upcoming(self, now: datetime) -> tuple[datetime, ...]:
        """Occurrences starting after ``now`` (aware UTC): Zoom's list where given, else the rule's."""
        if self.occurrences is not None:
            return tuple(o for o in self.occurrences if o > now)
        anchor = self.local_start
        if self.rule is None or anchor is None:
            return ()
        try:
            starts = occurrences_from_zoom(anchor, self.recurrence)
        except ValueError:
            return ()
        return tuple(s for s in starts if s > now)


def live_meeting(body: Mapping[str, Any]) -> LiveMeeting:
    """Read a GET /meetings/{id} (or create) body as Zoom sends it."""
    occurrences = None
    items = body.get("occurrences")
    if isinstance(items, list) and items:
        parsed = [parse_time(o.get("start_time")) for o in items
                  if isinstance(o, dict) and o.get("status") != "deleted"]
        occurrences = tuple(sorted(p for p in parsed if p is not None))
    start = occurrences[0] if occurrences else parse_time(body.get("start_time"))
    recurrence = body.get("recurrence") if isinstance(body.get("recurrence"), dict) else {}
    rule = None
    tz_name = str(body.get("timezone") or "UTC")
    if body.get("type") == MEETING_TYPE_RECURRING_FIXED and recurrence:
        tz = zone(tz_name)
        local = [o.astimezone(tz) for o in occurrences] if occurrences and tz else []
        try:
            rule = rule_of_zoom(recurrence, local)
        except (ValueError, TypeError):
            rule = None
    settings = body.get("settings") if isinstance(body.get("settings"), dict) else {}
    password = body.get("password")
    return LiveMeeting(
        meeting_id=_int(body.get("id"), 0) or 0,
        type=_int(body.get("type")),
        host_email=str(body.get("host_email") or ""),
        topic=str(body.get("topic") or ""),
        agenda=str(body.get("agenda") or ""),
        duration=_int(body.get("duration")),
        timezone=tz_name,
        created_at=parse_time(body.get("created_at")),
        start=start,
        rule=rule,
        end_date_time=parse_time(recurrence.get("end_date_time")),
        end_times=_int(recurrence.get("end_times")),
        occurrences=occurrences,
        settings=dict(settings),
        password=password if isinstance(password, str) else None,
        join_url=str(body.get("join_url") or ""),
        registration_url=str(body.get("registration_url") or ""),
        recurrence=dict(recurrence),
    )


def live_identity(live: LiveMeeting) -> dict[str, Any]:
    """What identifies a live meeting when adopting or recovering a create (see :func:`identity`)."""
    local = live.local_start
    return {
        "topic": live.topic,
        "timezone": zone_identity(live.timezone),
        "local_time": local.strftime("%H:%M") if local is not None else None,
        "recurrence": rule_view(live.rule) if live.rule is not None else {"type": f"zoom meeting type {live.type}"},
    }


def identity(view: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying part of a managed view or a pending create's fingerprint, comparable with
    :func:`live_identity`."""
    return {
        "topic": view.get("topic"),
        "timezone": zone_identity(str(view.get("timezone") or "UTC")),
        "local_time": view.get("local_time"),
        "recurrence": view.get("recurrence"),
    }


def candidate_ids(items: Iterable[Mapping[str, Any]], topics: Iterable[str], claimed: set[int]) -> list[int]:
    """List items (GET /users/{id}/meetings) that may be a desired meeting: recurring with a fixed time,
    one of ``topics``, and not already managed. The one filter refresh and apply's recovery share."""
    wanted = set(topics)
    found = []
    for item in items:
        meeting_id = _int(item.get("id"))
        if (meeting_id is not None and item.get("type") == MEETING_TYPE_RECURRING_FIXED
                and item.get("topic") in wanted and meeting_id not in claimed):
            found.append(meeting_id)
    return found


def outputs_of(live: LiveMeeting) -> dict[str, Any]:
    """Zoom's outputs worth keeping in state and the CSV (never start_url, never the passcode)."""
    local = live.local_start
    return {
        "join_url": live.join_url,
        "registration_url": live.registration_url,
        "start_time": local.strftime("%Y-%m-%dT%H:%M:%S") if local is not None else "",
        "timezone": live.timezone if live.timezone else "",
        "duration": live.duration,
        "recurrence_type": _int(live.recurrence.get("type")),
        "occurrences": len(live.occurrences or ()),
    }


# ------------------------------------------------------------------------------------- desired side


def settings_for(spec: MeetingSpec) -> dict[str, Any]:
    """The managed settings as sent. ``join_before_host`` goes as written: recorded bodies show Zoom keeping
    it true beside a waiting room (validate warns about the pair)."""
    settings: dict[str, Any] = dict(zip(MANAGED_SETTINGS, _managed_settings_of(spec), strict=True))
    if spec.approval_type != 2:
        settings["registration_type"] = spec.registration_type
    return settings


def create_body(spec: MeetingSpec, now: datetime) -> dict[str, Any]:
    """The POST /users/{host}/meetings body (also the PATCH body: recurrence whole, start in the future)."""
    schedule = calendar.zoom_schedule(spec, now)
    body: dict[str, Any] = {
        "topic": spec.topic,
        "type": MEETING_TYPE_RECURRING_FIXED,
        "start_time": schedule.start_time,
        "timezone": schedule.timezone,
        "duration": spec.duration,
        "agenda": spec.agenda,
        "recurrence": schedule.recurrence,
        "settings": settings_for(spec),
    }
    if spec.password is not None:
        body["password"] = spec.password
    return body


def managed_view(spec: MeetingSpec) -> dict[str, Any]:
    """What the YAML says, in comparable form (what the state records). Independent of the current time."""
    view: dict[str, Any] = {
        "topic": spec.topic,
        "agenda": spec.agenda,
        "duration": spec.duration,
        "timezone": spec.timezone,
        "local_time": spec.start_time.strftime("%H:%M"),
        "recurrence": rule_view(calendar.rule_of(spec)),
        "end": _spec_end(spec),
        "settings": settings_for(spec),
    }
    if spec.password is not None:
        view["password"] = spec.password
    return view


def _spec_end(spec: MeetingSpec) -> dict[str, str]:
    if spec.end_date is not None:
        return {"end_date": spec.end_date.isoformat()}
    starts = calendar.series(spec)
    return {"last_date": starts[-1].date().isoformat() if starts else ""}


class DesiredMeeting:
    """One desired meeting in Zoom's terms, computed once per run and passed along as data: the managed view
    at once, the request body and the upcoming occurrences when first asked for (a plan of unchanged meetings
    needs neither). Plain slots, not cached_property, whose per-instance lock costs more than the values."""

    __slots__ = ("spec", "now", "view", "_body", "_upcoming", "_anchored")

    def __init__(self, spec: MeetingSpec, now: datetime):
        self.spec = spec
        self.now = now
        self.view: dict[str, Any] = managed_view(spec)
        self._body: dict[str, Any] | None = None
        self._upcoming: tuple[datetime, ...] | None = None
        self._anchored: frozenset[datetime] | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The request body as of ``now``."""
        if self._body is None:
            self._body = create_body(self.spec, self.now)
        return self._body

    @property
    def upcoming(self) -> tuple[datetime, ...]:
        """The occurrences after ``now`` (aware, in the meeting's zone)."""
        if self._upcoming is None:
            self._upcoming = tuple(s for s in calendar.series(self.spec) if s > self.now)
        return self._upcoming

    @property
    def upcoming_as_zoom_anchors(self) -> frozenset[datetime]:
        """The upcoming occurrences as Zoom keeps them when the first falls in a DST gap: Zoom anchors the
        series at the moved wall time (02:30 becomes 03:30), and every occurrence keeps that time."""
        if self._anchored is None:
            self._anchored = _zoom_anchored(self.upcoming)
        return self._anchored

    def same_schedule(self, occurrences: Iterable[datetime]) -> bool:
        """Whether Zoom's upcoming occurrences are this meeting's (the same instants)."""
        have = frozenset(occurrences)
        return have == frozenset(self.upcoming) or have == self.upcoming_as_zoom_anchors

    @property
    def ignored(self) -> tuple[str, ...]:
        return self.spec.ignore_changes


def _zoom_anchored(upcoming: tuple[datetime, ...]) -> frozenset[datetime]:
    if not upcoming:
        return frozenset()
    first = upcoming[0]
    moved = first.astimezone(UTC).astimezone(first.tzinfo)
    if moved.replace(tzinfo=None) == first.replace(tzinfo=None):
        return frozenset(upcoming)
    return frozenset(datetime.combine(s.date(), moved.timetz()) for s in upcoming)
