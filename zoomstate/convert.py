"""Write meetings.yaml text: from the seed script's JSON config (`convert`), or a starter file (`init`).

Credentials in the seed config are never copied: the output says which environment variables to set.
"""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zoomstate.desired import derive_key
from zoomstate.document import load_document

SCHEMA_NAME = "meetings.schema.json"
HEADER = """\
# yaml-language-server: $schema={schema}
#
# Recurring Zoom meetings managed by zoomstate. `zoomstate plan` shows what would change,
# `zoomstate apply` makes it so. Credentials never go in this file: set ZOOM_ACCOUNT_ID,
# ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET in the environment.
"""
# Order of fields in written meetings: identity first, then schedule, then settings.
FIELD_ORDER = (
    "key", "host_email", "topic", "agenda", "start_date", "start_time", "duration", "timezone", "recurrence_type",
    "repeat_interval", "weekly_days", "monthly_day", "monthly_week", "monthly_week_day", "end_date", "occurrences",
)


class _Dumper(yaml.SafeDumper):
    """Block style, no aliases, keys in the order given."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=110)


def _ordered(meeting: dict[str, Any]) -> dict[str, Any]:
    first = {k: meeting[k] for k in FIELD_ORDER if k in meeting}
    return {**first, **{k: v for k, v in meeting.items() if k not in first}}


def schema_path() -> Path:
    """The JSON Schema of meetings.yaml installed with zoomstate."""
    return Path(str(resources.files("zoomstate.schemas").joinpath(SCHEMA_NAME)))


def schema_reference(folder: Path) -> str:
    """How a file written in ``folder`` names the installed schema so that editors find it offline.

    A relative path when the schema lies inside that folder (a checkout of zoomstate: the reference survives
    moving or cloning the folder), else the schema's absolute path (an installed zoomstate).
    """
    schema = schema_path().resolve()
    try:
        return schema.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return schema.as_posix()


def header(schema: str | None = None) -> str:
    """The first lines of a written meetings file; ``schema`` as from :func:`schema_reference`."""
    return HEADER.format(schema=schema or schema_path().resolve().as_posix())


def convert_seed(path: str | Path, *, schema: str | None = None) -> tuple[str, list[str]]:
    """The meetings.yaml text equivalent to a seed JSON config, and notes for the user."""
    doc = load_document(path)
    root = doc.root
    notes: list[str] = []
    meetings = root.get("meetings") or []
    used: set[str] = set()
    out_meetings = []
    for raw in meetings:
        meeting = dict(raw) if isinstance(raw, dict) else {}
        key = meeting.get("key") or derive_key(str(meeting.get("host_email", "")), str(meeting.get("topic", "")))
        base, n = key, 2
        while key in used:
            key = f"{base[:60]}-{n}"
            n += 1
        used.add(key)
        meeting["key"] = key
        out_meetings.append(_ordered(meeting))
    top: dict[str, Any] = {}
    for name in ("output_file", "default_password"):
        if name in root:
            top[name] = root[name]
    if "defaults" in root:
        top["defaults"] = root["defaults"]
    top["meetings"] = out_meetings
    if "zoom_api" in root:
        notes.append("left out the zoom_api credentials: set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and "
                     "ZOOM_CLIENT_SECRET in the environment (or your CI's secrets) instead")
    notes.append(f"gave {len(out_meetings)} meeting(s) a key (their identity: keep it when you rename a topic)")
    return header(schema) + "\n" + _dump(top), notes


def starter(today: date, *, schema: str | None = None) -> str:
    """A commented starter meetings.yaml whose dates are in the future."""
    monday = today + timedelta(days=7 - today.weekday())  # next Monday
    first_of_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return header(schema) + f"""
# Where `zoomstate apply` writes the CSV of meetings with their join and registration links.
output_file: zoom_meetings.csv

# Values every meeting gets unless it sets its own.
defaults:
  timezone: America/New_York   # an IANA time zone
  duration: 60                 # minutes
  waiting_room: true
  enable_registration: true    # registration on, auto-approved (approval_type 0)

meetings:
  # Every Monday at 09:00, through the end date (inclusive). Weekdays: 1 = Sunday ... 7 = Saturday.
  - key: team-sync                  # the meeting's identity: keep it when you rename the topic
    host_email: host@example.com    # a user in your Zoom account
    topic: Team Sync
    agenda: Weekly team synchronisation
    start_date: {monday.isoformat()}
    start_time: 09:00
    duration: 45
    recurrence_type: weekly
    weekly_days: "2"
    end_date: {(monday + timedelta(weeks=20)).isoformat()}

  # On the 15th of each month, ten times, registration off.
  - key: monthly-review
    host_email: host@example.com
    topic: Monthly Review
    start_date: {first_of_month.replace(day=15).isoformat()}
    start_time: 15:00
    recurrence_type: monthly
    monthly_day: 15
    occurrences: 10
    enable_registration: false
"""
