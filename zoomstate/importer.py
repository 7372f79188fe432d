"""Bring existing Zoom meetings under management without creating anything: one by id, or every meeting
the seed script's CSV lists (matched to the meetings file by host and topic, checked with GET)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from zoomstate.export import FORMULA_PREFIXES
from zoomstate.model import DesiredConfig
from zoomstate.plan import PlanError
from zoomstate.state import ManagedMeeting, State, StateStore
from zoomstate.zoom import ZoomClient, ZoomError
from zoomstate.zoombody import live_meeting, managed_view, outputs_of

SEED_CSV_COLUMNS = {"meeting_id", "host_email", "meeting_topic"}



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
    meeting = client.get_meeting(meeting_id)
    host = str(meeting.get("host_email") or spec.host_email)
    if host.lower() != spec.host_email.lower():
        raise PlanError(f"meeting {meeting_id} is hosted by {host}, but {key} says host_email "
                        f"{spec.host_email}: fix the meetings file or import another meeting")
    view = managed_view(spec)
    view["prevent_delete"] = spec.prevent_delete
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
                     account_id: str | None = None) -> tuple[list[tuple[str, int]], list[str]]:
    """Import each row's meeting as the key whose host and topic match. Returns (imported, skipped notes)."""
    by_host_topic = {(s.host_email.lower(), s.topic): k for k, s in desired.meetings.items()}
    imported: list[tuple[str, int]] = []
    skipped: list[str] = []
    for line, row in enumerate(rows, start=2):
        where = f"{source}:{line}"
        key = by_host_topic.get((row["host_email"].strip().lower(), row["meeting_topic"]))
        if key is None:
            skipped.append(f"{where}: no meeting in {desired.path} has host {row['host_email']} and "
                           f"topic {row['meeting_topic']!r}: add it, then import again")
            continue
        try:
            meeting_id = int(row["meeting_id"])
        except ValueError:
            skipped.append(f"{where}: meeting_id {row['meeting_id']!r} is not a number")
            continue
        if key in state.meetings:
            if state.meetings[key].meeting_id != meeting_id:
                skipped.append(f"{where}: {key} is already managed as meeting {state.meetings[key].meeting_id}")
            continue
        try:
            import_meeting(desired, state, store, client, key, meeting_id, now, account_id=account_id)
        except (PlanError, ZoomError) as exc:
            skipped.append(f"{where}: {exc}")
            continue
        imported.append((key, meeting_id))
    return imported, skipped
