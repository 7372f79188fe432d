"""The CSV the seed script wrote, exported from the state file (one row per managed meeting).

Rows zoomstate does not own stay: a row whose ``key`` cell is empty (the seed script's rows, other tools'
rows, earlier years') and whose meeting is not managed is written again unchanged, in its order, after
zoomstate's own rows. A row with a ``key`` is zoomstate's: it is rewritten from the state, or dropped when
the state no longer has its meeting. The first rewrite of a CSV without a ``key`` column (one zoomstate did
not write) keeps a copy of it beside it, ``<name>.seed-backup``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from zoomstate.crashpoints import CrashPoints
from zoomstate.state import State, StateError, atomic_write, disk_error, refuse_link_or_folder, remove_stale_temps

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
# The column that marks zoomstate's own rows (and a CSV zoomstate wrote).
OWN_MARKER = "key"
BACKUP_SUFFIX = ".seed-backup"
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


@dataclass
class ExistingCsv:
    """The CSV as found before a rewrite: whether zoomstate wrote it, its columns, the rows it does not own."""

    written_by_zoomstate: bool
    columns: list[str] = field(default_factory=list)
    foreign: list[dict[str, str]] = field(default_factory=list)  # rows without a key, in file order


def read_existing(path: str | Path) -> ExistingCsv | None:
    """The CSV at ``path`` before it is rewritten (None when there is none). A file that cannot be read as a
    CSV is a StateError naming it: it is never written over."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise disk_error(path, exc, "read") from None
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise StateError(f"the CSV file {path} cannot be read as a CSV ({exc}), so it was not written over: "
                         "move it away (zoomstate then writes a new one) or repair it") from None
    foreign = [{k: v for k, v in row.items() if k is not None} for row in rows if not (row.get(OWN_MARKER) or "")]
    return ExistingCsv(OWN_MARKER in columns, columns, foreign)


def render_csv(state: State, existing: ExistingCsv | None = None) -> str:
    """zoomstate's rows from the state, then the rows it does not own (from ``existing``) whose meeting it
    does not manage, unchanged and in their order. Columns another tool added stay, after zoomstate's."""
    managed = {str(m.meeting_id) for m in state.meetings.values()}
    columns = [*SEED_COLUMNS, *EXTRA_COLUMNS]
    kept: list[dict[str, str]] = []
    if existing is not None:
        columns += [c for c in existing.columns if c and c not in columns]
        kept = [row for row in existing.foreign if (row.get("meeting_id") or "").strip() not in managed]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows(state):
        writer.writerow({k: neutralise(v) for k, v in row.items()})
    for row in kept:
        writer.writerow({k: neutralise(v) for k, v in row.items()})
    return buffer.getvalue()


def backup_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


def write_csv(state: State, path: str | Path) -> Path:
    """Rewrite the CSV atomically from the state, keeping the rows zoomstate does not own (never through a
    symbolic link; a disk failure is a StateError naming the path, with the old CSV left in place). The first
    rewrite of a CSV zoomstate did not write keeps a copy of it. Callers hold the state lock."""
    path = Path(path)
    remove_stale_temps(path)  # left by a run killed mid-write
    refuse_link_or_folder(path, "the CSV file")  # before reading it: a link's target is not ours
    existing = read_existing(path)
    if existing is not None and not existing.written_by_zoomstate:
        backup = backup_path(path)
        refuse_link_or_folder(backup, "the CSV backup")
        if not backup.exists():
            atomic_write(backup, path.read_bytes(), what="the CSV backup")
    atomic_write(path, render_csv(state, existing).encode("utf-8"), before_replace=_crash_point, what="the CSV file")
    return path


def check_csv_path(path: str | Path) -> None:
    """Refuse, before anything changes, a CSV path that is a symbolic link or a folder, or a CSV that cannot be
    read (its foreign rows could not be kept) (StateError)."""
    refuse_link_or_folder(Path(path), "the CSV file", link_hint="remove the link, or set output_file to the real path")
    read_existing(path)


def _crash_point() -> None:
    # Crash tests: ZOOMSTATE_CRASH_AT="during-csv:1" kills us with the new CSV written but not yet in place.
    CrashPoints.from_env().reach("during-csv")
