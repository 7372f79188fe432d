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
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

from zoomstate import calendar
from zoomstate.calendar import Rule
from zoomstate.model import MeetingSpec, Override

MEETING_TYPE_RECURRING_FIXED = 8
RECURRENCE_NAMES = {1: "daily", 2: "weekly", 3: "monthly"}
# How far a moved occurrence may be from the start its id names (further: the id is not read as a start).
ORIGINAL_SLACK = timedelta(days=366)

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
    return (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


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
class LiveOccurrence:
    """One item of Zoom's ``occurrences[]``, whatever its status."""

    occurrence_id: str
    start: datetime  # aware UTC, where Zoom holds it now (a moved occurrence at its new time)
    duration: int | None
    status: str  # "available", "deleted", ...

    @property
    def original(self) -> datetime:
        """The series start it stands for: Zoom's occurrence id is that start in epoch milliseconds. An id
        that is not (or names a time far from the occurrence: edited bodies) stands for the start itself."""
        if self.occurrence_id.isdigit():
            try:
                named = datetime.fromtimestamp(int(self.occurrence_id) / 1000, UTC)
            except (OverflowError, ValueError, OSError):
                return self.start
            if abs(named - self.start) <= ORIGINAL_SLACK:
                return named
        return self.start


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
    occurrence_items: tuple[LiveOccurrence, ...] = field(default=(), repr=False)  # every status

    def series_upcoming(self, now: datetime) -> tuple[datetime, ...]:
        """The series starts Zoom's occurrences stand for, after ``now``, cancelled and moved ones included
        (the schedule compared with the file's rule); Zoom's non-deleted starts when it gives no ids."""
        if not self.occurrence_items:
            return self.upcoming(now)
        return tuple(sorted(o.original for o in self.occurrence_items if o.original > now))

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
    listed: list[LiveOccurrence] = []
    for item in items if isinstance(items, list) else ():
        moment = parse_time(item.get("start_time")) if isinstance(item, dict) else None
        if moment is not None:
            listed.append(LiveOccurrence(str(item.get("occurrence_id") or ""), moment, _int(item.get("duration")),
                                         str(item.get("status") or "available")))
    if isinstance(items, list) and items:
        occurrences = tuple(sorted(o.start for o in listed if o.status != "deleted"))
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
        occurrence_items=tuple(listed),
    )


def create_answer_complete(answer: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """True when a create answer carries every field that was sent and every field zoomstate records, so
    it stands for the meeting without a GET.

    The answer is the meeting as Zoom stored it, not an echo of the request (a recorded create sent
    auto_recording "cloud" and was answered "none"), so what Zoom kept shows in it. Some accounts answer
    without start_time or duration (or a series without its occurrences): that meeting is read back.
    """
    if not isinstance(answer.get("join_url"), str) or answer.get("duration") is None or not answer.get("timezone"):
        return False
    settings = answer.get("settings")
    if not isinstance(settings, dict) or any(name not in settings for name in sent.get("settings") or {}):
        return False
    if any(name not in answer for name in ("topic", "agenda", "password", "recurrence") if name in sent):
        return False
    occurrences = answer.get("occurrences")
    if "recurrence" in sent and not (isinstance(occurrences, list) and occurrences):
        return False
    if not (answer.get("start_time") or occurrences):
        return False
    # Registration on (approval_type 0 or 1): its link is one of the outputs.
    return settings.get("approval_type") not in (0, 1) or bool(answer.get("registration_url"))


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
        "calendar": calendar_outputs(live),
    }


