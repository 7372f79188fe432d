"""A MeetingSpec in Zoom's terms: the request body, and the managed view used to compare with live meetings.

The managed view holds only what meetings.yaml controls, normalised so that the desired side and a live
meeting (GET /meetings/{id}) can be compared with ``==``: recurrence as a rule (not the moving start of the
next occurrence), local time of day in the meeting's timezone, and the end of the series as a local date.
Zoom's outputs (join_url, generated passcodes, registration_url, occurrences) are never part of it.
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zoomstate import calendar
from zoomstate.model import MeetingSpec

RECURRENCE_TYPES = {"daily": 1, "weekly": 2, "monthly": 3}
RECURRENCE_NAMES = {v: k for k, v in RECURRENCE_TYPES.items()}
MEETING_TYPE_RECURRING_FIXED = 8

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


_managed_settings_of = operator.attrgetter(*MANAGED_SETTINGS)  # one C call for all ten


def settings_for(spec: MeetingSpec) -> dict[str, Any]:
    settings: dict[str, Any] = dict(zip(MANAGED_SETTINGS, _managed_settings_of(spec), strict=True))
    # Zoom forces join_before_host off while the waiting room is on; sending what Zoom keeps avoids drift.
    settings["join_before_host"] = spec.join_before_host and not spec.waiting_room
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


def _recurrence_rule(spec: MeetingSpec) -> dict[str, Any]:
    """Zoom's recurrence rule with the type by name, as the live side reads it back (see _live_rule)."""
    return {**calendar.rule_body(calendar.rule_of(spec)), "type": spec.recurrence_type}


def managed_view(spec: MeetingSpec) -> dict[str, Any]:
    """What the YAML says, in comparable form. Independent of the current time."""
    view: dict[str, Any] = {
        "topic": spec.topic,
        "agenda": spec.agenda,
        "duration": spec.duration,
        "timezone": spec.timezone,
        "local_time": spec.start_time.strftime("%H:%M"),
        "recurrence": _recurrence_rule(spec),
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


def identity(view: dict[str, Any]) -> dict[str, Any]:
    """The part of a managed view that identifies a meeting when adopting or recovering a create."""
    return {
        "topic": view.get("topic"),
        "timezone": view.get("timezone"),
        "local_time": view.get("local_time"),
        "recurrence": view.get("recurrence"),
    }


def live_view(meeting: dict[str, Any], like: dict[str, Any] | None = None) -> dict[str, Any]:
    """A live meeting (GET response) in the same comparable form as ``managed_view``.

    ``like`` is the desired view: keys it lacks (password) are left out, and the end of the series is
    expressed in the same form (end date or last occurrence date) so that equal things compare equal.
    """
    tz_name = str(meeting.get("timezone") or "UTC")
    tz = _zone(tz_name)
    start = _parse_utc(meeting.get("start_time"))
    local_start = start.astimezone(tz) if start and tz else None
    recurrence = meeting.get("recurrence") or {}
    settings = meeting.get("settings") or {}
    view: dict[str, Any] = {
        "topic": meeting.get("topic", ""),
        "agenda": meeting.get("agenda", "") or "",
        "duration": meeting.get("duration"),
        "timezone": tz_name,
        "local_time": _local_time(local_start, like),
        "recurrence": _live_rule(recurrence) if meeting.get("type") == MEETING_TYPE_RECURRING_FIXED else {
            "type": f"zoom meeting type {meeting.get('type')}"},
        "end": _live_end(meeting, recurrence, tz, like),
        "settings": _live_settings(settings),
    }
    if like is None or "password" in like:
        view["password"] = meeting.get("password", "")
    return view


def _local_time(local_start: datetime | None, like: dict[str, Any] | None) -> str | None:
    """The live meeting's local start time. When the desired time does not exist on the live start's date
    (a DST gap), Zoom moves it forward by the gap; that is the desired time, not drift."""
    if local_start is None:
        return None
    shown = local_start.strftime("%H:%M")
    wanted = (like or {}).get("local_time")
    if wanted and wanted != shown:
        hour, minute = (int(part) for part in wanted.split(":"))
        naive = datetime.combine(local_start.date(), time(hour, minute))
        tz = local_start.tzinfo
        as_written = naive.replace(tzinfo=tz)
        if as_written.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive and (
                as_written.astimezone(UTC) == local_start.astimezone(UTC)
                or as_written.astimezone(UTC).astimezone(tz).strftime("%H:%M") == shown):
            return wanted
    return shown


def _live_rule(recurrence: dict[str, Any]) -> dict[str, Any]:
    rtype = RECURRENCE_NAMES.get(recurrence.get("type"), f"zoom recurrence type {recurrence.get('type')}")
    rule: dict[str, Any] = {"type": rtype, "repeat_interval": int(recurrence.get("repeat_interval") or 1)}
    if rtype == "weekly":
        days = sorted({int(d) for d in str(recurrence.get("weekly_days") or "1").split(",") if d.strip()})
        rule["weekly_days"] = ",".join(str(d) for d in days)
    elif rtype == "monthly":
        if recurrence.get("monthly_week") not in (None, 0):
            rule["monthly_week"] = recurrence.get("monthly_week")
            rule["monthly_week_day"] = recurrence.get("monthly_week_day")
        else:
            rule["monthly_day"] = recurrence.get("monthly_day", 1)
    return rule


def _live_end(meeting: dict[str, Any], recurrence: dict[str, Any], tz: ZoneInfo | None,
              like: dict[str, Any] | None) -> dict[str, str]:
    wants_end_date = like is None or "end_date" in (like.get("end") or {})
    end_dt = _parse_utc(recurrence.get("end_date_time"))
    if wants_end_date and end_dt is not None and tz is not None:
        return {"end_date": end_dt.astimezone(tz).date().isoformat()}
    occurrences = [o for o in meeting.get("occurrences") or [] if o.get("status") != "deleted"]
    last = _parse_utc(occurrences[-1].get("start_time")) if occurrences else None
    if last is not None and tz is not None:
        return {"last_date": last.astimezone(tz).date().isoformat()}
    if end_dt is not None and tz is not None:
        return {"end_date": end_dt.astimezone(tz).date().isoformat()}
    return {"last_date": ""}


def _live_settings(settings: dict[str, Any]) -> dict[str, Any]:
    out = {name: settings.get(name) for name in MANAGED_SETTINGS}
    if settings.get("approval_type") != 2:
        out["registration_type"] = settings.get("registration_type", 1)
    return out


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse_utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def outputs_of(meeting: dict[str, Any]) -> dict[str, Any]:
    """Zoom's outputs worth keeping in state and the CSV (never start_url)."""
    recurrence = meeting.get("recurrence") or {}
    occurrences = [o for o in meeting.get("occurrences") or [] if o.get("status") != "deleted"]
    tz = _zone(str(meeting.get("timezone") or "UTC"))
    start = _parse_utc(meeting.get("start_time"))
    first = _parse_utc(occurrences[0].get("start_time")) if occurrences else start
    return {
        "join_url": meeting.get("join_url", ""),
        "registration_url": meeting.get("registration_url", ""),
        "start_time": first.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S") if first and tz else "",
        "timezone": meeting.get("timezone", ""),
        "duration": meeting.get("duration"),
        "recurrence_type": recurrence.get("type"),
        "occurrences": len(occurrences),
    }
