"""Bring existing Zoom meetings under management without creating anything: one by id, or every meeting
the seed script's CSV lists.

A CSV row is paired with a key only when Zoom agrees: the keys with the row's host and topic are the
candidates, and the live meeting's series (weekdays, local time, timezone, recurrence; the end aside, as the
seed script sent end dates as midnight UTC) must be that key's. Two keys of one host and topic are told apart
that way. Rows whose meeting is gone from Zoom or has no meeting left (earlier years) are history: left in
the CSV, not imported. Of several rows matching one key, the oldest meeting is imported; the others are
copies, which `zoomstate plan` lists as duplicates.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from zoomstate import calendar
from zoomstate.export import FORMULA_PREFIXES
from zoomstate.model import DesiredConfig, MeetingSpec
from zoomstate.plan import PlanError
from zoomstate.state import ManagedMeeting, State, StateStore, seal_view_passcode
from zoomstate.zoom import MeetingNotFound, ZoomClient, ZoomError
from zoomstate.zoombody import DesiredMeeting, LiveMeeting, live_meeting, managed_view, outputs_of, same_zone

SEED_CSV_COLUMNS = {"meeting_id", "host_email", "meeting_topic"}


@dataclass
class CsvImport:
    """What `import --csv` did with each row."""

    imported: list[tuple[str, int]] = field(default_factory=list)  # (key, meeting id)
    skipped: list[str] = field(default_factory=list)  # rows that need the user: no key, several keys, errors
    left: list[str] = field(default_factory=list)  # rows left as they are: history, copies, already managed


def import_meeting(desired: DesiredConfig, state: State, store: StateStore, client: ZoomClient, key: str,
                   meeting_id: int, now: datetime, *, account_id: str | None = None) -> None:
    """Record one live meeting as KEY, after checking it exists and has the host the file says."""
    spec = desired.meetings.get(key)
    if spec is None:
        raise PlanError(f"no meeting with key {key!r} in {desired.path}: add it there first, "
                        "then import the Zoom meeting as that key")
    if key in state.meetings:
        raise PlanError(f"{key} is already managed (meeting {state.meetings[key].meeting_id}); "
                        f"run `zoomstate state rm {key}` first to import another meeting as it")
    taken = state.by_meeting_id()
    if meeting_id in taken:
        raise PlanError(f"meeting {meeting_id} is already managed as {taken[meeting_id]}")
    _record(state, store, key, spec, client.get_meeting(meeting_id), meeting_id, now, account_id)


def _record(state: State, store: StateStore, key: str, spec: MeetingSpec, meeting: dict[str, Any], meeting_id: int,
            now: datetime, account_id: str | None) -> None:
    host = str(meeting.get("host_email") or spec.host_email)
    if host.lower() != spec.host_email.lower():
        raise PlanError(f"meeting {meeting_id} is hosted by {host}, but {key} says host_email "
                        f"{spec.host_email}: fix the meetings file or import another meeting")
    view = {**managed_view(spec), "prevent_delete": spec.prevent_delete}
    if "password" in view:
        view = seal_view_passcode(view, state.ensure_passcode_key())
    if account_id and state.account_id is None:
        state.account_id = account_id
    state.meetings[key] = ManagedMeeting(
        key=key, meeting_id=meeting_id, host_email=spec.host_email, topic=spec.topic,
        created_at=str(meeting.get("created_at", "")), managed=view, outputs=outputs_of(live_meeting(meeting)),
        adopted=True, updated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    store.save(state)


def read_seed_csv(path: Path) -> list[dict[str, str]]:
    """The CSV's rows as the values they hold: a cell zoomstate wrote as ``'=...`` (see export.neutralise)
    reads back as ``=...``; a missing cell reads as empty and cells past the header are left out."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [{name: _cell_value(value) for name, value in row.items() if name is not None}
                    for row in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PlanError(f"{path}: cannot read it as the seed script's CSV ({exc})") from None
    if rows and not SEED_CSV_COLUMNS <= set(rows[0]):
        raise PlanError(f"{path}: expected the seed script's columns meeting_id, host_email, meeting_topic")
    return rows


