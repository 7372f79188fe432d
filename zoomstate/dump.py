"""Existing recurring Zoom meetings -> meetings.yaml text (`zoomstate dump`). Pure: live views in, text out.

Each meeting gets a derived key and only the fields that differ from the defaults, so the next plan adopts
every one of them and changes nothing. Passcodes are never written (the file would then hold secrets):
a meeting without ``password`` leaves Zoom's passcode alone.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from zoomstate import convert
from zoomstate.desired import derive_key
from zoomstate.model import MeetingSpec
from zoomstate.zoombody import MANAGED_SETTINGS, LiveMeeting, zone

_DEFAULTS = {f.name: f.default for f in fields(MeetingSpec)}


def meeting_entry(live: LiveMeeting, now: datetime, key: str) -> dict[str, Any] | None:
    """One meetings.yaml entry for a live type-8 meeting, or None when it has nothing upcoming or no rule."""
    tz = zone(live.timezone)
    upcoming = live.upcoming(now)
    if live.rule is None or tz is None or not upcoming:
        return None
    first = upcoming[0].astimezone(tz)
    rule = live.rule
    entry: dict[str, Any] = {"key": key, "host_email": live.host_email, "topic": live.topic}
    if live.agenda:
        entry["agenda"] = live.agenda
    entry["start_date"] = first.date().isoformat()
    entry["start_time"] = first.strftime("%H:%M")
    if live.duration is not None and live.duration != _DEFAULTS["duration"]:
        entry["duration"] = live.duration
    entry["timezone"] = live.timezone
    entry["recurrence_type"] = rule.kind
    if rule.interval != 1:
        entry["repeat_interval"] = rule.interval
    if rule.kind == "weekly":
        entry["weekly_days"] = ",".join(str(d) for d in rule.weekly_days)
    elif rule.kind == "monthly":
        if rule.monthly_week is not None:
            entry["monthly_week"], entry["monthly_week_day"] = rule.monthly_week, rule.monthly_week_day
        else:
            entry["monthly_day"] = rule.monthly_day
    if live.end_date_time is not None:
        entry["end_date"] = upcoming[-1].astimezone(tz).date().isoformat()
    else:
        entry["occurrences"] = len(upcoming)
    settings = live.settings
    approval = settings.get("approval_type", 2)
    if approval == 2:
        entry["enable_registration"] = False
    else:
        if approval != _DEFAULTS["approval_type"]:
            entry["approval_type"] = approval
        registration_type = settings.get("registration_type")
        if registration_type is not None and registration_type != _DEFAULTS["registration_type"]:
            entry["registration_type"] = registration_type
    for name in MANAGED_SETTINGS:
        if name == "approval_type" or name not in settings:
            continue
        if settings[name] != _DEFAULTS[name]:
            entry[name] = settings[name]
    return entry


def meetings_yaml(lives: list[LiveMeeting], now: datetime, *, schema: str | None = None) -> tuple[str, list[str]]:
    """The meetings.yaml text for ``lives`` (in host, then creation order) and notes on what was left out."""
    used: set[str] = set()
    entries, notes = [], []
    for live in sorted(lives, key=lambda m: (m.host_email.lower(), m.created_at or now, m.meeting_id)):
        key = base = derive_key(live.host_email, live.topic)
        n = 2
        while key in used:
            key = f"{base[:60]}-{n}"
            n += 1
        entry = meeting_entry(live, now, key)
        if entry is None:
            notes.append(f"left out meeting {live.meeting_id} ({live.topic!r}): no upcoming occurrences or no "
                         "recurrence zoomstate can read")
            continue
        used.add(key)
        entries.append(entry)
    notes.append(f"wrote {len(entries)} meeting(s); run `zoomstate plan` to adopt them (nothing is created)")
    return convert.header(schema) + "\n" + convert._dump({"meetings": entries}), notes