def calendar_outputs(live: LiveMeeting) -> dict[str, Any]:
    """What calendar feeds and the events page need from Zoom: its recurrence and the occurrences it holds
    (start, duration, status), and the agenda. Read by zoomstate.publish from the state."""
    return {
        "agenda": live.agenda,
        "recurrence": {k: v for k, v in live.recurrence.items()
                       if k in ("type", "repeat_interval", "weekly_days", "monthly_day", "monthly_week",
                                "monthly_week_day", "end_times", "end_date_time")},
        # [occurrence_id, start (UTC), duration, status]: compact, one small list per occurrence
        "occurrences": [[o.occurrence_id, utc_text(o.start), o.duration, o.status] for o in
                        sorted(live.occurrence_items, key=lambda o: o.start)],
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
    if spec.skip_dates or spec.overrides:
        view["occurrences"] = occurrence_record(spec)
    return view


def occurrence_record(spec: MeetingSpec) -> dict[str, Any]:
    """The skips and overrides as the state records them once applied (how an agenda-only override is known
    to be done: Zoom's occurrences list shows no agenda)."""
    return {"skip_dates": [d.isoformat() for d in spec.skip_dates],
            "overrides": [_override_view(o) for o in spec.overrides]}


def _override_view(override: Override) -> dict[str, Any]:
    return {"date": override.date.isoformat(),
            "start_time": override.start_time.strftime("%H:%M:%S") if override.start_time else None,
            "duration": override.duration, "agenda": override.agenda}


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
        """The series' occurrences after ``now`` that Zoom holds (aware, in the meeting's zone): for a rolling
        series the next 50. Skipped dates included (Zoom keeps them, cancelled)."""
        if self._upcoming is None:
            self._upcoming = tuple(calendar.held(self.spec, self.now))
        return self._upcoming

    @property
    def upcoming_as_zoom_anchors(self) -> frozenset[datetime]:
        """The upcoming occurrences as Zoom keeps them when the first falls in a DST gap: Zoom anchors the
        series at the moved wall time (02:30 becomes 03:30), and every occurrence keeps that time."""
        if self._anchored is None:
            self._anchored = _zoom_anchored(self.upcoming)
        return self._anchored

    def same_schedule(self, occurrences: Iterable[datetime]) -> bool:
        """Whether Zoom's upcoming series starts are this meeting's (the same instants). Skipped dates count
        on neither side: Zoom may list a cancelled occurrence or leave it out."""
        have = self.unskipped(occurrences)
        return have == self.unskipped(self.upcoming) or have == self.unskipped(self.upcoming_as_zoom_anchors)

    def unskipped(self, starts: Iterable[datetime]) -> frozenset[datetime]:
        """The starts as UTC instants, skipped dates left out. UTC because Python never finds a wall time
        of the repeated hour at fall-back equal to an instant of another zone (PEP 495), however equal."""
        skipped = self.spec.skip_dates
        if not skipped:
            return frozenset(s.astimezone(UTC) for s in starts)
        tz = zone(self.spec.timezone)
        return frozenset(s.astimezone(UTC) for s in starts if s.astimezone(tz).date() not in skipped)

    def same_series(self, occurrences: Iterable[datetime]) -> bool:
        """Whether Zoom's upcoming occurrences are this meeting's series, the end aside: the same instants up
        to where the shorter of the two ends (so the same weekdays, local time, zone and rule).

        How a key is told apart from another of the same host and topic, and how a meeting made with another
        end is still recognised: the seed script sent ``end_date`` as ``<end_date>T00:00:00Z``, which drops
        the last meeting east of UTC. Whether the ends differ is the plan's to say (an update naming the date).
        """
        have = sorted(o.astimezone(UTC) for o in occurrences)  # UTC: see unskipped
        if self.same_schedule(have):
            return True
        if not have:
            return False
        for wanted in (sorted(w.astimezone(UTC) for w in self.upcoming),
                       sorted(w.astimezone(UTC) for w in self.upcoming_as_zoom_anchors)):
            if not wanted:
                continue
            cutoff = min(have[-1], wanted[-1])
            head = [w for w in wanted if w <= cutoff]
            # Two occurrences at least (when there are two): one shared start alone says little of a series.
            if len(head) >= min(2, len(wanted), len(have)) and head == [o for o in have if o <= cutoff]:
                return True
        return False

    @property
    def ignored(self) -> tuple[str, ...]:
        return tuple(getattr(self.spec, "ignore_changes", ()) or ())


# ---------------------------------------------------------------------------------------- occurrences


@dataclass(frozen=True)
class OccurrenceChange:
    """One occurrence call: cancel (DELETE ?occurrence_id=) or move (PATCH ?occurrence_id=)."""

    op: str  # "cancel" | "move"
    date: str  # the meeting's local date of the occurrence
    occurrence_id: str  # Zoom's id: the series start in epoch milliseconds
    why: str  # "skip_dates" | "override" | "moved_in_zoom"
    start_time: str | None = None  # move: the new start, UTC ...Z
    duration: int | None = None
    agenda: str | None = None
    notify: bool = False  # cancel: email the registrants
    local_time: str = ""  # move: the new start on the meeting's clock, for people

    def text(self) -> str:
        if self.op == "cancel":
            return f"cancel occurrence {self.date}" + (" (registrants are emailed)" if self.notify else "")
        parts = [f"to {self.local_time}"] if self.local_time else []
        if self.duration is not None:
            parts.append(f"{self.duration} min")
        if self.agenda is not None:
            parts.append("own agenda")
        back = " back" if self.why == "moved_in_zoom" else ""
        tail = " (moved in Zoom)" if self.why == "moved_in_zoom" else ""
        return f"move occurrence {self.date}{back} " + ", ".join(parts) + tail

    def body(self) -> dict[str, Any]:
        """The occurrence PATCH body: only the fields Zoom changes per occurrence."""
        body: dict[str, Any] = {}
        if self.start_time is not None:
            body["start_time"] = self.start_time
        if self.duration is not None:
            body["duration"] = self.duration
        if self.agenda is not None:
            body["agenda"] = self.agenda
        return body


def occurrence_id_of(start: datetime) -> str:
    return str(int(start.timestamp() * 1000))


def occurrence_changes(want: DesiredMeeting, live: LiveMeeting | None,
                       applied: Mapping[str, Any] | None = None) -> tuple[list[OccurrenceChange], list[str]]:
    """The occurrence calls that make Zoom's occurrences the file's (skips cancelled, overrides moved,
    occurrences moved in Zoom moved back), and a sentence per occurrence cancelled in Zoom but not in the
    file (Zoom cannot restore one).

    ``live`` None (no refresh, or not created yet): compared with ``applied``, the record the state keeps of
    the skips and overrides already applied.
    """
    spec = want.spec
    tz = zone(spec.timezone)
    applied = applied if isinstance(applied, Mapping) else {}
    done_skips = set(applied.get("skip_dates") or ()) if live is None else set()
    done_overrides = {o.get("date"): o for o in applied.get("overrides") or () if isinstance(o, dict)}
    items = {o.original: o for o in live.occurrence_items} if live is not None else {}
    skipped = set(spec.skip_dates)
    overrides = {o.date: o for o in spec.overrides}
    ops: list[OccurrenceChange] = []
    drift: list[str] = []
    for base in want.upcoming:
        day = base.date()
        text = day.isoformat()
        have = items.get(base.astimezone(UTC))
        if live is not None and items and have is None:
            continue  # not one of Zoom's: the schedule diff covers it
        if day in skipped:
            if (have is None and text not in done_skips) or (have is not None and have.status != "deleted"):
                ops.append(OccurrenceChange("cancel", text, occurrence_id_of(base), "skip_dates",
                                            notify=spec.notify_on_cancel))
            continue
        if have is not None and have.status == "deleted":
            drift.append(f"occurrence {text} was cancelled in Zoom, not in the meetings file; Zoom cannot restore "
                         f"a cancelled occurrence: add {text} to skip_dates to accept it (apply leaves it "
                         "cancelled), or recreate the meeting to get it back (new meeting id and links)")
            continue
        override = overrides.get(day)
        start = datetime.combine(day, override.start_time, tz) if override and override.start_time else base
        duration = override.duration if override and override.duration else spec.duration
        agenda = override.agenda if override else None
        if have is not None:
            moved = have.start != start.astimezone(UTC) or (have.duration is not None and have.duration != duration)
            if override is not None and not moved and (
                    agenda is None or done_overrides.get(text) == _override_view(override)):
                continue
            if override is None and not moved:
                continue
        elif override is None or done_overrides.get(text) == _override_view(override):
            continue
        ops.append(OccurrenceChange(
            "move", text, have.occurrence_id if have is not None else occurrence_id_of(base),
            "override" if override is not None else "moved_in_zoom", utc_text(start), duration, agenda,
            local_time=start.strftime("%H:%M")))
    return ops, drift


def _zoom_anchored(upcoming: tuple[datetime, ...]) -> frozenset[datetime]:
    if not upcoming:
        return frozenset()
    first = upcoming[0]
    moved = first.astimezone(UTC).astimezone(first.tzinfo)
    if moved.replace(tzinfo=None) == first.replace(tzinfo=None):
        return frozenset(upcoming)
    return frozenset(datetime.combine(s.date(), moved.timetz()) for s in upcoming)
