"""The CSV the seed script wrote, exported from the state file (one row per managed meeting)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from zoomstate.crashpoints import CrashPoints
from zoomstate.state import State, atomic_write, refuse_link_or_folder, remove_stale_temps

# The seed script's columns, in its order; zoomstate's own columns only after them.
SEED_COLUMNS = (
    "created_at",
    "host_email",
    "meeting_id",
    "meeting_topic",
    "start_time",
    "timezone",
    "duration",
    "join_url",
    "registration_url",
    "recurrence_type",
    "occurrences",
)
EXTRA_COLUMNS = ("key",)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def rows(state: State) -> list[dict[str, str]]:
    out = []
    for key, m in sorted(state.meetings.items(), key=lambda kv: (kv[1].created_at, kv[0])):
        o = m.outputs
        out.append({
            "created_at": m.created_at,
            "host_email": m.host_email,
            "meeting_id": str(m.meeting_id),
            "meeting_topic": m.topic,
            "start_time": o.get("start_time", ""),
            "timezone": o.get("timezone", ""),
            "duration": o.get("duration", ""),
            "join_url": o.get("join_url", ""),
            "registration_url": o.get("registration_url", ""),
            "recurrence_type": o.get("recurrence_type", ""),
            "occurrences": o.get("occurrences", ""),
            "key": key,
        })
    return out


def render_csv(state: State) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*SEED_COLUMNS, *EXTRA_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in rows(state):
        writer.writerow({k: neutralise(v) for k, v in row.items()})
    return buffer.getvalue()


def write_csv(state: State, path: str | Path) -> Path:
    """Rewrite the CSV atomically from the state (never through a symbolic link; a disk failure is a StateError
    naming the path, with the old CSV left in place). Callers hold the state lock."""
    path = Path(path)
    remove_stale_temps(path)  # left by a run killed mid-write
    atomic_write(path, render_csv(state).encode("utf-8"), before_replace=_crash_point, what="the CSV file")
    return path


def check_csv_path(path: str | Path) -> None:
    """Refuse, before anything changes, a CSV path that is a symbolic link or a folder (StateError)."""
    refuse_link_or_folder(Path(path), "the CSV file", link_hint="remove the link, or set output_file to the real path")


def _crash_point() -> None:
    # Crash tests: ZOOMSTATE_CRASH_AT="during-csv:1" kills us with the new CSV written but not yet in place.
    CrashPoints.from_env().reach("during-csv")