def _cell_value(text: str | None) -> str:
    if text is None:
        return ""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def import_seed_rows(desired: DesiredConfig, state: State, store: StateStore, client: ZoomClient,
                     rows: list[dict[str, str]], source: str, now: datetime, *,
                     account_id: str | None = None) -> CsvImport:
    """Import each row's meeting as the key Zoom agrees it is (see the module's docstring)."""
    by_host_topic: dict[tuple[str, str], list[str]] = {}
    for key, spec in desired.meetings.items():
        by_host_topic.setdefault((spec.host_email.lower(), spec.topic), []).append(key)
    wants = {key: DesiredMeeting(spec, now) for key, spec in desired.meetings.items()}
    report = CsvImport()
    taken = state.by_meeting_id()
    found: dict[str, list[tuple[LiveMeeting, dict[str, Any], str]]] = {}  # key -> (live, body, where) per row
    seen: set[int] = set()
    for line, row in enumerate(rows, start=2):
        where = f"{source}:{line}"
        host, topic = (row.get("host_email") or "").strip(), row.get("meeting_topic") or ""
        keys = by_host_topic.get((host.lower(), topic), [])
        if not keys:
            report.skipped.append(f"{where}: no meeting in {desired.path} has host {host} and topic {topic!r}: "
                                  "add it, then import again")
            continue
        try:
            meeting_id = int((row.get("meeting_id") or "").strip())
        except ValueError:
            report.skipped.append(f"{where}: meeting_id {row.get('meeting_id')!r} is not a number")
            continue
        if meeting_id in seen:
            continue  # the same meeting on two rows: said once
        seen.add(meeting_id)
        if meeting_id in taken:
            if taken[meeting_id] not in keys:
                report.skipped.append(f"{where}: meeting {meeting_id} is already managed as {taken[meeting_id]}")
            continue
        try:
            body = client.get_meeting(meeting_id)
        except MeetingNotFound:
            report.left.append(f"{where}: meeting {meeting_id} no longer exists in Zoom (an earlier run's?): "
                               "not imported, its row stays in the CSV")
            continue
        except ZoomError as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        live = live_meeting(body)
        if live.host_email and live.host_email.lower() != host.lower():
            report.skipped.append(f"{where}: meeting {meeting_id} is hosted by {live.host_email} in Zoom, not {host}")
            continue
        upcoming = live.upcoming(now)
        if not upcoming:
            report.left.append(f"{where}: meeting {meeting_id} has no meeting left (an earlier year's series): "
                               "not imported, its row stays in the CSV")
            continue
        matches = [k for k in keys
                   if same_zone(live.timezone, wants[k].spec.timezone) and wants[k].same_series(upcoming)]
        if not matches:
            schedules = "; ".join(f"{k}: {calendar.summary(wants[k].spec, now)}" for k in keys)
            report.skipped.append(f"{where}: meeting {meeting_id} ({_series_text(live, upcoming)}) has the host and "
                                  f"topic of {', '.join(keys)} but not the schedule ({schedules}): not imported; "
                                  "fix the meetings file, or import it by id if it is meant to change")
            continue
        if len(matches) > 1:
            report.skipped.append(f"{where}: meeting {meeting_id} matches {', '.join(matches)} (same host, topic and "
                                  "schedule): not imported; give them different schedules, or run "
                                  f"`zoomstate import KEY {meeting_id}`")
            continue
        found.setdefault(matches[0], []).append((live, body, where))
    for key, rows_found in found.items():
        rows_found.sort(key=lambda f: (f[0].created_at is None, f[0].created_at or now, f[0].meeting_id))
        managed = state.meetings.get(key)
        if managed is None:
            live, body, where = rows_found[0]
            _record(state, store, key, desired.meetings[key], body, live.meeting_id, now, account_id)
            report.imported.append((key, live.meeting_id))
            copies, kept_id = rows_found[1:], live.meeting_id
        else:
            copies, kept_id = rows_found, managed.meeting_id
        for live, _, where in copies:
            report.left.append(f"{where}: meeting {live.meeting_id} is a copy of {key}'s meeting {kept_id} (same host, "
                               "topic and schedule, made later): not imported; `zoomstate plan` lists it as a "
                               "duplicate")
    return report


def _series_text(live: LiveMeeting, upcoming: tuple[datetime, ...]) -> str:
    first = upcoming[0].astimezone(live.local_start.tzinfo) if live.local_start is not None else upcoming[0]
    return f"next on {first.strftime('%a %Y-%m-%d %H:%M')} {live.timezone}, {len(upcoming)} left"
